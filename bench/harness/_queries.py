"""Real queries built from the records themselves: their title and abstract words, fields
and facet values, in the query classes the search and page benches measure, each spelled
for OpenHEP's API and for Datasette's table API (the baseline)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from urllib.parse import quote, urlencode

#: The listing classes, then the record reads (bench/search.py's classes).
LISTING_CLASSES = ("free_text", "fielded", "facet_filters", "sorts", "deep_pages")
CLASSES = (*LISTING_CLASSES, "record_get")
FACETS = (
    "type",
    "subtype",
    "experiment",
    "year",
    "collision_energy",
    "collision_type",
    "file_type",
    "category",
    "keywords",
    "signature",
)
#: How each facet filter is spelled on Datasette's table (bench/search.py's columns): an
#: exact match on a scalar column, ``arraycontains`` on a JSON array column.
DATASETTE_FILTER = {
    "type": "type__exact",
    "subtype": "subtype__arraycontains",
    "experiment": "experiment__exact",
    "year": "year__exact",
    "collision_energy": "collision_energy__exact",
    "collision_type": "collision_type__exact",
    "file_type": "file_type__arraycontains",
    "category": "category__exact",
    "keywords": "keywords__arraycontains",
    "signature": "signature__arraycontains",
}
#: OpenHEP's sorts and Datasette's spelling of each.
SORTS = {
    "mostrecent": ("_sort_desc", "date_published"),
    "title": ("_sort", "title"),
    "title_desc": ("_sort_desc", "title"),
}
#: CODP's number_events facet buckets (DESIGN.md), lower bounds.
EVENT_BUCKETS = (0, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
MAX_FILTER_LENGTH = 200  # the search's own bound: longer values answer 400
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
TAG = re.compile(r"<[^>]*>")
#: The query language's operators (upper case) are not words; lower case they are.
OPERATORS = {"and", "or", "not", "to"}
SIMPLE_VALUE = re.compile(r"[A-Za-z0-9.]+")

# load.py's search builder: how many title words, and how many of them also as title:
MAX_WORDS = 2_000
TITLE_WORDS = 400

Params = tuple[tuple[str, str], ...]


def encode(params: Iterable[tuple[str, str | int]]) -> str:
    return urlencode(list(params), quote_via=quote)


def facet_values(record: dict[str, Any]) -> dict[str, list[str]]:
    """The values a record holds in each facet OpenHEP filters on (as filter values)."""
    kind = record.get("type") or {}
    distribution = record.get("distribution") or {}
    collision = record.get("collision_information") or {}
    categories = record.get("categories") or {}
    years = {str(d)[:4] for d in record.get("date_created") or [] if str(d)[:4].isdigit()}
    values = {
        "type": [kind.get("primary")],
        "subtype": list(kind.get("secondary") or []),
        "experiment": list(record.get("experiment") or []),
        "year": sorted(years),
        "collision_energy": [collision.get("energy")],
        "collision_type": [collision.get("type")],
        "file_type": list(distribution.get("formats") or []),
        "category": [categories.get("primary")],
        "keywords": list(record.get("keywords") or []),
        "signature": list(record.get("signature") or []),
    }
    return {
        name: [v for v in found if isinstance(v, str) and v and len(v) <= MAX_FILTER_LENGTH]
        for name, found in values.items()
    }


def title_words(record: dict[str, Any]) -> list[str]:
    return [w.lower() for w in WORD.findall(str(record.get("title") or ""))]


def search_parameters(records: Sequence[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """bench/load.py's distinct searches made of the records' own words and facet values:
    every title word of three letters or more as ``q``, the commonest as ``title:``, every
    facet value as a filter, experiment and type pairs, words under an experiment, sorts and
    second pages."""
    words = Counter(word for r in records for word in title_words(r))
    common = [w for w, _ in words.most_common(MAX_WORDS)]
    values: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for record in records:
        for name, found in facet_values(record).items():
            values[name].update(found)
    searches: list[list[tuple[str, str]]] = [[("q", w)] for w in common]
    searches += [[("q", f"title:{w}")] for w in common[:TITLE_WORDS]]
    searches += [[(name, v)] for name in FACETS for v in sorted(values[name])]
    experiments = sorted(values["experiment"])
    types = sorted(values["type"])
    searches += [[("experiment", e), ("type", t)] for e in experiments for t in types]
    searches += [[("q", w), ("experiment", e)] for w in common[:100] for e in experiments[:4]]
    sorts = ("mostrecent", "title", "title_desc")
    searches += [[("q", w), ("sort", sorts[i % 3])] for i, w in enumerate(common[:300])]
    searches += [[("experiment", e), ("page", "2")] for e in experiments]
    distinct = {encode(s): s for s in searches}
    return list(distinct.values())


# -- the classified mix -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One query of the mix, as OpenHEP's API and Datasette's table API each spell it
    (parameters unencoded; the benches add page size and facets)."""

    cls: str
    openhep: Params
    datasette: Params

    @property
    def label(self) -> str:
        return encode(self.openhep)


@dataclass(frozen=True, slots=True)
class DeepListing:
    """A listing deep pages are taken from: its filter and sort on both systems and how many
    records at least it holds on both (counted in the records)."""

    openhep: Params
    datasette: Params
    at_least: int


@dataclass(slots=True)
class Vocabulary:
    """What the records hold: word counts of titles and abstracts, facet values, and the
    combinations real records carry."""

    records: int = 0
    title: Counter[str] = field(default_factory=Counter)
    #: records with the word in their title (each record once), for deep listings
    title_records: Counter[str] = field(default_factory=Counter)
    abstract: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_experiment: dict[str, Counter[str]] = field(default_factory=dict)
    values: dict[str, Counter[str]] = field(default_factory=dict)
    numbers: set[int] = field(default_factory=set)
    combos: dict[str, set[Params]] = field(default_factory=dict)
    #: (openhep params, datasette params) of the filter combinations records carry
    filter_combos: dict[Params, Params] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]]) -> Vocabulary:
        vocab = cls(values={name: Counter() for name in FACETS})
        for record in records:
            vocab.add(record)
        return vocab

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        words = [w for w in title_words(record) if w not in OPERATORS]
        self.title.update(words)
        self.title_records.update(set(words))
        self.pairs.update(pairwise(words))
        abstract = (record.get("abstract") or {}).get("description") or ""
        self.abstract.update(
            w.lower()
            for w in WORD.findall(TAG.sub(" ", str(abstract)))
            if w.lower() not in OPERATORS
        )
        values = facet_values(record)
        for name, found in values.items():
            self.values[name].update(found)
        for experiment in values["experiment"][:1]:
            self.by_experiment.setdefault(experiment, Counter()).update(set(words))
        number = (record.get("distribution") or {}).get("number_events")
        if isinstance(number, int) and number >= 0:
            self.numbers.add(number)
        self._combos(values, words, number if isinstance(number, int) else None)

    def _combos(self, values: dict[str, list[str]], words: list[str], number: int | None) -> None:
        """The filter combinations this record satisfies on both systems: Datasette holds the
        first experiment and the first year as scalars, so only those are combined."""
        first = {name: found[0] for name, found in values.items() if found}
        combos: list[list[tuple[str, str]]] = []

        def have(*names: str) -> bool:
            return all(n in first for n in names)

        if have("type", "experiment", "year"):
            combos.append([(n, first[n]) for n in ("type", "experiment", "year")])
        if have("type", "subtype", "year"):
            year = int(first["year"])
            for low, high in ((year, year + 1), (year - 1, year + 1)):
                combos.append(
                    [("type", first["type"]), ("subtype", first["subtype"]),
                     ("year", f"{low}--{high}")]
                )  # fmt: skip
        for pair in (
            ("experiment", "year"),
            ("type", "year"),
            ("experiment", "file_type"),
            ("collision_energy", "year"),
            ("type", "collision_energy"),
            ("experiment", "subtype"),
        ):
            if have(*pair):
                combos.append([(n, first[n]) for n in pair])
        if have("type", "subtype", "experiment", "collision_energy"):
            combos.append(
                [(n, first[n]) for n in ("type", "subtype", "experiment", "collision_energy")]
            )
        if have("experiment") and len(words) > 1:
            combos.append([("q", words[-1]), ("experiment", first["experiment"])])
        if have("file_type", "collision_energy"):
            combos.append(
                [("file_type", first["file_type"]), ("collision_energy", first["collision_energy"])]
            )
        if have("experiment", "type") and words:
            combos.append(
                [("q", words[0]), ("experiment", first["experiment"]), ("type", first["type"])]
            )
        if have("type") and number is not None:
            combos.append([("type", first["type"]), ("number_events", events_range(number))])
        if have("experiment", "keywords"):
            combos.append([("experiment", first["experiment"]), ("keywords", first["keywords"])])
        if have("experiment", "category"):
            combos.append([("experiment", first["experiment"]), ("category", first["category"])])
        if have("experiment", "collision_type", "collision_energy"):
            combos.append(
                [(n, first[n]) for n in ("experiment", "collision_type", "collision_energy")]
            )
        for combo in combos:
            params = tuple(combo)
            if params not in self.filter_combos:
                self.filter_combos[params] = datasette_filters(params)


def events_range(number: int) -> str:
    """CODP's number_events bucket of ``number``, as OpenHEP's filter spells it."""
    lower = max(b for b in EVENT_BUCKETS if number >= b)
    upper = next((b - 1 for b in EVENT_BUCKETS if b > number), None)
    return f"{lower}--{upper}" if upper is not None else f"{lower}--"


def datasette_filters(params: Params) -> Params:
    """OpenHEP's facet filters (and free words) as Datasette's table filters."""
    out: list[tuple[str, str]] = []
    for name, value in params:
        if name == "q":
            out.append(("_search", value))
        elif name in ("year", "number_events") and "--" in value:
            low, _, high = value.partition("--")
            column = "year" if name == "year" else "number_events"
            out.append((f"{column}__gte", low))
            if high:
                out.append((f"{column}__lte", high))
        else:
            out.append((DATASETTE_FILTER[name], value))
    return tuple(out)


def _take(found: dict[Params, Params], cls: str, limit: int, rng: random.Random) -> list[Query]:
    """At most ``limit`` of ``found`` (a random sample when there are more), as queries."""
    items = list(found.items())
    if len(items) > limit:
        items = rng.sample(items, limit)
    return [Query(cls, oh, ds) for oh, ds in items]


def listing_mix(
    vocab: Vocabulary, *, per_class: int = 3_000, seed: int = 7535
) -> dict[str, list[Query]]:
    """The listing queries of the free-text, fielded, facet-filter and sort classes, each
    a distinct real query (at most ``per_class`` of each, sampled with ``seed``)."""
    rng = random.Random(seed)
    common = [w for w, _ in vocab.title.most_common(3_000)]
    abstract = [w for w, _ in vocab.abstract.most_common(3_000) if w not in vocab.title][:1_000]
    free: dict[Params, Params] = {}
    for word in common + abstract:
        free[(("q", word),)] = (("_search", word),)
    for (a, b), _ in vocab.pairs.most_common(1_500):
        free[(("q", f"{a} {b}"),)] = (("_search", f"{a} {b}"),)
    for (a, b), _ in vocab.pairs.most_common(400):
        free[(("q", f'"{a} {b}"'),)] = (("_search", f'"{a} {b}"'),)

    fielded: dict[Params, Params] = {}
    for word in common[:1_200]:
        fielded[(("q", f"title:{word}"),)] = (("_search_title", word),)
    for energy in sorted(vocab.values["collision_energy"]):
        if SIMPLE_VALUE.fullmatch(energy):
            fielded[(("q", f"collision_information.energy:{energy}"),)] = (
                ("collision_energy__exact", energy),
            )
    numbers = sorted(vocab.numbers)
    for i in range(0, max(len(numbers) - 1, 0), max(1, len(numbers) // 800)):
        low, high = numbers[i], numbers[min(i + 1 + i % 7, len(numbers) - 1)]
        fielded[(("q", f"distribution.number_events:[{low} TO {high}]"),)] = (
            ("number_events__gte", str(low)),
            ("number_events__lte", str(high)),
        )
    for experiment, words in sorted(vocab.by_experiment.items()):
        if not SIMPLE_VALUE.fullmatch(experiment):
            continue
        for word, _ in words.most_common(250):
            if word not in OPERATORS:
                fielded[(("q", f"title:{word} AND experiment:{experiment}"),)] = (
                    ("_search_title", word),
                    ("experiment__exact", experiment),
                )

    filters: dict[Params, Params] = {}
    for name in FACETS:
        for value in sorted(vocab.values[name]):
            filters[((name, value),)] = datasette_filters(((name, value),))
    filters |= vocab.filter_combos

    sorts: dict[Params, Params] = {}
    for i, word in enumerate(common[:2_000]):
        sort = list(SORTS)[i % 3]
        sorts[(("q", word), ("sort", sort))] = (("_search", word), SORTS[sort])
    sorted_filters = [p for p in vocab.filter_combos if all(k != "q" for k, _ in p)]
    for name in ("type", "experiment", "year", "file_type"):
        sorted_filters += [((name, v),) for v in vocab.values[name]]
    for params in sorted_filters:
        for sort, (key, column) in SORTS.items():
            sorts[(*params, ("sort", sort))] = (*datasette_filters(params), (key, column))
    for sort, (key, column) in SORTS.items():
        sorts[(("sort", sort),)] = ((key, column),)

    return {
        "free_text": _take(free, "free_text", per_class, rng),
        "fielded": _take(fielded, "fielded", per_class, rng),
        "facet_filters": _take(filters, "facet_filters", per_class, rng),
        "sorts": _take(sorts, "sorts", per_class, rng),
    }


def deep_listings(vocab: Vocabulary, *, min_records: int) -> list[DeepListing]:
    """Listings holding at least ``min_records`` records on both systems, for deep pages:
    each type and first experiment, each year, and each title word (a title match is a
    match on both), under each sort and (words) best match."""
    found: list[DeepListing] = []
    for name in ("experiment", "type", "year", "collision_energy"):
        for value, count in vocab.values[name].most_common():
            if count < min_records:
                break
            for sort, (key, column) in SORTS.items():
                found.append(
                    DeepListing(
                        ((name, value), ("sort", sort)),
                        (*datasette_filters(((name, value),)), (key, column)),
                        count,
                    )
                )
    for word, count in vocab.title_records.most_common(60):
        if count < min_records:
            break
        found.append(DeepListing((("q", word),), (("_search", word),), count))
        for sort, (key, column) in SORTS.items():
            found.append(
                DeepListing(
                    (("q", word), ("sort", sort)), (("_search", word), (key, column)), count
                )
            )
    return found
