"""The query language (CODP's Lucene-like syntax): parsed by hand, compiled to tantivy."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeAlias

import tantivy

from openhep.search._schema import (
    RANGE_FIELDS,
    SUMMARY,
    TEXT,
    TITLE,
    FieldTarget,
    field_target,
)

MAX_QUERY_LENGTH = 2000  # characters
MAX_DEPTH = 32  # nesting of parentheses and NOT / - / + / !
MAX_CLAUSES = 128  # leaf terms, phrases and ranges
#: Wildcards ('*' and '?') a query may hold. Each pattern walks its field's whole term
#: dictionary with an automaton that grows with its wildcards, and joins every term it
#: matches: the cost adds up by wildcard, not by term (on the 7,535 records 127 patterns took
#: 0.8 to 2.4 s, one pattern of fifteen 70 ms; the worst allowed takes about 0.1 s:
#: docs/performance.md). A lone '*' (every record, or "has a value") is free and not counted.
MAX_WILDCARDS = 16

#: How free words rank (docs/search.md). A record has a free word when its catch-all (TEXT)
#: has it; its score is TEXT's BM25, plus SUMMARY's BM25 times SUMMARY_BOOST, plus TITLE_TIER
#: for a word in its title. BM25 of one word in one field stays below 2.2 times ln(number of
#: records), about 27 at 200,000 records: so the tier puts every record with the word in its
#: title above every record without (until a dozen words are asked at once). The title's own
#: BM25 is left out: for a word in most titles it cost another 2 ms at 60,000 records.
TITLE_TIER = 1000.0
SUMMARY_BOOST = 2.0

_U64_MAX = 2**64 - 1
# JSON numbers are compared as i64; tantivy misreads bounds beyond that (and floats mixed with
# integers make it panic), so a JSON range takes whole numbers in this span only.
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_WILDCARD_FIELDS = "wildcards work on free words, title, recid and doi"


class QuerySyntaxError(ValueError):
    """A query the portal cannot run; the message says what to change."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position  # 0-based character offset where the query broke


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchAll:
    """Every record: the empty query and ``*:*``."""


@dataclass(frozen=True, slots=True)
class Term:
    """One word, free (``field`` is ``None``) or under a field.

    With ``wildcard``, ``text`` is a pattern: ``*`` and ``?`` are wildcards and a backslash makes
    the next character literal; otherwise ``text`` is the plain value.
    """

    field: str | None
    text: str
    wildcard: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted phrase, free or under a field."""

    field: str | None
    text: str
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Range:
    """``field:[low TO high]``; a ``None`` end is open."""

    field: str
    low: int | None
    high: int | None
    include_low: bool = True
    include_high: bool = True
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node: TypeAlias = And | Or | Not | Term | Phrase | Range | MatchAll


# -- tokens ------------------------------------------------------------------------------------

_Kind = Literal[
    "(", ")", "AND", "OR", "NOT", "MUST", "WORD", "PHRASE", "RANGE", "FIELD", "ALL", "END"
]
_OPERATORS: dict[str, _Kind] = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}
_STARTS_CLAUSE = frozenset({"(", "NOT", "MUST", "WORD", "PHRASE", "RANGE", "FIELD", "ALL"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    position: int
    text: str = ""  # a word (its pattern if wildcard), a phrase, a field name, an operator as typed
    wildcard: bool = False
    low: str | None = None  # range bounds as typed; None for an open end
    high: str | None = None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class _Word:
    plain: str
    pattern: str
    wildcard: bool
    escaped: bool


class _Lexer:
    """Cuts a query into tokens; what follows ``field:`` is read by the value rules."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        while self._skip_space():
            self._token()
        self.tokens.append(_Token("END", len(self.text)))
        return self.tokens

    def _skip_space(self) -> bool:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos < len(self.text)

    def _peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.text[at] if at < len(self.text) else ""

    def _emit(self, kind: _Kind, position: int, text: str = "") -> None:
        self.tokens.append(_Token(kind, position, text))

    def _token(self) -> None:
        start, ch = self.pos, self.text[self.pos]
        if ch in "()":
            self._emit("(" if ch == "(" else ")", start, ch)
            self.pos += 1
        elif ch == '"':
            self._phrase()
        elif ch in "[{":
            self._range()
        elif ch in "]}":
            raise QuerySyntaxError(
                f"unexpected '{ch}' at character {start}: a range looks like "
                f"year:[2010 TO 2012]; write '\\{ch}' for a literal '{ch}'",
                start,
            )
        elif ch == "!":
            self._emit("NOT", start, ch)
            self.pos += 1
        elif ch in "+-":
            after = self._peek(1)
            if not after or after.isspace() or after == ")":
                what = "excludes, like -muon" if ch == "-" else "requires, like +muon"
                raise QuerySyntaxError(
                    f"'{ch}' at character {start} must touch the term it {what}", start
                )
            self._emit("NOT" if ch == "-" else "MUST", start, ch)
            self.pos += 1
        else:
            self._word_or_field(start)

    def _word_or_field(self, start: int) -> None:
        word = self._scan_word(stops='()"', colon=True)
        if self._peek() != ":":
            kind = None if word.escaped else _OPERATORS.get(word.plain)
            if kind is not None:
                self._emit(kind, start, word.plain)
            else:
                self.tokens.append(_word_token(word, start))
            return
        name = self.text[start : self.pos]
        if not name:
            raise QuerySyntaxError(
                f"':' at character {start} needs a field name before it, like title:higgs "
                "(write '\\:' for a literal colon)",
                start,
            )
        if name == "*" and self._peek(1) == "*" and _ends_value(self._peek(2)):
            self._emit("ALL", start, "*:*")
            self.pos += 2
            return
        if word.escaped or field_target(name) is None:
            raise _unknown_field(name, start)
        self._emit("FIELD", start, name)
        self.pos += 1
        self._value(name, start)

    def _value(self, name: str, start: int) -> None:
        ch = self._peek()
        if _ends_value(ch):
            raise QuerySyntaxError(
                f"field '{name}' at character {start} needs a value after ':', "
                f'like {name}:value or {name}:"a phrase"',
                start,
            )
        if ch == "(":
            self._emit("(", self.pos, ch)
            self.pos += 1
        elif ch == '"':
            self._phrase()
        elif ch in "[{":
            self._range()
        elif ch in "<>":
            self._comparison()
        else:
            # Unquoted values run to the next space or ')': DOIs hold '/', '.' and ':'.
            value_start = self.pos
            self.tokens.append(_word_token(self._scan_word(stops=")", colon=False), value_start))

    def _scan_word(self, stops: str, colon: bool) -> _Word:
        plain: list[str] = []
        pattern: list[str] = []
        wildcard = escaped = False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch.isspace() or ch in stops or (colon and ch == ":"):
                break
            if ch == "\\":
                literal = self._peek(1)
                if not literal:
                    raise QuerySyntaxError(
                        f"'\\' at character {self.pos} escapes nothing: "
                        "write '\\\\' for a backslash",
                        self.pos,
                    )
                plain.append(literal)
                pattern.append("\\" + literal if literal in "*?\\" else literal)
                escaped = True
                self.pos += 2
                continue
            if ch in "^~":
                raise QuerySyntaxError(
                    f"'{ch}' at character {self.pos}: boosts (^) and fuzzy or proximity "
                    f"searches (~) are not supported; write '\\{ch}' for a literal '{ch}'",
                    self.pos,
                )
            wildcard = wildcard or ch in "*?"
            plain.append(ch)
            pattern.append(ch)
            self.pos += 1
        return _Word("".join(plain), "".join(pattern), wildcard, escaped)

    def _phrase(self) -> None:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                self._emit("PHRASE", start, "".join(chars))
                return
            if ch == "\\" and self.pos + 1 < len(self.text):
                ch = self.text[self.pos + 1]
                self.pos += 1
            chars.append(ch)
            self.pos += 1
        raise QuerySyntaxError(
            f"unterminated phrase starting at character {start}: add a closing '\"'", start
        )

    def _range(self) -> None:
        start = self.pos
        include_low = self.text[start] == "["
        self.pos += 1
        self._skip_space()
        low = self._bound(start)
        if not self._space_then("TO"):
            raise _range_form(start)
        self._skip_space()
        high = self._bound(start)
        self._skip_space()
        close = self._peek()
        if close not in ("]", "}"):
            raise _range_form(start, "" if close else ": add ']' or '}' at the end")
        self.pos += 1
        include_high = close == "]"
        self.tokens.append(_Token("RANGE", start, "", False, low, high, include_low, include_high))

    def _space_then(self, keyword: str) -> bool:
        # Lucene needs spaces around TO, which is what lets bounds hold any other character.
        if not self._peek().isspace():
            return False
        self._skip_space()
        if self.text.startswith(keyword, self.pos) and self._peek(len(keyword)).isspace():
            self.pos += len(keyword)
            return True
        return False

    def _bound(self, start: int) -> str | None:
        begin = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] in "]}"
        ):
            self.pos += 1
        bound = self.text[begin : self.pos]
        if not bound:
            raise _range_form(start)
        return None if bound == "*" else bound

    def _comparison(self) -> None:
        start = self.pos
        op = self.text[self.pos]
        self.pos += 1
        inclusive = self._peek() == "="
        if inclusive:
            self.pos += 1
        begin = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] == ")"
        ):
            self.pos += 1
        bound = self.text[begin : self.pos]
        if not bound:
            raise QuerySyntaxError(
                f"comparison at character {start} needs a number after it, like year:>=2010",
                start,
            )
        if op == ">":
            token = _Token("RANGE", start, low=bound, include_low=inclusive)
        else:
            token = _Token("RANGE", start, high=bound, include_high=inclusive)
        self.tokens.append(token)


def _ends_value(ch: str) -> bool:
    return not ch or ch.isspace() or ch == ")"


def _word_token(word: _Word, position: int) -> _Token:
    if word.wildcard:
        return _Token("WORD", position, word.pattern, wildcard=True)
    return _Token("WORD", position, word.plain)


def _unknown_field(name: str, position: int) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"unknown field '{name}' at character {position}: field names are letters, digits and "
        "'_' joined by dots, like title or collision_information.energy "
        "(to search for a colon, quote the value or write '\\:')",
        position,
    )


def _range_form(position: int, hint: str = "") -> QuerySyntaxError:
    return QuerySyntaxError(
        f"range at character {position} needs the form [a TO b]{hint}", position
    )


# -- parsing -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent: OR of ANDs of (NOT)* primaries, as Lucene ranks them."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.clauses = 0
        self.wildcards = 0

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self._or(None)
        token = self._peek()
        if token.kind == ")":
            raise QuerySyntaxError(
                f"unbalanced parenthesis at character {token.position}: "
                "remove ')' or add '(' before it",
                token.position,
            )
        return node

    def _or(self, field: str | None) -> Node:
        self._expect_clause_before(self._peek())
        children = [self._and(field)]
        while self._peek().kind == "OR":
            operator = self._next()
            self._expect_clause_after(operator)
            children.append(self._and(field))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _and(self, field: str | None) -> Node:
        children = [self._unary(field)]
        while True:
            token = self._peek()
            if token.kind == "AND":
                self._next()
                self._expect_clause_after(token)
            elif token.kind not in _STARTS_CLAUSE:
                break
            children.append(self._unary(field))
        return children[0] if len(children) == 1 else And(tuple(children))

    def _unary(self, field: str | None) -> Node:
        token = self._peek()
        if token.kind not in ("NOT", "MUST"):
            return self._primary(field)
        self._next()
        self._expect_clause_after(token)
        self._enter(token)
        child = self._unary(field)
        self.depth -= 1
        return Not(child) if token.kind == "NOT" else child

    def _primary(self, field: str | None) -> Node:
        token = self._next()
        if token.kind == "(":
            return self._group(token, field)
        if token.kind == "FIELD":
            if self._peek().kind == "(":
                return self._group(self._next(), token.text)
            return self._primary(token.text)
        if token.kind == "ALL":
            return MatchAll()
        if token.kind in ("WORD", "PHRASE", "RANGE"):
            return self._leaf(token, field)
        self._expect_clause_before(token)
        raise QuerySyntaxError(  # pragma: no cover - every caller looks ahead first
            f"a term is missing at character {token.position}", token.position
        )

    def _group(self, opening: _Token, field: str | None) -> Node:
        self._enter(opening)
        if self._peek().kind == "END":
            raise _unbalanced_opening(opening.position)
        if self._peek().kind == ")":
            raise QuerySyntaxError(
                f"empty parentheses at character {opening.position}: "
                "put a term inside or remove them",
                opening.position,
            )
        node = self._or(field)
        if self._next().kind != ")":
            raise _unbalanced_opening(opening.position)
        self.depth -= 1
        return node

    def _leaf(self, token: _Token, field: str | None) -> Node:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QuerySyntaxError(
                f"too many terms: a query may have at most {MAX_CLAUSES}, and one more starts "
                f"at character {token.position}; split it into several searches",
                token.position,
            )
        leaf: Term | Phrase | Range
        if token.kind == "WORD":
            leaf = Term(field, token.text, token.wildcard, position=token.position)
        elif token.kind == "PHRASE":
            leaf = Phrase(field, token.text, position=token.position)
        else:
            leaf = _range_node(token, field)
        _check_leaf(leaf)
        if isinstance(leaf, Term) and leaf.wildcard:
            self.wildcards += wildcard_count(leaf)
            if self.wildcards > MAX_WILDCARDS:
                raise QuerySyntaxError(
                    f"too many wildcards: a query may have at most {MAX_WILDCARDS} '*' and '?' "
                    f"(a lone * is free), and the term at character {leaf.position} goes past "
                    "it; spell some words out or split the search",
                    leaf.position,
                )
        return leaf

    def _enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"query nests deeper than {MAX_DEPTH} levels at character {token.position}: "
                "remove some parentheses or NOTs",
                token.position,
            )

    def _expect_clause_before(self, token: _Token) -> None:
        if token.kind in ("AND", "OR"):
            raise QuerySyntaxError(
                f"{_operator(token)} at character {token.position} needs a term before it",
                token.position,
            )
        if token.kind == ")":
            raise QuerySyntaxError(
                f"unbalanced parenthesis at character {token.position}: "
                "remove ')' or add '(' before it",
                token.position,
            )

    def _expect_clause_after(self, token: _Token) -> None:
        if self._peek().kind not in _STARTS_CLAUSE:
            raise QuerySyntaxError(
                f"{_operator(token)} at character {token.position} needs a term after it",
                token.position,
            )


def _operator(token: _Token) -> str:
    return token.text if token.text.isalpha() else f"'{token.text}'"


def _unbalanced_opening(position: int) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"unbalanced parenthesis at character {position}: add ')' or remove '('", position
    )


def _range_node(token: _Token, field: str | None) -> Range:
    if field is None:
        raise QuerySyntaxError(
            f"range at character {token.position} needs a field, like year:[2010 TO 2012]",
            token.position,
        )
    _range_field(field, token.position)  # the field's complaint comes before the bounds'
    low, high = (_bound_number(b, token.position) for b in (token.low, token.high))
    return Range(field, low, high, token.include_low, token.include_high, token.position)


_INTEGER = re.compile(r"[+-]?[0-9]{1,25}")


def _bound_number(bound: str | None, position: int) -> int | None:
    if bound is None:
        return None
    if not _INTEGER.fullmatch(bound):
        raise QuerySyntaxError(
            f"range bounds must be numbers (or '*' for an open end), not '{bound}' "
            f"(range at character {position})",
            position,
        )
    return int(bound)


def parse(text: str) -> Node:
    """The tree of a query; the empty query is ``MatchAll``.

    Raises ``QuerySyntaxError`` (message says what to change, ``position`` where) for every
    query that cannot run, including unknown fields, non-numbers where numbers go and wildcards
    on fields that cannot take them: a tree from ``parse`` always compiles.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}: shorten it",
            MAX_QUERY_LENGTH,
        )
    for position, ch in enumerate(text):
        # Lone surrogates cannot cross into tantivy (Rust strings are valid UTF-8).
        if "\ud800" <= ch <= "\udfff":
            raise QuerySyntaxError(
                f"character {position} is not valid Unicode: remove it", position
            )
    if not text.strip():
        return MatchAll()
    return _Parser(_Lexer(text).run()).parse()


# -- writing a tree back ---------------------------------------------------------------------

#: Characters a word escapes wherever they stand, and those it escapes only at its start (free,
#: or as a field's value).
_ESCAPE_ALWAYS = frozenset('()":\\*?^~')
_ESCAPE_FIRST = frozenset("[]{}!+-")
_ESCAPE_FIRST_IN_FIELD = frozenset("[]{}!+-<>")


def _word_text(text: str, wildcard: bool, in_field: bool) -> str:
    first = _ESCAPE_FIRST_IN_FIELD if in_field else _ESCAPE_FIRST
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if wildcard and ch == "\\":
            out.append(ch + next(chars, ""))  # already an escape in a pattern
        elif wildcard and ch in "*?":
            out.append(ch)
        elif ch.isspace() or ch in _ESCAPE_ALWAYS or (not out and ch in first):
            out.append("\\" + ch)
        else:
            out.append(ch)
    word = "".join(out)
    # A word spelled like an operator is escaped so that it stays a word.
    return "\\" + word if word in _OPERATORS else word


def to_text(node: Node) -> str:
    """A query string that parses back to ``node`` (suggestions are trees written this way)."""
    if isinstance(node, MatchAll):
        return "*:*"
    if isinstance(node, Term | Phrase | Range):
        prefix = f"{node.field}:" if node.field else ""
        if isinstance(node, Term):
            return prefix + _word_text(node.text, node.wildcard, node.field is not None)
        if isinstance(node, Phrase):
            return prefix + _quoted(node.text)
        low = "*" if node.low is None else str(node.low)
        high = "*" if node.high is None else str(node.high)
        opening, closing = "[" if node.include_low else "{", "]" if node.include_high else "}"
        return f"{prefix}{opening}{low} TO {high}{closing}"
    if isinstance(node, Not):
        child = node.child
        inner = to_text(child)
        return f"-({inner})" if isinstance(child, And | Or) else f"-{inner}"
    if isinstance(node, And):
        return " ".join(
            f"({to_text(c)})" if isinstance(c, And | Or) else to_text(c) for c in node.children
        )
    return " OR ".join(
        f"({to_text(c)})" if isinstance(c, Or) else to_text(c) for c in node.children
    )


# -- checks shared by parse and compile --------------------------------------------------------


def _target(name: str | None, position: int) -> FieldTarget:
    if name is None:
        return FieldTarget("text", TEXT)
    target = field_target(name)
    if target is None:
        raise _unknown_field(name, position)
    return target


def _is_match_any(node: Term) -> bool:
    return node.wildcard and set(node.text) == {"*"}


def _unsigned(name: str, value: str, position: int) -> int:
    value = value.strip()
    if not re.fullmatch(r"[0-9]{1,20}", value) or int(value) > _U64_MAX:
        raise QuerySyntaxError(
            f"{name} takes a number, like {name}:2012, not '{value}' (at character {position})",
            position,
        )
    return int(value)


def _check_leaf(node: Term | Phrase | Range) -> None:
    if isinstance(node, Range):
        _range_plan(node)
        return
    target = _target(node.field, node.position)
    if isinstance(node, Term) and node.wildcard:
        if target.kind in ("numeric", "json") and not _is_match_any(node):
            raise QuerySyntaxError(
                f"{_WILDCARD_FIELDS}; not on {node.field} (wildcard at character "
                f"{node.position}): remove the '*' or '?'",
                node.position,
            )
        if any(all(wild for wild, _ in part) for part in _wildcard_parts(node)):
            # '?*' or '???' match nearly every word of the field: joining them all is the
            # costliest pattern there is, and no search asks for it on purpose.
            raise QuerySyntaxError(
                f"wildcard at character {node.position}: each word of a pattern needs a letter "
                "or digit beside its '*' and '?'; add one, or search for * alone to find "
                "every record",
                node.position,
            )
    elif target.kind == "numeric":
        _unsigned(node.field or "", node.text, node.position)


@dataclass(frozen=True, slots=True)
class _RangePlan:
    json: bool  # a JSON path of metadata (else an unsigned index field)
    field: str
    low: int | None  # inclusive
    high: int | None  # inclusive
    empty: bool


def _range_field(name: str, position: int) -> tuple[bool, str, int, int]:
    """Where a range on ``name`` searches: (is a JSON path, field, lowest and highest bound)."""
    target = _target(name, position)
    if name in RANGE_FIELDS:
        return False, RANGE_FIELDS[name], 0, _U64_MAX
    if target.kind == "numeric":
        return False, target.field, 0, _U64_MAX
    if target.kind == "json":
        return True, target.field, _I64_MIN, _I64_MAX
    raise QuerySyntaxError(
        "ranges work on recid, year, date_published and number fields of the record such "
        f"as number_events; not on {name} (range at character {position})",
        position,
    )


def _range_plan(node: Range) -> _RangePlan:
    """Where a range searches, with exclusive ends made inclusive (bounds are whole numbers)."""
    json, field, lowest, highest = _range_field(node.field, node.position)
    for bound in (node.low, node.high):
        if bound is not None and not lowest <= bound <= highest:
            raise QuerySyntaxError(
                f"range bounds on {node.field} must be numbers from {lowest} to {highest}, "
                f"not {bound} (range at character {node.position})",
                node.position,
            )
    low = node.low if node.low is None or node.include_low else node.low + 1
    high = node.high if node.high is None or node.include_high else node.high - 1
    empty = (low is not None and low > highest) or (high is not None and high < lowest)
    empty = empty or (low is not None and high is not None and low > high)
    return _RangePlan(json, field, low, high, empty)


# -- compiling ---------------------------------------------------------------------------------


@cache
def _default_analyzer() -> tantivy.TextAnalyzer:
    # tantivy's "default" tokenizer, which indexed text, title and metadata.
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    return builder.filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase()).build()


def _quoted(value: str) -> str:
    # Inside a tantivy phrase only '\' and '"' are special: escaping both keeps user input inert.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _analysed(field: str, value: str, index: tantivy.Index, position: int) -> tantivy.Query:
    """A word or phrase on a tokenised field, tokenised by tantivy as the documents were."""
    if not _default_analyzer().analyze(value):
        return tantivy.Query.empty_query()
    try:
        return index.parse_query(f"{field}:{_quoted(value)}", [TEXT])
    except ValueError as exc:
        raise QuerySyntaxError(
            f"cannot search for {value!r} at character {position}: {exc}", position
        ) from None


def _pattern_items(pattern: str, lowercase: bool) -> list[tuple[bool, str]]:
    """A wildcard pattern as (is_wildcard, character) pairs."""
    items: list[tuple[bool, str]] = []
    chars = iter(pattern)
    for ch in chars:
        if ch in "*?":
            items.append((True, ch))
            continue
        literal = next(chars, "") if ch == "\\" else ch
        items += [(False, c) for c in (literal.lower() if lowercase else literal)]
    return items


def _regex(items: list[tuple[bool, str]]) -> str:
    # Anything but ASCII letters and digits goes in as a code point, so no input is regex syntax.
    parts = ["(?s)"]
    run: list[str] = []  # consecutive wildcards, written as one repeat: '*?*?' is '.{2,}'
    for wild, ch in [*items, (False, "")]:
        if wild:
            run.append(ch)
            continue
        if run:
            fixed = run.count("?")
            if "*" not in run:
                parts.append("." if fixed == 1 else f".{{{fixed}}}")
            else:
                parts.append(".*" if not fixed else f".{{{fixed},}}")
            run = []
        if not ch:
            break
        if ch.isascii() and ch.isalnum():
            parts.append(ch)
        else:
            parts.append(f"\\x{{{ord(ch):X}}}")
    return "".join(parts)


def _text_parts(pattern: str) -> list[list[tuple[bool, str]]]:
    """A pattern on a tokenised field as the per-token patterns it needs (parts that are only
    '*' match any token and are left out)."""
    pieces: list[list[tuple[bool, str]]] = [[]]
    for wild, ch in _pattern_items(pattern, lowercase=True):
        if not wild and not ch.isalnum():
            pieces.append([])
        else:
            pieces[-1].append((wild, ch))
    return [piece for piece in pieces if piece and set(piece) != {(True, "*")}]


def _wildcard_parts(node: Term) -> list[list[tuple[bool, str]]]:
    """The patterns a wildcard term becomes, each run over a term dictionary: none for a
    match-any ``*``; on a text field one per word (a word that is only '*' matches any word
    and is left out)."""
    if not node.wildcard or _is_match_any(node):
        return []
    target = _target(node.field, node.position)
    if target.kind == "text":
        return _text_parts(node.text)
    return [_pattern_items(node.text, lowercase=target.lowercase)]


def wildcard_count(node: Term) -> int:
    """The wildcards of the patterns a term runs (what ``MAX_WILDCARDS`` counts)."""
    return sum(wild for part in _wildcard_parts(node) for wild, _ in part)


def _wildcard_on_text(field: str, pattern: str, schema: tantivy.Schema) -> tantivy.Query:
    # Indexed terms are single tokens, so a pattern that spans separators ('Run2012*-22Jan')
    # needs every one of its per-token patterns. Not side by side: tantivy's regex phrase gives
    # up at search time once a pattern like '*' expands to too many terms.
    pieces = _text_parts(pattern)
    if not pieces:
        return tantivy.Query.all_query()
    queries = [tantivy.Query.regex_query(schema, field, _regex(piece)) for piece in pieces]
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def _free(on: Callable[[str], tantivy.Query], *, scored: bool = True) -> tantivy.Query:
    """A free word, phrase or pattern (``on(field)`` its query on a field): found in TEXT,
    ranked by where else it is (``scored``: BM25 queries; else constant-score ones)."""
    clauses = [
        (tantivy.Occur.Must, on(TEXT)),
        (tantivy.Occur.Should, tantivy.Query.const_score_query(on(TITLE), TITLE_TIER)),
    ]
    if scored:
        clauses.append(
            (tantivy.Occur.Should, tantivy.Query.boost_query(on(SUMMARY), SUMMARY_BOOST))
        )
    return tantivy.Query.boolean_query(clauses)


def _compile_wildcard(node: Term, target: FieldTarget, schema: tantivy.Schema) -> tantivy.Query:
    if _is_match_any(node):
        if target.kind == "text":
            return tantivy.Query.all_query()
        return tantivy.Query.exists_query(target.field)  # ``field:*``: the record has one
    if target.field == TEXT:
        # Pattern queries score constantly: only the title tier ranks them.
        return _free(lambda field: _wildcard_on_text(field, node.text, schema), scored=False)
    if target.kind == "text":
        return _wildcard_on_text(target.field, node.text, schema)
    items = _pattern_items(node.text, lowercase=target.lowercase)
    return tantivy.Query.regex_query(schema, target.field, _regex(items))


def _compile_value(node: Term | Phrase, target: FieldTarget, index: tantivy.Index) -> tantivy.Query:
    if target.kind == "keyword":
        value = node.text.lower() if target.lowercase else node.text
        return tantivy.Query.term_query(index.schema, target.field, value)
    if target.kind == "numeric":
        number = _unsigned(node.field or "", node.text, node.position)
        return tantivy.Query.term_query(index.schema, target.field, number)
    if target.field == TEXT:
        if not _default_analyzer().analyze(node.text):
            return tantivy.Query.empty_query()
        return _free(lambda field: _analysed(field, node.text, index, node.position))
    return _analysed(target.field, node.text, index, node.position)


def _compile_range(node: Range, index: tantivy.Index) -> tantivy.Query:
    plan = _range_plan(node)
    if plan.empty:
        return tantivy.Query.empty_query()
    if plan.low is None and plan.high is None:
        return tantivy.Query.exists_query(plan.field)
    if plan.json:
        low = "*" if plan.low is None else str(plan.low)
        high = "*" if plan.high is None else str(plan.high)
        return index.parse_query(f"{plan.field}:[{low} TO {high}]", [TEXT])
    return tantivy.Query.range_query(
        index.schema, plan.field, tantivy.FieldType.Unsigned, plan.low, plan.high
    )


def _compile_leaf(node: Term | Phrase | Range, index: tantivy.Index) -> tantivy.Query:
    _check_leaf(node)
    try:
        if isinstance(node, Range):
            return _compile_range(node, index)
        target = _target(node.field, node.position)
        if isinstance(node, Term) and node.wildcard:
            return _compile_wildcard(node, target, index.schema)
        return _compile_value(node, target, index)
    except QuerySyntaxError:
        raise
    except (ValueError, OverflowError) as exc:
        # tantivy refuses automata beyond its size limit, e.g. 'a*b*c*…' with many wildcards.
        hint = "; use fewer '*' and '?'" if isinstance(node, Term) and node.wildcard else ""
        raise QuerySyntaxError(
            f"cannot search for the term at character {node.position}: {exc}{hint}",
            node.position,
        ) from None


def _everything_but(query: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, query)]
    )


def compile_query(node: Node, index: tantivy.Index) -> tantivy.Query:
    """The tantivy query of a tree for ``index``. Raises ``QuerySyntaxError``."""
    if isinstance(node, MatchAll):
        return tantivy.Query.all_query()
    if isinstance(node, Not):
        return _everything_but(compile_query(node.child, index))
    if isinstance(node, Or):
        should = [(tantivy.Occur.Should, compile_query(c, index)) for c in node.children]
        if len(should) == 1:
            return should[0][1]
        return tantivy.Query.boolean_query(should) if should else tantivy.Query.empty_query()
    if isinstance(node, And):
        # NOT children subtract from the others; an AND of only NOTs subtracts from everything.
        must = [compile_query(c, index) for c in node.children if not isinstance(c, Not)]
        must_not = [compile_query(c.child, index) for c in node.children if isinstance(c, Not)]
        if not must_not and len(must) == 1:
            return must[0]
        clauses = [(tantivy.Occur.Must, q) for q in must or [tantivy.Query.all_query()]]
        clauses += [(tantivy.Occur.MustNot, q) for q in must_not]
        return tantivy.Query.boolean_query(clauses)
    return _compile_leaf(node, index)


def build(text: str, index: tantivy.Index) -> tantivy.Query:
    """The tantivy query of a query string; empty means everything. Raises ``QuerySyntaxError``."""
    return compile_query(parse(text), index)
