"""The safe expression language: text -> checked, typed tree -> awkward/numpy evaluation.

The text is parsed with Python's ``ast`` (its grammar of numbers, names, operators, calls,
``x[i]`` and ``.field`` is the language's) and only a whitelist of node types is accepted; user
text is never given to ``eval`` or ``compile``. The checker gives every node a type (a number or
boolean per event, a list per event of one collection, a collection, an object, a four-vector)
and builds the evaluation as closures over awkward arrays, so type errors are found before any
file is read. The language is documented for users in docs/analysis.md.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import awkward as ak
import numpy as np

from openhep.analysis import _functions as fn
from openhep.analysis._names import (
    FOUR_VECTOR_SYSTEMS,
    Collection,
    Namespace,
    close_matches,
    suggest,
)
from openhep.analysis._syntax import MAX_EXPRESSION_LENGTH as MAX_EXPRESSION_LENGTH
from openhep.analysis._syntax import ExpressionError as ExpressionError
from openhep.analysis._syntax import Source, parse

#: ``Muon[i]``: larger indices are typing mistakes (no event holds a million muons).
MAX_INDEX = 999_999
#: Integers beyond this are taken as floats: numpy refuses Python integers outside int64.
_INT_LIMIT = 2**62

ROLES = ("value", "selection")
KINDS = ("float", "int", "bool")

_COMPARISONS: dict[type[ast.cmpop], Callable[..., Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_ARITHMETIC: dict[type[ast.operator], Callable[..., Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_OPERATOR_HINTS: dict[type[ast.AST], str] = {
    ast.FloorDiv: "'//' is not supported; use floor(a / b)",
    ast.BitAnd: "use 'and' to join conditions",
    ast.BitOr: "use 'or' to join conditions",
    ast.BitXor: "use ** for powers",
    ast.LShift: "shifts are not supported",
    ast.RShift: "shifts are not supported",
    ast.MatMult: "'@' is not an operator here; use *",
    ast.Invert: "use 'not' to negate a condition",
    ast.In: "'in' is not supported; compare with ==",
    ast.NotIn: "'not in' is not supported; compare with !=",
    ast.Is: "'is' is not supported; compare with ==",
    ast.IsNot: "'is not' is not supported; compare with !=",
}
_NODE_NAMES: dict[type[ast.AST], str] = {
    ast.IfExp: "'x if c else y'",
    ast.Lambda: "lambda",
    ast.Tuple: "a comma outside a function call (one expression only)",
    ast.List: "a list in brackets",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Starred: "'*' before an argument",
    ast.Slice: "a slice",
    ast.NamedExpr: "':='",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.JoinedStr: "text",
    ast.FormattedValue: "text",
}


@dataclass(frozen=True)
class Column:
    """One branch/column of a source, as the compiler needs to know it."""

    name: str
    jagged: bool  # a list per event (Muon_pt) or one value per event (nMuon, M)
    kind: str  # "float" | "int" | "bool"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"Column {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}"
            )


# -- evaluation ----------------------------------------------------------------------------------


class _Context:
    """One evaluation: the arrays of a chunk, and what was already computed from them."""

    __slots__ = ("arrays", "length", "memo")

    def __init__(self, arrays: ak.Array) -> None:
        self.arrays = arrays
        self.length = len(arrays)
        self.memo: dict[tuple[str, int], ak.Array] = {}

    def column(self, name: str) -> ak.Array:
        key = (name, -1)
        if key not in self.memo:
            self.memo[key] = fn.load(self.arrays[name])
        return self.memo[key]

    def picked(self, name: str, index: int) -> ak.Array:
        key = (name, index)
        if key not in self.memo:
            self.memo[key] = fn.pick(self.column(name), index)
        return self.memo[key]


_Run = Callable[[_Context], Any]


class CompiledExpression:
    """A checked expression, ready to evaluate on a chunk of events."""

    def __init__(self, text: str, role: str, value: _Value, columns: Mapping[str, Column]) -> None:
        self.text = text
        self.role = role
        self._columns = dict(columns)
        self.branches: frozenset[str] = value.branches
        self.jagged: bool = value.jagged
        self.kind: str = value.kind
        self._run = value.run

    def __repr__(self) -> str:
        return f"CompiledExpression({self.text!r}, role={self.role!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to worker processes (process pool, Dask) as its text and the columns it names:
        # closures do not pickle, and compiling again is cheap and gives the same evaluation.
        return (_compile_again, (self.text, self._columns, self.role))

    def evaluate(self, arrays: ak.Array) -> ak.Array:
        """Per-event values of ``arrays`` (a record array with a field per name in ``branches``).

        None where an event cannot be evaluated (``Muon[1]`` of a one-muon event, a NaN result
        such as ``log(-1)``); for a selection None means "not selected". Never raises on the
        events' content; raises ``KeyError`` when ``arrays`` lacks one of ``branches``.
        """
        fields = set(getattr(arrays, "fields", ()))
        missing = sorted(self.branches - fields)
        if missing:
            raise KeyError(f"arrays lack the columns {', '.join(missing)}")
        context = _Context(arrays)
        with np.errstate(all="ignore"):
            return fn.finish(self._run(context), context.length, self.role)


# -- the types of the checker --------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """Numbers or booleans: one per event, or (``jagged``) a list per event of ``group``."""

    kind: str
    jagged: bool
    group: str | None
    run: _Run
    branches: frozenset[str]
    constant: Any = None  # the folded value of an expression without columns
    is_constant: bool = False


@dataclass(frozen=True)
class _CollectionRef:
    collection: Collection


@dataclass(frozen=True)
class _ObjectRef:
    collection: Collection
    index: int


@dataclass(frozen=True)
class _FourVector:
    """A four-vector built by p4/p4_ptetaphim: its vector fields and the values filling them."""

    parts: Mapping[str, _Value]


_Typed = _Value | _CollectionRef | _ObjectRef | _FourVector


def _constant(value: Any, kind: str) -> _Value:
    return _Value(kind, False, None, lambda _c: value, frozenset(), value, True)


def _kind_of(value: Any) -> str:
    if isinstance(value, np.bool_ | bool):
        return "bool"
    if isinstance(value, np.integer | int):
        return "int"
    return "float"


# -- checking ------------------------------------------------------------------------------------


class _Checker:
    """Types each node and builds its evaluation; raises ExpressionError at the first fault."""

    def __init__(self, source: Source, names: Namespace) -> None:
        self.source = source
        self.names = names
        # The columns the text names, and the whole of the collections it names: enough to
        # compile it again the same way (a CompiledExpression is pickled as its text).
        self.used: set[str] = set()

    # errors

    def fail(self, message: str, where: ast.AST | int, names: Sequence[str] = ()) -> NoReturn:
        position = where if isinstance(where, int) else self.source.position(where)
        raise ExpressionError(message, position, names)

    def value(self, typed: _Typed, node: ast.AST, purpose: str) -> _Value:
        """``typed`` as numbers or booleans, or an error saying what to write instead."""
        if isinstance(typed, _Value):
            return typed
        what = repr(self.source.snippet(node))
        if isinstance(typed, _CollectionRef):
            name = typed.collection.name
            fields = typed.collection.fields
            example = "pt" if "pt" in fields else next(iter(fields), "pt")
            self.fail(
                f"{what} is a collection, not a number ({purpose}): use a field"
                f" ({name}.{example} or {name}_{example}), an object ({name}[0]) or"
                f" count({name})",
                node,
                [f"{name}_{field}" for field in typed.collection.fields],
            )
        if isinstance(typed, _ObjectRef):
            name = typed.collection.name
            fields = typed.collection.fields
            example = "pt" if "pt" in fields else next(iter(fields), "pt")
            self.fail(
                f"{what} is an object, not a number ({purpose}): use one of its fields"
                f" ({name}[{typed.index}].{example})"
                f" or a function such as pt({name}[{typed.index}])",
                node,
                list(typed.collection.fields),
            )
        self.fail(
            f"{what} is a four-vector, not a number ({purpose}):"
            " use mass(...), pt(...), eta(...) or phi(...) of it",
            node,
        )

    def group(self, values: Sequence[_Value], where: ast.AST | int) -> str | None:
        """The one collection whose lists these values are (or None): lists of different
        collections have different lengths, and awkward cannot pair their elements."""
        groups = sorted({value.group for value in values if value.jagged and value.group})
        if len(groups) > 1:
            self.fail(
                f"lists of different collections ({', '.join(groups)}) cannot be combined"
                f" element by element: reduce one first, e.g. max(...), sum(...) or"
                f" {groups[1]}[0]",
                where,
            )
        return groups[0] if groups else None

    # nodes

    def visit(self, node: ast.expr) -> _Typed:
        if isinstance(node, ast.Constant):
            return self.visit_constant(node)
        if isinstance(node, ast.Name):
            return self.visit_name(node)
        if isinstance(node, ast.Attribute):
            return self.visit_attribute(node)
        if isinstance(node, ast.Subscript):
            return self.visit_subscript(node)
        if isinstance(node, ast.UnaryOp):
            return self.visit_unary(node)
        if isinstance(node, ast.BinOp):
            return self.visit_binary(node)
        if isinstance(node, ast.BoolOp):
            return self.visit_boolean(node)
        if isinstance(node, ast.Compare):
            return self.visit_compare(node)
        if isinstance(node, ast.Call):
            return self.visit_call(node)
        what = _NODE_NAMES.get(type(node), f"'{self.source.snippet(node)}'")
        self.fail(f"{what} is not part of the expression language", node)

    def visit_constant(self, node: ast.Constant) -> _Value:
        value = node.value
        if isinstance(value, bool):
            return _constant(np.bool_(value), "bool")
        if isinstance(value, int):
            if abs(value) <= _INT_LIMIT:
                return _constant(np.int64(value), "int")
            # Past float range (a 400-digit number) is infinity, as 1e999 is.
            return _constant(
                np.float64(float(value) if value.bit_length() < 1024 else np.inf), "float"
            )
        if isinstance(value, float):
            return _constant(np.float64(value), "float")
        if isinstance(value, str | bytes):
            self.fail("text is not a value; names are written without quotes", node)
        self.fail(f"{self.source.snippet(node)!r} is not a number", node)

    def visit_name(self, node: ast.Name) -> _Typed:
        name = node.id
        column = self.names.columns.get(name)
        if column is not None:
            return self.visit_column(name)
        collection = self.names.collections.get(name)
        if collection is not None:
            self.used.update(collection.fields.values())
            if collection.counter is not None:
                self.used.add(collection.counter)
            return _CollectionRef(collection)
        if name in fn.SIGNATURES:
            self.fail(f"{name} is a function: call it, e.g. {fn.SIGNATURES[name]}", node)
        if name in ("None", "True", "False"):
            self.fail(f"{name} is not a value here", node)
        candidates = self.names.names()
        close = close_matches(name, candidates)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        self.fail(f"unknown name {name!r}{hint}", node, suggest(name, candidates))

    def visit_attribute(self, node: ast.Attribute) -> _Value:
        base = self.visit(node.value)
        where = self.source.end(node) - len(node.attr)
        if isinstance(base, _CollectionRef | _ObjectRef):
            collection = base.collection
            column = collection.field_column(node.attr)
            if column is None:
                close = close_matches(node.attr, collection.fields)
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                self.fail(
                    f"{collection.name} has no field {node.attr!r}{hint}",
                    where,
                    suggest(node.attr, collection.fields),
                )
            if isinstance(base, _CollectionRef):
                return self.visit_column(column)
            return self.object_field(base, column)
        self.fail(
            f"{self.source.snippet(node.value)!r} has no fields: only a collection (Muon.pt)"
            " or an object (Muon[0].pt) does",
            where,
        )

    def visit_column(self, column: str) -> _Value:
        self.used.add(column)
        info = self.names.columns[column]
        return _Value(
            info.kind,
            info.jagged,
            self.names.group_of(column) if info.jagged else None,
            lambda context: context.column(column),
            frozenset([column]),
        )

    def object_field(self, obj: _ObjectRef, column: str) -> _Value:
        index = obj.index
        return _Value(
            self.names.columns[column].kind,
            False,
            None,
            lambda context: context.picked(column, index),
            frozenset([column]),
        )

    def visit_subscript(self, node: ast.Subscript) -> _Typed:
        base = self.visit(node.value)
        index_node = node.slice
        if not (
            isinstance(index_node, ast.Constant)
            and isinstance(index_node.value, int)
            and not isinstance(index_node.value, bool)
            and 0 <= index_node.value <= MAX_INDEX
        ):
            self.fail(
                f"an index is a whole number from 0 to {MAX_INDEX} written out, as in Muon[0]",
                index_node,
            )
        index = index_node.value
        if isinstance(base, _CollectionRef):
            return _ObjectRef(base.collection, index)
        if isinstance(base, _Value) and base.jagged:
            run = base.run
            return _Value(
                base.kind,
                False,
                None,
                lambda context: fn.pick(run(context), index),
                base.branches,
            )
        what = self.source.snippet(node.value)
        if isinstance(base, _Value):
            self.fail(
                f"{what!r} is one value per event and has no [{index}]: only lists"
                " (Muon_pt) and collections (Muon) do",
                node.value,
            )
        self.fail(
            f"{what!r} cannot be indexed: only lists (Muon_pt) and collections (Muon) can",
            node.value,
        )

    def visit_unary(self, node: ast.UnaryOp) -> _Value:
        op = node.op
        if isinstance(op, ast.Invert):
            self.fail(_OPERATOR_HINTS[ast.Invert], node)
        operand = self.value(self.visit(node.operand), node.operand, "after an operator")
        if isinstance(op, ast.Not):
            if operand.kind != "bool":
                self.fail(
                    f"'not' negates a condition; {self.source.snippet(node.operand)!r} is a"
                    " number: compare it first, e.g. x > 0",
                    node,
                )
            return self.apply(fn.negate, [operand], "bool", None)
        number = self.numeric(operand)
        if isinstance(op, ast.UAdd):
            return number
        return self.apply(fn.elementwise(np.negative), [number], number.kind, None)

    def numeric(self, value: _Value) -> _Value:
        """Booleans as 0/1 integers: numpy would add booleans as 'or'."""
        if value.kind != "bool":
            return value
        return self.apply(fn.cast(np.int64), [value], "int", None)

    def apply(
        self,
        function: Callable[..., Any],
        values: Sequence[_Value],
        kind: str,
        where: ast.AST | int | None,
    ) -> _Value:
        """``function`` of ``values`` element by element (folded now when all are constants)."""
        group = self.group(values, where) if where is not None else self.group(values, 0)
        jagged = any(value.jagged for value in values)
        branches = frozenset().union(*(value.branches for value in values))
        if all(value.is_constant for value in values):
            with np.errstate(all="ignore"):
                folded = function(*(value.constant for value in values))
            return _constant(folded, _kind_of(folded) if kind != "bool" else "bool")
        runs = [value.run for value in values]
        if len(runs) == 1:
            (first,) = runs
            return _Value(kind, jagged, group, lambda c: function(first(c)), branches)
        if len(runs) == 2:
            first, second = runs
            return _Value(kind, jagged, group, lambda c: function(first(c), second(c)), branches)
        return _Value(kind, jagged, group, lambda c: function(*(run(c) for run in runs)), branches)

    def visit_binary(self, node: ast.BinOp) -> _Value:
        where = self.source.operator_after(node.left, node.right)
        ufunc = _ARITHMETIC.get(type(node.op))
        if ufunc is None:
            hint = _OPERATOR_HINTS.get(type(node.op), "this operator is not supported")
            self.fail(hint, where)
        symbol = self.source.text[where : where + (2 if isinstance(node.op, ast.Pow) else 1)]
        purpose = f"around {symbol!r}"
        left = self.numeric(self.value(self.visit(node.left), node.left, purpose))
        right = self.numeric(self.value(self.visit(node.right), node.right, purpose))
        if isinstance(node.op, ast.Div):
            kind = "float"
        elif isinstance(node.op, ast.Pow):
            # Integer powers overflow silently and refuse negative exponents: floats do neither.
            left = self.apply(fn.cast(np.float64), [left], "float", None)
            right = self.apply(fn.cast(np.float64), [right], "float", None)
            kind = "float"
        else:
            kind = "float" if "float" in (left.kind, right.kind) else "int"
        return self.apply(fn.elementwise(ufunc), [left, right], kind, where)

    def visit_boolean(self, node: ast.BoolOp) -> _Value:
        op = "and" if isinstance(node.op, ast.And) else "or"
        values: list[_Value] = []
        for child in node.values:
            value = self.value(self.visit(child), child, f"joined by {op!r}")
            if value.kind != "bool":
                self.fail(
                    f"{op!r} joins conditions; {self.source.snippet(child)!r} is a number:"
                    " compare it, e.g. nMuon > 0",
                    child,
                )
            values.append(value)
        return self.logic(op, values, node)

    def logic(self, op: str, values: Sequence[_Value], node: ast.AST) -> _Value:
        group = self.group(values, node)
        jagged = any(value.jagged for value in values)
        branches = frozenset().union(*(value.branches for value in values))
        runs = [value.run for value in values]

        def run(context: _Context) -> Any:
            return fn.kleene(op, [r(context) for r in runs], context.length, jagged)

        if all(value.is_constant for value in values):
            folded = fn.kleene(op, [value.constant for value in values], 1, False)
            return _constant(folded, "bool")
        return _Value("bool", jagged, group, run, branches)

    def visit_compare(self, node: ast.Compare) -> _Value:
        operands = [node.left, *node.comparators]
        values = [self.value(self.visit(o), o, "in a comparison") for o in operands]
        parts: list[_Value] = []
        for index, op in enumerate(node.ops):
            where = self.source.operator_after(operands[index], operands[index + 1])
            ufunc = _COMPARISONS.get(type(op))
            if ufunc is None:
                self.fail(_OPERATOR_HINTS.get(type(op), "this comparison is not supported"), where)
            comparison = fn.elementwise(ufunc)
            parts.append(self.apply(comparison, [values[index], values[index + 1]], "bool", where))
        if len(parts) == 1:
            return parts[0]
        return self.logic("and", parts, node)

    # calls

    def visit_call(self, node: ast.Call) -> _Value | _FourVector:
        if not isinstance(node.func, ast.Name):
            self.fail(
                "only the language's functions can be called, by name: "
                + ", ".join(fn.FUNCTION_NAMES),
                node.func,
                fn.FUNCTION_NAMES,
            )
        name = node.func.id
        if name not in fn.SIGNATURES:
            close = close_matches(name, fn.FUNCTION_NAMES)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            self.fail(
                f"unknown function {name!r}{hint}", node.func, suggest(name, fn.FUNCTION_NAMES)
            )
        if node.keywords:
            self.fail(
                f"{name} takes no named arguments: {fn.SIGNATURES[name]}", node.keywords[0].value
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail("'*' before an argument is not part of the language", arg)
        args = node.args
        if name in fn.MATH or name in fn.MATH_2:
            return self.call_math(name, node, args)
        if name in fn.REDUCTIONS:
            return self.call_reduction(name, node, args)
        if name in fn.BUILDERS:
            return self.call_builder(name, node, args)
        return self.call_vector(name, node, args)

    def arity(self, name: str, node: ast.Call, low: int, high: int | None) -> None:
        count = len(node.args)
        if count < low or (high is not None and count > high):
            if high == low:
                wanted = f"{low} argument{'s' if low != 1 else ''}"
            elif high is None:
                wanted = f"at least {low} argument{'s' if low != 1 else ''}"
            else:
                wanted = f"{low} to {high} arguments"
            self.fail(f"{name} takes {wanted}, not {count}: {fn.SIGNATURES[name]}", node.func)

    def call_math(self, name: str, node: ast.Call, args: list[ast.expr]) -> _Value:
        count = 2 if name in fn.MATH_2 else 1
        self.arity(name, node, count, count)
        values = [
            self.numeric(self.value(self.visit(arg), arg, f"an argument of {name}")) for arg in args
        ]
        if name == "abs":
            kind = values[0].kind
            return self.apply(fn.elementwise(fn.MATH[name]), values, kind, node.func)
        function = fn.MATH_2[name] if name in fn.MATH_2 else fn.MATH[name]
        return self.apply(fn.elementwise(function), values, "float", node.func)

    def call_reduction(self, name: str, node: ast.Call, args: list[ast.expr]) -> _Value:
        if name in ("min", "max") and len(args) >= 2:
            values = [
                self.numeric(self.value(self.visit(arg), arg, f"an argument of {name}"))
                for arg in args
            ]
            kind = "float" if any(value.kind == "float" for value in values) else "int"
            return self.apply(fn.extremum(name), values, kind, node.func)
        self.arity(name, node, 1, None if name in ("min", "max") else 1)
        typed = self.visit(args[0])
        if name == "count" and isinstance(typed, _CollectionRef):
            return self.count_collection(typed.collection)
        value = self.value(typed, args[0], f"the argument of {name}")
        if not value.jagged:
            self.fail(
                f"{name} takes a list per event (like Muon_pt or Muon_pt > 20);"
                f" {self.source.snippet(args[0])!r} is one value per event",
                args[0],
            )
        if name in ("any", "all") and value.kind != "bool":
            self.fail(
                f"{name} takes conditions, e.g. {name}(Muon_pt > 20);"
                f" {self.source.snippet(args[0])!r} holds numbers",
                args[0],
            )
        if name in ("sum", "min", "max"):
            value = self.numeric(value)  # sum of conditions: how many are true
        if name in ("any", "all"):
            kind = "bool"
        elif name == "count":
            kind = "int"
        else:
            kind = value.kind
        source_kind = value.kind
        run = value.run
        return _Value(
            kind, False, None, lambda c: fn.reduce(name, run(c), source_kind), value.branches
        )

    def count_collection(self, collection: Collection) -> _Value:
        counter = collection.counter
        if counter is not None:
            return _Value("int", False, None, lambda c: c.column(counter), frozenset([counter]))
        column = collection.fields.get("pt") or next(iter(collection.fields.values()))

        def run(context: _Context) -> Any:
            return fn.per_event(ak.num(context.column(column), axis=1))

        return _Value("int", False, None, run, frozenset([column]))

    def call_builder(self, name: str, node: ast.Call, args: list[ast.expr]) -> _FourVector:
        fields = fn.BUILDERS[name]
        self.arity(name, node, len(fields), len(fields))
        parts: dict[str, _Value] = {}
        for field, arg in zip(fields, args, strict=True):
            value = self.value(self.visit(arg), arg, f"an argument of {name}")
            parts[field] = self.numeric(value)
        self.group(list(parts.values()), node.func)
        return _FourVector(parts)

    def call_vector(self, name: str, node: ast.Call, args: list[ast.expr]) -> _Value:
        deltas = name in fn.DELTAS
        if deltas:
            self.arity(name, node, 2, 2)
        else:
            self.arity(name, node, 1, None)
        vectors = [
            self.four_vector(self.visit(arg), arg, name, spatial_only=deltas) for arg in args
        ]
        values = [value for parts in vectors for value in parts.values()]
        group = self.group(values, node.func)
        jagged = any(value.jagged for value in values)
        branches = frozenset().union(*(value.branches for value in values))
        built = [[(field, value.run) for field, value in parts.items()] for parts in vectors]

        def run(context: _Context) -> Any:
            fields = [{field: run(context) for field, run in parts} for parts in built]
            return fn.four_vectors(name, fields, context.length)

        return _Value("float", jagged, group, run, branches)

    def four_vector(
        self, typed: _Typed, node: ast.expr, function: str, *, spatial_only: bool
    ) -> dict[str, _Value]:
        """The vector fields of an argument of mass/pt/eta/phi/delta_r/delta_phi."""
        if isinstance(typed, _FourVector):
            parts = dict(typed.parts)
            if spatial_only:
                temporal = "E" if "E" in parts else "mass"
                parts.pop(temporal)
            return parts
        if isinstance(typed, _ObjectRef):
            return self.object_vector(typed, node, function, spatial_only=spatial_only)
        what = self.source.snippet(node)
        if isinstance(typed, _CollectionRef):
            name = typed.collection.name
            self.fail(
                f"{function} takes objects or four-vectors; {what!r} is a whole collection:"
                f" pick objects, e.g. {function}({name}[0], {name}[1])",
                node,
            )
        self.fail(
            f"{function} takes objects (Muon[0]) or four-vectors (p4(E, px, py, pz),"
            f" p4_ptetaphim(pt, eta, phi, m)); {what!r} is a number",
            node,
        )

    def object_vector(
        self, obj: _ObjectRef, node: ast.expr, function: str, *, spatial_only: bool
    ) -> dict[str, _Value]:
        collection = obj.collection
        vector_names = {
            "pt": "pt",
            "eta": "eta",
            "phi": "phi",
            "mass": "mass",
            "m": "mass",
            "px": "px",
            "py": "py",
            "pz": "pz",
            "e": "E",
            "energy": "E",
        }
        best_missing: list[str] | None = None
        for spatial, temporal in FOUR_VECTOR_SYSTEMS:
            columns: dict[str, str] = {}
            missing: list[str] = []
            for field in spatial:
                column = collection.field_ignoring_case(field)
                if column is None:
                    missing.append(field)
                else:
                    columns[vector_names[field]] = column
            if not spatial_only:
                found = [
                    (field, column)
                    for field in temporal
                    if (column := collection.field_ignoring_case(field)) is not None
                ]
                if found:
                    columns[vector_names[found[0][0]]] = found[0][1]
                else:
                    missing.append(temporal[0])
            if not missing:
                return {field: self.object_field(obj, column) for field, column in columns.items()}
            if best_missing is None or len(missing) < len(best_missing):
                best_missing = missing
        need = "pt, eta, phi" if spatial_only else "pt, eta, phi and mass"
        alternative = "px, py, pz" if spatial_only else "px, py, pz and E"
        absent = ", ".join(f"{collection.name}_{field}" for field in best_missing or ())
        self.fail(
            f"{function} needs the fields {need} (or {alternative}) of {collection.name};"
            f" the file has no {absent}",
            node,
            [f"{collection.name}_{field}" for field in collection.fields],
        )


def compile_expression(
    text: str, columns: Mapping[str, Column], *, role: str = "value"
) -> CompiledExpression:
    """Check ``text`` against a source's ``columns`` and compile it; ExpressionError if it
    cannot run. ``role`` "value" is what is histogrammed (a list per event fills every
    object); "selection" must be one condition per event."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if not isinstance(text, str):
        raise ExpressionError("an expression is text", 0)
    source, root = parse(text)
    checker = _Checker(source, Namespace(columns))
    purpose = "a selection" if role == "selection" else "a value to histogram"
    value = checker.value(checker.visit(root), root, purpose)
    if role == "selection":
        if value.kind != "bool":
            checker.fail(
                f"a selection is a condition, true or false per event;"
                f" {source.snippet(root)!r} is a number: compare it, e.g. nMuon >= 2",
                root,
            )
        if value.jagged:
            checker.fail(
                f"a selection is one condition per event; {source.snippet(root)!r} is one per"
                " object: wrap it in any(...) or all(...), e.g. any(Muon_pt > 20)",
                root,
            )
    used = {name: checker.names.columns[name] for name in sorted(checker.used)}
    return CompiledExpression(text, role, value, used)


def _compile_again(text: str, columns: Mapping[str, Column], role: str) -> CompiledExpression:
    return compile_expression(text, columns, role=role)
