"""One iSpy event's document checked once and given a typed view: its collections' columns
and rows, its associations, each collection found by its base name whatever its version."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from openhep.events._errors import EventFileError

#: iSpy's column types (CMSSW ``IgCollection``): what each holds. Any other is an error.
COLUMN_TYPES = frozenset({"int", "long", "double", "float", "string", "bool", "v2d", "v3d", "v4d"})
_VECTOR_LENGTH = {"v2d": 2, "v3d": 3, "v4d": 4}
_VERSION = re.compile(r"_V\d+$")
#: The longest collection or column name accepted (real ones are under 40 characters).
MAX_NAME_LENGTH = 200


def base_name(collection: str) -> str:
    """``Tracks_V3`` → ``Tracks``: collections are matched by this, never by one version."""
    return _VERSION.sub("", collection)


@dataclass(frozen=True)
class Collection:
    """One collection: its name, its columns' names and types, its rows (lists, one value a
    column, checked against the column's type; NaN and infinities are None)."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[list[Any]]

    def index(self, column: str) -> int | None:
        try:
            return self.columns.index(column)
        except ValueError:
            return None

    def has(self, *columns: str) -> bool:
        return all(c in self.columns for c in columns)

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Each row (with its position) as a dict of column → value."""
        for n, row in enumerate(self.rows):
            yield n, dict(zip(self.columns, row, strict=True))


@dataclass(frozen=True)
class Association:
    """Pairs of (collection position in ``Types``, row) → (collection position, row)."""

    name: str
    pairs: list[tuple[tuple[int, int], tuple[int, int]]]


@dataclass(frozen=True)
class IgDocument:
    """One event's collections (in the order of ``Types``, which associations refer to) and
    associations."""

    collections: list[Collection]
    associations: dict[str, Association]

    def by_base(self, base: str) -> list[Collection]:
        """The collections whose base name is ``base`` (any version), in file order."""
        return [c for c in self.collections if base_name(c.name) == base]

    def first(self, base: str) -> Collection | None:
        found = self.by_base(base)
        return found[0] if found else None

    def association(self, base: str) -> list[Association]:
        return [a for name, a in self.associations.items() if base_name(name) == base]

    def linked(self, base: str, source: Collection, target: Collection) -> dict[int, list[int]]:
        """For associations named ``base`` (any version): row of ``source`` → rows of
        ``target`` it is associated with, in the association's order."""
        positions = {c.name: n for n, c in enumerate(self.collections)}
        s, t = positions[source.name], positions[target.name]
        found: dict[int, list[int]] = {}
        for association in self.association(base):
            for (sc, sr), (tc, tr) in association.pairs:
                if sc == s and tc == t and sr < len(source.rows) and tr < len(target.rows):
                    found.setdefault(sr, []).append(tr)
        return found


def read_document(value: Any, where: str) -> IgDocument:
    """The typed view of a parsed event; a document that is not an iSpy event (no
    ``Types``/``Collections``, an unknown column type, a row of the wrong length or type, an
    association that is not pairs of pairs) → EventFileError naming ``where`` and the place."""
    if not isinstance(value, dict):
        raise EventFileError(f"{where}: an iSpy event is a JSON object, found {_kind(value)}")
    types = value.get("Types")
    rows = value.get("Collections")
    if not isinstance(types, dict) or not isinstance(rows, dict):
        raise EventFileError(
            f"{where}: an iSpy event has objects 'Types' and 'Collections'; found"
            f" {', '.join(repr(str(k)[:40]) for k in list(value)[:10]) or 'none'}"
        )
    collections = [
        _collection(where, name, columns, rows.get(name, [])) for name, columns in types.items()
    ]
    extra = [name for name in rows if name not in types]
    if extra:
        raise EventFileError(
            f"{where}: Collections.{str(extra[0])[:MAX_NAME_LENGTH]} has no entry in 'Types'"
        )
    associations = value.get("Associations", {})
    if associations is None:
        associations = {}
    if not isinstance(associations, dict):
        raise EventFileError(f"{where}: 'Associations' must be an object of lists")
    checked = {
        name: _association(where, name, pairs, len(collections))
        for name, pairs in associations.items()
    }
    return IgDocument(collections, checked)


def _collection(where: str, name: str, columns: Any, rows: Any) -> Collection:
    place = f"{where}: Types.{name[:MAX_NAME_LENGTH]}"
    if len(name) > MAX_NAME_LENGTH:
        raise EventFileError(f"{place}: a collection name longer than {MAX_NAME_LENGTH}")
    if not isinstance(columns, list):
        raise EventFileError(f"{place}: a list of [name, type] pairs, found {_kind(columns)}")
    names: list[str] = []
    kinds: list[str] = []
    for n, column in enumerate(columns):
        if (
            not isinstance(column, list)
            or len(column) != 2
            or not all(isinstance(part, str) for part in column)
        ):
            raise EventFileError(f"{place}[{n}]: a [name, type] pair of strings")
        column_name, column_type = column
        if column_type not in COLUMN_TYPES:
            raise EventFileError(
                f"{place}[{n}] ({column_name[:MAX_NAME_LENGTH]!r}): unknown column type"
                f" {column_type[:MAX_NAME_LENGTH]!r}; iSpy's types are"
                f" {', '.join(sorted(COLUMN_TYPES))}"
            )
        names.append(column_name)
        kinds.append(column_type)
    if not isinstance(rows, list):
        raise EventFileError(f"{where}: Collections.{name}: a list of rows, found {_kind(rows)}")
    width = len(names)
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            found = f"{len(row)} values" if isinstance(row, list) else _kind(row)
            raise EventFileError(f"{where}: Collections.{name}[{r}]: {found} for {width} columns")
    for c, kind in enumerate(kinds):
        _check_column(where, name, names[c], c, kind, rows)
    return Collection(name, tuple(names), tuple(kinds), rows)


def _check_column(
    where: str, name: str, column: str, c: int, kind: str, rows: list[list[Any]]
) -> None:
    """Every value of column ``c`` is of its type (None stands for NaN); a float that is not
    finite becomes None (JSON has no NaN to give on)."""
    if kind in ("double", "float"):
        for r, row in enumerate(rows):
            value = row[c]
            if type(value) is float:
                if not math.isfinite(value):
                    row[c] = None
            elif value is not None and type(value) is not int:
                raise _bad_value(where, name, r, column, "a number", value)
    elif kind in ("int", "long", "bool"):
        for r, row in enumerate(rows):
            value = row[c]
            if value is not None and type(value) not in (int, bool):
                if type(value) is float and value.is_integer():
                    row[c] = int(value)  # 1.0 for 1: written by a float formatter
                    continue
                raise _bad_value(where, name, r, column, "a whole number", value)
    elif kind == "string":
        for r, row in enumerate(rows):
            value = row[c]
            if value is not None and type(value) is not str:
                raise _bad_value(where, name, r, column, "a string", value)
    else:
        length = _VECTOR_LENGTH[kind]
        for r, row in enumerate(rows):
            value = row[c]
            if value is None:
                continue
            if type(value) is not list or len(value) != length:
                raise _bad_value(where, name, r, column, f"a list of {length} numbers", value)
            for k, x in enumerate(value):
                if type(x) is float:
                    if not math.isfinite(x):
                        value[k] = None
                elif x is not None and type(x) is not int:
                    raise _bad_value(where, name, r, column, f"a list of {length} numbers", value)


def _association(where: str, name: Any, pairs: Any, collections: int) -> Association:
    place = f"{where}: Associations.{str(name)[:MAX_NAME_LENGTH]}"
    if not isinstance(pairs, list):
        raise EventFileError(f"{place}: a list of [[collection, row], [collection, row]]")
    checked: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for n, pair in enumerate(pairs):
        try:
            (a, b), (c, d) = pair
            ok = all(type(x) is int and x >= 0 for x in (a, b, c, d))
        except (TypeError, ValueError):
            ok = False
        if not ok or a >= collections or c >= collections:
            raise EventFileError(
                f"{place}[{n}]: [[collection, row], [collection, row]] with the positions of"
                f" collections of 'Types' (0 to {collections - 1}) and rows from 0"
            )
        checked.append(((a, b), (c, d)))
    return Association(str(name), checked)


def _bad_value(where: str, name: str, r: int, column: str, want: str, value: Any) -> EventFileError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return EventFileError(
        f"{where}: Collections.{name}[{r}].{column[:MAX_NAME_LENGTH]}: expected {want},"
        f" found {shown}"
    )


def _kind(value: Any) -> str:
    names: Mapping[type, str] = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }
    return names.get(type(value), "null")
