"""The text of an expression: limits, characters and brackets, then Python's ``ast`` parser.

Only parsing happens here (``ast.parse``, never ``eval``/``compile``), with the limits checked
before the parser and before any recursion over the tree; what the nodes mean is the checker's
business (``_expression.py``). Positions are 0-based character offsets in the user's text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from openhep.analysis._names import MAX_SUGGESTIONS

MAX_EXPRESSION_LENGTH = 1000  # characters
MAX_NODES = 200  # names, numbers, operations and calls
MAX_DEPTH = 32  # nesting of operations, calls, indices and fields (also of brackets)

_ALLOWED_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ \t\r\n+-*/%().,[]<>=!"
)
_CHARACTER_HINTS = {
    "&": "use 'and' to join conditions",
    "|": "use 'or' to join conditions",
    "~": "use 'not' to negate a condition",
    "^": "use ** for powers",
    "'": "names are written without quotes; text is not a value",
    '"': "names are written without quotes; text is not a value",
    ":": "slices and ':' are not part of the language; index one object at a time (Muon[0])",
    "{": "braces are not part of the language",
    "}": "braces are not part of the language",
    "#": "comments are not part of the language",
    ";": "one expression only",
    "@": "'@' is not an operator here; use *",
    "\\": "a backslash is not part of the language",
}


class ExpressionError(ValueError):
    """Bad syntax, an unknown name, a wrong type or a limit: says what to change."""

    def __init__(self, message: str, position: int, names: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 0-based character offset in the text where it goes wrong
        self.names: tuple[str, ...] = tuple(names)[:MAX_SUGGESTIONS]

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a worker process, it crosses back pickled: keep position and names.
        return (type(self), (self.message, self.position, self.names))

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "position": self.position, "names": list(self.names)}


class Source:
    """The text and the map from ``ast`` (line, column) positions to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Python reads \r\n, \r and \n as line ends; its columns count from each line's start.
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def offset(self, lineno: int | None, col: int | None) -> int:
        line = max((lineno or 1) - 1, 0)
        start = self.line_starts[min(line, len(self.line_starts) - 1)]
        return max(0, min(start + (col or 0), len(self.text)))

    def position(self, node: ast.AST) -> int:
        return self.offset(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def end(self, node: ast.AST) -> int:
        return self.offset(getattr(node, "end_lineno", 1), getattr(node, "end_col_offset", 0))

    def snippet(self, node: ast.AST) -> str:
        piece = " ".join(self.text[self.position(node) : self.end(node)].split())
        return piece if len(piece) <= 40 else piece[:37] + "..."

    def operator_after(self, left: ast.AST, right: ast.AST) -> int:
        """Where the operator between two operands is: the first character not space or ')'."""
        index, stop = self.end(left), self.position(right)
        while index < stop and self.text[index] in " \t\r\n)":
            index += 1
        return index if index < stop else self.position(right)


def _scan(text: str) -> None:
    """Characters and brackets, checked before Python's parser sees the text."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "["}
    for index, char in enumerate(text):
        if char not in _ALLOWED_CHARACTERS:
            hint = _CHARACTER_HINTS.get(char, "it is not part of the expression language")
            raise ExpressionError(f"unexpected character {char!r}: {hint}", index)
        if char == "!" and text[index + 1 : index + 2] != "=":
            raise ExpressionError("unexpected '!': use 'not' to negate a condition", index)
        if char == "=":
            before = text[index - 1 : index] if index else ""
            after = text[index + 1 : index + 2]
            if before not in ("=", "<", ">", "!") and after != "=":
                raise ExpressionError("'=' alone is not an operator: compare with ==", index)
        if char in "([":
            stack.append((char, index))
            if len(stack) > MAX_DEPTH:
                raise ExpressionError(
                    f"brackets nested deeper than {MAX_DEPTH}: simplify the expression", index
                )
        elif char in ")]":
            if not stack:
                raise ExpressionError(f"{char!r} closes nothing: remove it", index)
            opener, _ = stack.pop()
            if opener != pairs[char]:
                raise ExpressionError(f"{char!r} does not match the {opener!r} it closes", index)
    if stack:
        opener, index = stack[-1]
        raise ExpressionError(f"{opener!r} is never closed", index)


def parse(text: str) -> tuple[Source, ast.expr]:
    """The tree of one expression, within the limits, or ExpressionError at the fault."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; at most {MAX_EXPRESSION_LENGTH}",
            MAX_EXPRESSION_LENGTH,
        )
    if not text.strip():
        raise ExpressionError(
            "the expression is empty: write one, e.g. Muon_pt or mass(Muon[0], Muon[1])", 0
        )
    _scan(text)
    source = Source(text)
    try:
        # Indentation is not the language's business: a leading space is not an error.
        tree = ast.parse("(" + text + "\n)", mode="eval")
    except SyntaxError as error:
        message = (error.msg or "invalid syntax").removesuffix(".")
        lineno = error.lineno or 1
        if lineno > len(source.line_starts):
            position = len(text)  # at the ")" put after the text: the text ended too soon
        else:
            # offset is 1-based; on the first line it counts the "(" put in front.
            position = source.offset(lineno, (error.offset or 1) - (2 if lineno == 1 else 1))
        raise ExpressionError(f"syntax error: {message}", position) from None
    except (ValueError, MemoryError, RecursionError, Warning):
        raise ExpressionError(
            "the expression is too complex or malformed: simplify it", 0
        ) from None
    _shift(tree)
    _bound(tree.body, source)
    return source, tree.body


def _shift(tree: ast.AST) -> None:
    """Positions back in the user's text (without the "(" the parser saw in front)."""
    for node in ast.walk(tree):
        for line, column in (("lineno", "col_offset"), ("end_lineno", "end_col_offset")):
            value = getattr(node, column, None)
            if getattr(node, line, None) == 1 and isinstance(value, int):
                setattr(node, column, max(value - 1, 0))


def _bound(root: ast.expr, source: Source) -> None:
    """At most MAX_NODES expression nodes, nested at most MAX_DEPTH deep (no recursion here:
    the checker's recursion comes after, on a tree known to be shallow).

    The error points at the first node, in reading order, past the limit."""
    expressions: list[tuple[int, int]] = []  # (position, depth)
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            expressions.append((source.position(node), depth))
            depth += 1
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    if len(expressions) > MAX_NODES:
        raise ExpressionError(
            f"the expression has {len(expressions)} names, numbers and operations;"
            f" at most {MAX_NODES}",
            sorted(position for position, _ in expressions)[MAX_NODES],
        )
    too_deep = [position for position, depth in expressions if depth > MAX_DEPTH]
    if too_deep:
        raise ExpressionError(
            f"the expression is nested deeper than {MAX_DEPTH} operations; simplify it",
            min(too_deep),
        )
