"""The functions of the expression language and the awkward/numpy/vector operations behind them.

Every operation takes and returns either an ``ak.Array`` (one entry per event, option type
allowed, a list per event when jagged) or a numpy scalar (a constant), so constants fold at
compile time with the same code that runs on arrays. Callers hold ``np.errstate(all="ignore")``:
an event's bad numbers (log of a negative, 0/0) give NaN or inf, never an exception.
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


def is_array(value: Any) -> bool:
    return isinstance(value, ak.Array)


def broadcast(value: Any, length: int) -> Any:
    """A constant as one value per event; an array as it is."""
    if isinstance(value, ak.Array):
        return value
    return ak.Array(np.full(length, value))


def astype(value: Any, dtype: type[np.generic]) -> Any:
    if isinstance(value, ak.Array):
        return ak.values_astype(value, dtype)
    return dtype(value)


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


def load(array: ak.Array) -> ak.Array:
    """A column as read, with integers widened to int64.

    NanoAOD counts are unsigned (``nMuon - 3`` would wrap around) and numpy refuses a Python
    integer beyond a small dtype's range (``Muon_charge + 3000000000`` would raise): int64 is
    what users expect of integers.
    """
    dtype = leaf_dtype(array)
    if dtype is not None and dtype.kind in "iu" and dtype != np.int64:
        return ak.values_astype(array, np.int64)
    return array


def pick(array: ak.Array, index: int) -> ak.Array:
    """The ``index``-th value of each event's list; None where the list is shorter.

    A slice of one never fails and never allocates more than the lists hold, whatever ``index``.
    """
    return ak.firsts(array[:, index : index + 1], axis=1)


def nan_to_none(value: Any) -> Any:
    dtype = leaf_dtype(value) if isinstance(value, ak.Array) else None
    if dtype is not None and dtype.kind == "f":
        return ak.nan_to_none(value)
    return value


# -- logic ---------------------------------------------------------------------------------------


def _truth(value: Any, length: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(value, known) of one boolean per event, None unknown."""
    if not isinstance(value, ak.Array):
        return np.full(length, bool(value)), np.ones(length, dtype=bool)
    known = ~np.asarray(ak.to_numpy(ak.is_none(value, axis=0)), dtype=bool)
    truth = np.asarray(ak.to_numpy(ak.fill_none(value, False, axis=0)), dtype=bool)
    return truth & known, known


def _from_truth(truth: np.ndarray[Any, Any], known: np.ndarray[Any, Any]) -> ak.Array:
    if known.all():
        return ak.Array(truth)
    return ak.mask(ak.Array(truth), known)


def kleene(op: str, values: Sequence[Any], length: int, jagged: bool) -> Any:
    """``and``/``or`` of booleans, Kleene's way: None and False is False, None or True is True.

    Lists (jagged booleans) combine element by element and a missing list stays missing:
    it is an event whose objects are unknown, so no element can be decided.
    """
    if jagged:
        ufunc = np.logical_and if op == "and" else np.logical_or
        result = values[0]
        for value in values[1:]:
            result = ufunc(result, value)
        return result
    if all(not isinstance(value, ak.Array) for value in values):
        truths = [bool(value) for value in values]
        return np.bool_(all(truths) if op == "and" else any(truths))
    parts = [_truth(value, length) for value in values]
    if op == "and":
        false = np.zeros(length, dtype=bool)
        true = np.ones(length, dtype=bool)
        for truth, known in parts:
            false |= known & ~truth
            true &= truth
        return _from_truth(true, true | false)
    true = np.zeros(length, dtype=bool)
    false = np.ones(length, dtype=bool)
    for truth, known in parts:
        true |= truth
        false &= known & ~truth
    return _from_truth(true, true | false)


# -- reductions ----------------------------------------------------------------------------------


def reduce(name: str, value: ak.Array, kind: str) -> ak.Array:
    """One value per event from a list per event (an empty list: 0, False, True or None)."""
    if name == "count":
        if kind == "bool":
            return ak.count_nonzero(value, axis=1)
        return ak.num(value, axis=1)
    if name == "any":
        return ak.any(value, axis=1)
    if name == "all":
        return ak.all(value, axis=1)
    if name == "sum":
        return ak.sum(value, axis=1)
    if name == "min":
        return ak.min(value, axis=1)
    return ak.max(value, axis=1)


def extremum(name: str, values: Sequence[Any]) -> Any:
    ufunc = np.minimum if name == "min" else np.maximum
    result = values[0]
    for value in values[1:]:
        result = ufunc(result, value)
    return result


# -- four-vectors --------------------------------------------------------------------------------


def momentum(parts: Mapping[str, Any], length: int) -> ak.Array:
    """A vector Momentum4D (or Momentum3D without a temporal part) of the given fields."""
    fields = {name: broadcast(value, length) for name, value in parts.items()}
    name = "Momentum4D" if len(fields) == 4 else "Momentum3D"
    return ak.zip(fields, with_name=name, behavior=VECTOR_BEHAVIOR)


def sum_property(prop: str, vectors: Sequence[ak.Array]) -> ak.Array:
    total = vectors[0]
    for other in vectors[1:]:
        total = total + other
    return getattr(total, prop)


def delta(name: str, a: ak.Array, b: ak.Array) -> ak.Array:
    if name == "delta_r":
        return a.deltaR(b)
    return a.deltaphi(b)
