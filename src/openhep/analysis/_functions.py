"""The functions of the expression language and the awkward/numpy/vector operations behind them.

A value while an expression runs is one of three things: a numpy scalar (a constant; constants
fold at compile time with the same code), a ``Masked`` (one value per event, as a dense numpy
array and where it is known), or an ``ak.Array`` holding a list per event (jagged). Per-event
work stays in plain numpy -- awkward's option types cost more than the arithmetic (a four-vector
sum of ``Muon[0]`` and ``Muon[1]`` took four times a hand-written loop with them) -- and only
meets awkward where lists are involved. Callers hold ``np.errstate(all="ignore")``: an event's
bad numbers (log of a negative, 0/0, or garbage in an unknown slot) give NaN or inf, never an
exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np
import vector.backends.awkward as vector_awkward

#: The awkward behaviour of ``vector``'s Momentum records, passed per array (never registered
#: globally: no state outside the settings object).
VECTOR_BEHAVIOR: Mapping[str, Any] = vector_awkward.behavior

#: One number in, one number out, element by element (lists stay lists).
MATH: dict[str, Callable[..., Any]] = {
    "abs": np.absolute,
    "acos": np.arccos,
    "asin": np.arcsin,
    "atan": np.arctan,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "exp": np.exp,
    "floor": np.floor,
    "log": np.log,
    "log10": np.log10,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "tan": np.tan,
    "tanh": np.tanh,
}
MATH_2: dict[str, Callable[..., Any]] = {"atan2": np.arctan2}
#: A list per event in, one value per event out.
REDUCTIONS = ("all", "any", "count", "max", "min", "sum")
#: Of the four-vector sum of their arguments.
VECTOR_PROPERTIES = ("eta", "mass", "phi", "pt")
#: Between two four-vectors (only their direction is used).
DELTAS = ("delta_phi", "delta_r")
#: Build a four-vector from numbers: the vector fields their arguments fill, in order.
BUILDERS: dict[str, tuple[str, ...]] = {
    "p4": ("E", "px", "py", "pz"),
    "p4_ptetaphim": ("pt", "eta", "phi", "mass"),
}

#: How each function is called, for messages and docs/analysis.md.
SIGNATURES: dict[str, str] = {
    **{name: f"{name}(x)" for name in MATH},
    "atan2": "atan2(y, x)",
    "all": "all(list of booleans)",
    "any": "any(list of booleans)",
    "count": "count(list or collection)",
    "sum": "sum(list)",
    "min": "min(list) or min(a, b, ...)",
    "max": "max(list) or max(a, b, ...)",
    **{name: f"{name}(a, b, ...)" for name in VECTOR_PROPERTIES},
    "delta_phi": "delta_phi(a, b)",
    "delta_r": "delta_r(a, b)",
    "p4": "p4(E, px, py, pz)",
    "p4_ptetaphim": "p4_ptetaphim(pt, eta, phi, m)",
}
FUNCTION_NAMES: tuple[str, ...] = tuple(sorted(SIGNATURES))


# -- values --------------------------------------------------------------------------------------


class Masked:
    """One value per event: ``data`` (anything where unknown) and ``valid`` (None: all known)."""

    __slots__ = ("data", "valid")

    def __init__(self, data: np.ndarray[Any, Any], valid: np.ndarray[Any, Any] | None) -> None:
        self.data = data
        self.valid = valid


def _valid_of(values: Sequence[Any]) -> np.ndarray[Any, Any] | None:
    valid: np.ndarray[Any, Any] | None = None
    for value in values:
        if isinstance(value, Masked) and value.valid is not None:
            valid = value.valid if valid is None else valid & value.valid
    return valid


def leaf_dtype(array: ak.Array) -> np.dtype[Any] | None:
    """The dtype of an array's numbers, through its lists and options."""
    layout = array.layout
    while not isinstance(layout, ak.contents.NumpyArray):
        content = getattr(layout, "content", None)
        if content is None:
            return None
        layout = content
    dtype: np.dtype[Any] = layout.dtype
    return dtype


def per_event(array: ak.Array) -> Masked:
    """An awkward array of one value per event (option type allowed) as a Masked."""
    layout = array.layout
    if isinstance(layout, ak.contents.IndexedArray):
        layout = layout.project()  # events chosen from a chunk (arrays[mask])
    if isinstance(layout, ak.contents.NumpyArray):
        return Masked(np.asarray(layout.data), None)
    dtype = leaf_dtype(array)
    filler = dtype.type(0) if dtype is not None else 0
    valid = ~np.asarray(ak.to_numpy(ak.is_none(array, axis=0)), dtype=bool)
    data = np.asarray(ak.to_numpy(ak.fill_none(array, filler, axis=0)))
    return Masked(data, None if valid.all() else valid)


def to_awkward(value: Any, length: int) -> ak.Array:
    """Any value as an awkward array of ``length`` events (None where unknown)."""
    if isinstance(value, ak.Array):
        return value
    if isinstance(value, Masked):
        content = ak.contents.NumpyArray(value.data)
        if value.valid is None:
            return ak.Array(content)
        mask = ak.index.Index8(value.valid.astype(np.int8))
        return ak.Array(ak.contents.ByteMaskedArray(mask, content, valid_when=True))
    return ak.Array(np.full(length, value))


def load(array: ak.Array) -> Any:
    """A column as read: a Masked for one value per event, an ak.Array for lists; integers
    widened to int64.

    NanoAOD counts are unsigned (``nMuon - 3`` would wrap around) and numpy refuses a Python
    integer beyond a small dtype's range (``Muon_charge + 3000000000`` would raise): int64 is
    what users expect of integers.
    """
    dtype = leaf_dtype(array)
    if dtype is not None and dtype.kind in "iu" and dtype != np.int64:
        array = ak.values_astype(array, np.int64)
    if array.ndim == 1:
        return per_event(array)
    return array


def elementwise(ufunc: Callable[..., Any]) -> Callable[..., Any]:
    """``ufunc`` over values of any of the three forms (lists broadcast against the rest)."""

    def apply(*args: Any) -> Any:
        lists = [arg for arg in args if isinstance(arg, ak.Array)]
        if lists:
            length = len(lists[0])
            return ufunc(*(to_awkward(a, length) if isinstance(a, Masked) else a for a in args))
        if not any(isinstance(arg, Masked) for arg in args):
            return ufunc(*args)
        data = ufunc(*(arg.data if isinstance(arg, Masked) else arg for arg in args))
        return Masked(np.asarray(data), _valid_of(args))

    return apply


def cast(dtype: type[np.generic]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if isinstance(value, ak.Array):
            return ak.values_astype(value, dtype)
        if isinstance(value, Masked):
            return Masked(value.data.astype(dtype), value.valid)
        return dtype(value)

    return apply


def pick(array: ak.Array, index: int) -> Masked:
    """The ``index``-th value of each event's list; unknown where the list is shorter.

    Lists of numbers (what files hold) are read through their offsets with numpy; other lists
    go through awkward (a slice of one never fails and never allocates more than the lists
    hold, whatever ``index``).
    """
    layout = array.layout
    if isinstance(layout, ak.contents.IndexedArray):
        # Events chosen from a chunk (arrays[mask]): gathering their lists' starts and stops
        # is cheap, their values stay where they are.
        layout = layout.project()
    if isinstance(layout, ak.contents.ListOffsetArray | ak.contents.ListArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        starts = np.asarray(layout.starts)
        has = np.asarray(layout.stops) - starts > index
        values = np.asarray(layout.content.data)
        if has.all():
            return Masked(values[starts + index], None)
        data = np.zeros(len(has), dtype=values.dtype)
        data[has] = values[starts[has] + index]
        return Masked(data, has)
    return per_event(ak.firsts(array[:, index : index + 1], axis=1))


def finish(value: Any, length: int, role: str) -> ak.Array:
    """The answer of an evaluation: an awkward array, NaN of a value as None (skipped)."""
    if not isinstance(value, Masked | ak.Array):
        value = Masked(np.full(length, value), None)
    if role == "value":
        if isinstance(value, Masked) and value.data.dtype.kind == "f":
            finite = ~np.isnan(value.data)
            if not finite.all():
                valid = finite if value.valid is None else value.valid & finite
                value = Masked(value.data, valid)
        elif isinstance(value, ak.Array):
            dtype = leaf_dtype(value)
            if dtype is not None and dtype.kind == "f":
                value = ak.nan_to_none(value)
    return to_awkward(value, length)


# -- logic ---------------------------------------------------------------------------------------


def _truth(value: Any, length: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """(true, known) of one condition per event; known None: everywhere."""
    if isinstance(value, Masked):
        truth = value.data.astype(bool, copy=False)
        if value.valid is None:
            return truth, None
        return truth & value.valid, value.valid
    return np.full(length, bool(value)), None


def kleene(op: str, values: Sequence[Any], length: int, jagged: bool) -> Any:
    """``and``/``or`` of conditions, Kleene's way: None and False is False, None or True is True.

    Lists (jagged conditions) combine element by element and a missing list stays missing:
    it is an event whose objects are unknown, so no element can be decided.
    """
    if jagged:
        ufunc = elementwise(np.logical_and if op == "and" else np.logical_or)
        result = values[0]
        for value in values[1:]:
            result = ufunc(result, value)
        return result
    if not any(isinstance(value, Masked) for value in values):
        truths = [bool(value) for value in values]
        return np.bool_(all(truths) if op == "and" else any(truths))
    parts = [_truth(value, length) for value in values]
    if all(known is None for _, known in parts):
        combine = np.logical_and if op == "and" else np.logical_or
        result = parts[0][0]
        for truth, _ in parts[1:]:
            result = combine(result, truth)
        return Masked(result, None)
    # 'and' is true where every part is true (unknown parts count as not true) and false where
    # one part is known false; 'or' true where one part is true, false where all are known
    # false; unknown elsewhere.
    if op == "and":
        true, false = np.ones(length, dtype=bool), np.zeros(length, dtype=bool)
        for truth, known in parts:
            true &= truth
            false |= ~truth if known is None else known & ~truth
    else:
        true, false = np.zeros(length, dtype=bool), np.ones(length, dtype=bool)
        for truth, known in parts:
            true |= truth
            false &= ~truth if known is None else known & ~truth
    valid = true | false
    return Masked(true, None if valid.all() else valid)


def negate(value: Any) -> Any:
    if isinstance(value, Masked):
        return Masked(~value.data.astype(bool, copy=False), value.valid)
    return np.logical_not(value)


# -- reductions ----------------------------------------------------------------------------------


def reduce(name: str, value: ak.Array, kind: str) -> Masked:
    """One value per event from a list per event (an empty list: 0, False, True or unknown)."""
    if name == "count":
        if kind == "bool":
            return per_event(ak.count_nonzero(value, axis=1))
        return per_event(ak.num(value, axis=1))
    if name == "any":
        return per_event(ak.any(value, axis=1))
    if name == "all":
        return per_event(ak.all(value, axis=1))
    if name == "sum":
        return per_event(ak.sum(value, axis=1))
    if name == "min":
        return per_event(ak.min(value, axis=1))
    return per_event(ak.max(value, axis=1))


def extremum(name: str) -> Callable[..., Any]:
    ufunc = elementwise(np.minimum if name == "min" else np.maximum)

    def apply(*values: Any) -> Any:
        result = values[0]
        for value in values[1:]:
            result = ufunc(result, value)
        return result

    return apply


# -- four-vectors --------------------------------------------------------------------------------


def _momentum(fields: Mapping[str, ak.Array]) -> ak.Array:
    """A vector Momentum4D (or Momentum3D without a temporal part) of the given fields."""
    name = "Momentum4D" if len(fields) == 4 else "Momentum3D"
    return ak.zip(dict(fields), with_name=name, behavior=VECTOR_BEHAVIOR)


def four_vectors(name: str, vectors: Sequence[Mapping[str, Any]], length: int) -> Any:
    """``name`` (mass, pt, eta, phi of the sum; delta_r, delta_phi of two) of four-vectors
    given as their fields' values."""
    values = [value for fields in vectors for value in fields.values()]
    if any(isinstance(value, ak.Array) for value in values):
        built = [
            _momentum({k: to_awkward(v, length) for k, v in fields.items()}) for fields in vectors
        ]
        return _vector_result(name, built)
    # One vector per event: dense arrays (unknown slots hold garbage), validity kept aside.
    built = [
        _momentum(
            {
                k: ak.Array(v.data if isinstance(v, Masked) else np.full(length, v))
                for k, v in fields.items()
            }
        )
        for fields in vectors
    ]
    result = _vector_result(name, built)
    return Masked(np.asarray(ak.to_numpy(result)), _valid_of(values))


def _vector_result(name: str, vectors: Sequence[ak.Array]) -> ak.Array:
    if name == "delta_r":
        return vectors[0].deltaR(vectors[1])
    if name == "delta_phi":
        return vectors[0].deltaphi(vectors[1])
    total = vectors[0]
    for other in vectors[1:]:
        total = total + other
    return getattr(total, name)
