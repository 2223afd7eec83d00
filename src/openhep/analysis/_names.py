"""The names an expression can use: a source's columns, its NanoAOD collections, suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openhep.analysis._expression import Column

MAX_SUGGESTIONS = 20

#: The fields a four-vector is built from, in the order tried: an object needs all of the
#: spatial ones of one system, and a temporal one for mass/pt/eta/phi of a sum.
FOUR_VECTOR_SYSTEMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("pt", "eta", "phi"), ("mass", "m")),
    (("px", "py", "pz"), ("e", "energy")),
)


@dataclass(frozen=True)
class Collection:
    """A NanoAOD collection: ``Muon`` for the jagged columns ``Muon_pt``, ``Muon_eta``, ...

    ``fields`` maps a field (``pt``) to its column's name (``Muon_pt``); ``counter`` is the
    one-value-per-event column holding the number of objects (``nMuon``), when the source has it.
    """

    name: str
    fields: Mapping[str, str]
    counter: str | None

    def field_column(self, field: str) -> str | None:
        return self.fields.get(field)

    def field_ignoring_case(self, field: str) -> str | None:
        """The column of ``field`` matched without case (``Px`` for ``px``: the H->ZZ sample)."""
        exact = self.fields.get(field)
        if exact is not None:
            return exact
        for name, column in self.fields.items():
            if name.lower() == field:
                return column
        return None


class Namespace:
    """The columns of one source and the collections their names make."""

    def __init__(self, columns: Mapping[str, Column]) -> None:
        self.columns: dict[str, Column] = dict(columns)
        groups: dict[str, dict[str, str]] = {}
        for name, column in self.columns.items():
            prefix, sep, field = name.partition("_")
            if column.jagged and sep and prefix and field:
                groups.setdefault(prefix, {})[field] = name
        self.collections: dict[str, Collection] = {}
        for prefix, fields in groups.items():
            if prefix in self.columns:
                continue  # a column of that very name wins: it is what the user wrote
            counter_name = f"n{prefix}"
            counter = self.columns.get(counter_name)
            usable = counter is not None and not counter.jagged and counter.kind == "int"
            self.collections[prefix] = Collection(
                prefix, dict(sorted(fields.items())), counter_name if usable else None
            )

    def group_of(self, column: str) -> str:
        """The collection whose lists a jagged column holds (``Muon`` for ``Muon_pt``)."""
        prefix, sep, field = column.partition("_")
        return prefix if sep and prefix and field else column

    def names(self) -> list[str]:
        """Every name an expression may write bare: collections first, then columns."""
        return sorted(self.collections) + sorted(self.columns)


def suggest(word: str, candidates: Iterable[str], limit: int = MAX_SUGGESTIONS) -> tuple[str, ...]:
    """Names that exist, the closest to ``word`` first, then those it begins, then the rest."""
    pool = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(word, pool, n=limit, cutoff=0.6)
    lowered = word.lower()
    chosen = list(close)
    seen = set(chosen)
    # 'MET' -> MET_pt, MET_phi: a prefix is what NanoAOD names share, and difflib misses it.
    for name in pool:
        if len(chosen) >= limit:
            break
        if name not in seen and lowered and name.lower().startswith(lowered):
            chosen.append(name)
            seen.add(name)
    for name in pool:
        if len(chosen) >= limit:
            break
        if name not in seen:
            chosen.append(name)
            seen.add(name)
    return tuple(chosen)


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The few names worth writing into a message ('did you mean ...')."""
    return difflib.get_close_matches(word, list(dict.fromkeys(candidates)), n=n, cutoff=0.6)
