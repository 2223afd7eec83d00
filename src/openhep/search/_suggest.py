"""Did you mean: for a query that finds nothing, queries one field or one spelling away that do.

A query finds nothing when one of its words is nowhere free words look (a file URI, a web
address, a checksum), under a field that does not hold it (``keywords:CMS``, ``Experiment:CMS``)
or misspelled (``experiment:CSM``, ``muonn``). For each such word, the records that hold it
somewhere say where: a word of their JSON in another field, or, failing that, a word of their
text within one or two edits. Each suggestion is the whole query with those words changed, and
it is offered only when it was run, with the same filters, and found records: a suggestion
never hits nothing. The work is bounded by MAX_PROBES searches and MAX_SOURCES records read.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import tantivy
from tantivy import Occur, Query

from openhep.search._query import (
    And,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Term,
    compile_query,
    parse,
    to_text,
)
from openhep.search._schema import (
    PATH_ALIASES,
    SOURCE,
    TEXT,
    free_text,
)

#: Suggestions offered at most.
MAX_SUGGESTIONS = 3
#: Words of a query looked at (the first ones, outside NOT).
MAX_WORDS = 8
#: Searches one suggestion request may run, all words together.
MAX_PROBES = 40
#: Records read to see where a word is, per word.
MAX_SOURCES = 5
#: Characters of one record looked at (a record may list thousands of files).
MAX_CHARACTERS = 200_000
#: Other ways of writing one word tried in suggestions, and fields counted to choose them.
MAX_ALTERNATIVES = 3
MAX_TRIED = 6

#: Where the values of LOCATOR_KEYS are in a record: free words miss them, fields find them.
LOCATOR_PATHS = (
    "files.uri", "files.checksum", "abstract.links.url", "methodology.links.url",
    "methodology.steps.configuration_files.url", "usage.links.url", "validation.links.url",
    "note.links.url", "pileup.links.url", "use_with.links.url", "links.url",
    "source_code_repository.url", "dataset_semantics_files.url",
)  # fmt: skip
#: A record path as a query writes it: the short name where there is one.
_SHORT_NAME = {path: name for name, path in reversed(PATH_ALIASES.items())}
#: Fields a suggestion prefers among those finding as many records: the ones CODP users know.
_WELL_KNOWN = frozenset({"title", "experiment", "keywords", "accelerator", *PATH_ALIASES})


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A query that finds ``total`` records with the same filters."""

    q: str
    total: int


@cache
def _analyzer(lowercase: bool) -> tantivy.TextAnalyzer:
    # The words tantivy's "default" tokenizer makes, lower-cased as indexed or as written.
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    builder = builder.filter(tantivy.Filter.remove_long(40))
    if lowercase:
        builder = builder.filter(tantivy.Filter.lowercase())
    return builder.build()


def _words(text: str) -> list[str]:
    return list(_analyzer(True).analyze(text))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance of ``a`` and ``b`` (adjacent swaps cost 1), or ``limit + 1``
    once it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        if min(row) > limit:
            return limit + 1
        previous2, previous = previous, row
    return previous[-1]


def _leaves(node: Node, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Node]]:
    """The words and phrases that must be found for ``node`` to find anything, with where."""
    if isinstance(node, And | Or):
        for i, child in enumerate(node.children):
            yield from _leaves(child, (*path, i))
    elif (isinstance(node, Term) and not node.wildcard) or isinstance(node, Phrase):
        yield path, node


def _replaced(node: Node, path: tuple[int, ...], new: Node) -> Node:
    if not path:
        return new
    assert isinstance(node, And | Or)
    children = list(node.children)
    children[path[0]] = _replaced(children[path[0]], path[1:], new)
    return dataclasses.replace(node, children=tuple(children))


def _paths(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, string) of every string in a record, list positions left out."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item, path)


def _distance(asked: str, field: str | None) -> int:
    """How far a field name is from the one asked for, under either of its names."""
    names = {
        field or "",
        PATH_ALIASES.get(field or "", field or ""),
        _SHORT_NAME.get(field or "", ""),
    }
    return min(edit_distance(asked, name.lower(), 9) for name in names if name)


def _bounded(items: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(path, string) pairs until MAX_CHARACTERS characters have gone by."""
    left = MAX_CHARACTERS
    for path, text in items:
        if left <= 0:
            return
        left -= len(text)
        yield path, text[: max(left + len(text), 0)]


def _holds(text: str, words: list[str]) -> bool:
    found = _words(text)
    n = len(words)
    return any(found[i : i + n] == words for i in range(len(found) - n + 1))


class _Suggester:
    def __init__(self, index: tantivy.Index, searcher: tantivy.Searcher, scope: Query) -> None:
        self.index = index
        self.searcher = searcher
        self.scope = scope  # what the request asks besides q: visible, not on demand, filters
        self.probes = 0

    def _scoped(self, query: Query) -> Query:
        return Query.boolean_query([(Occur.Must, self.scope), (Occur.Must, query)])

    def _count(self, node: Node | Query) -> int:
        """How many records in scope ``node`` finds (0 once out of probes or not a query)."""
        if self.probes >= MAX_PROBES:
            return 0
        try:
            query = node if isinstance(node, Query) else compile_query(node, self.index)
        except QuerySyntaxError:
            return 0
        self.probes += 1
        return int(self.searcher.search(self._scoped(query), limit=1, count=True).count or 0)  # type: ignore[attr-defined]

    def _sources(self, node: Node | Query) -> list[dict[str, Any]]:
        """The JSON of the first records in scope ``node`` finds."""
        if self.probes >= MAX_PROBES:
            return []
        try:
            query = node if isinstance(node, Query) else compile_query(node, self.index)
        except QuerySyntaxError:
            return []
        self.probes += 1
        found = self.searcher.search(self._scoped(query), limit=MAX_SOURCES).hits
        return [orjson.loads(self.searcher.doc(a).get_first(SOURCE) or b"{}") for _, a in found]

    def alternatives(self, leaf: Term | Phrase) -> list[Term | Phrase]:
        """Other fields or spellings of ``leaf`` that find records on their own, best first:
        fields named like the one asked for, then those finding more records; free text last."""
        words = _words(leaf.text)
        if not words:
            return []
        fielded: list[Term | Phrase] = []
        free: list[Term | Phrase] = []
        in_free_text = dataclasses.replace(leaf, field=None)
        if leaf.field is not None and self._count(in_free_text):
            fielded = self._fielded(leaf, self._sources(in_free_text))
            free = [in_free_text]
        else:
            at = [dataclasses.replace(leaf, field=path) for path in LOCATOR_PATHS]
            fielded = self._fielded(leaf, self._sources(Or(tuple(at))))
        if not fielded and not free and len(words) == 1:
            for word in self._respelled(words[0], as_typed=leaf.text == leaf.text.lower()):
                if leaf.field is not None:
                    fielded.append(Term(leaf.field, word))
                free.append(Term(None, word))
        asked = (leaf.field or "").lower()
        counted = [(c, self._count(c)) for c in fielded[:MAX_TRIED]]
        counted.sort(
            key=lambda item: (
                _distance(asked, item[0].field) > 2,
                -item[1],
                item[0].field not in _WELL_KNOWN,
            )
        )
        found = [c for c, total in counted if total][:MAX_ALTERNATIVES]
        return found + [c for c in free[:MAX_ALTERNATIVES] if c not in found and self._count(c)]

    def _fielded(self, leaf: Term | Phrase, sources: list[dict[str, Any]]) -> list[Term | Phrase]:
        """``leaf`` under each field that holds its words in ``sources``: most records first,
        then the nearest to the field asked for."""
        words = _words(leaf.text)
        paths: Counter[str] = Counter()
        for record in sources:
            seen = set()
            for path, text in _bounded(_paths(record)):
                if path not in seen and _holds(text, words):
                    seen.add(path)
            paths.update(seen)
        asked = (leaf.field or "").lower()

        def rank(item: tuple[str, int]) -> tuple[bool, int, int, str]:
            # A field free words search before a locator; held by more records; named nearer.
            path, records = item
            return (path in LOCATOR_PATHS, -records, _distance(asked, path), path)

        return [
            dataclasses.replace(leaf, field=_SHORT_NAME.get(path, path))
            for path, _ in sorted(paths.items(), key=rank)
            if _SHORT_NAME.get(path, path) != leaf.field
        ]

    def _respelled(self, word: str, *, as_typed: bool) -> list[str]:
        """Words of the records within one edit of ``word`` (two for words of six letters or
        more), nearest and commonest first, as the records write them (``as_typed``: in lower
        case, as the word was typed)."""
        if not 3 <= len(word) <= 40 or not word.isalnum():
            return []
        limit = 1 if len(word) < 6 else 2
        try:
            fuzzy = Query.fuzzy_term_query(self.index.schema, TEXT, word, distance=limit)
        except ValueError:
            return []
        spelled: Counter[str] = Counter()
        distance: dict[str, int] = {}
        for record in self._sources(fuzzy):
            for _, text in _bounded(("", t) for t in free_text(record)):
                for token in _analyzer(False).analyze(text):
                    lowered = token.lower()
                    if lowered == word or not lowered.isalnum():
                        continue
                    if lowered not in distance:
                        distance[lowered] = edit_distance(word, lowered, limit)
                    if distance[lowered] <= limit:
                        spelled[token] += 1
        ranked = sorted(spelled, key=lambda t: (distance[t.lower()], -spelled[t], t))
        unique: dict[str, str] = {}
        for token in ranked:
            unique.setdefault(token.lower(), token.lower() if as_typed else token)
        return list(unique.values())[:MAX_ALTERNATIVES]

    def suggest(self, tree: Node) -> list[Suggestion]:
        missing: list[tuple[tuple[int, ...], list[Term | Phrase]]] = []
        for path, leaf in list(_leaves(tree))[:MAX_WORDS]:
            assert isinstance(leaf, Term | Phrase)
            if path and self._count(leaf):
                continue  # found on its own: not why the query finds nothing
            alternatives = self.alternatives(leaf)
            if alternatives:
                missing.append((path, alternatives))
        if not missing:
            return []
        trees = [_with(tree, [(path, alts[0]) for path, alts in missing])]
        for i, (path, alternatives) in enumerate(missing):
            for alternative in alternatives[1:]:
                chosen = [(p, alts[0]) for p, alts in missing]
                chosen[i] = (path, alternative)
                trees.append(_with(tree, chosen))
        suggestions: list[Suggestion] = []
        for candidate in trees:
            if len(suggestions) == MAX_SUGGESTIONS or self.probes >= MAX_PROBES:
                break
            suggestion = self._counted(to_text(candidate))
            if suggestion is not None and suggestion.q not in {s.q for s in suggestions}:
                suggestions.append(suggestion)
        return suggestions

    def _counted(self, text: str) -> Suggestion | None:
        """The suggestion ``text``, run as a search of it would run it, if it finds records."""
        try:
            tree = parse(text)
        except QuerySyntaxError:
            return None  # e.g. longer than a query may be once written out
        total = self._count(tree)
        return Suggestion(text, total) if total else None


def _with(tree: Node, changes: Sequence[tuple[tuple[int, ...], Node]]) -> Node:
    for path, node in changes:
        tree = _replaced(tree, path, node)
    return tree


def suggest(
    tree: Node, index: tantivy.Index, searcher: tantivy.Searcher, scope: Query
) -> list[Suggestion]:
    """Queries like ``tree`` that find records within ``scope``, for a ``tree`` that finds none
    there; best first, at most MAX_SUGGESTIONS, each with how many records it finds."""
    if isinstance(tree, Not):
        return []
    return _Suggester(index, searcher, scope).suggest(tree)
