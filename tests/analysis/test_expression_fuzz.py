"""Fuzzing the expression language: any text, any tree of the grammar, on real NanoAOD events,
gives a CompiledExpression that evaluates to one value (or list) per event, or an
ExpressionError; never another exception."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from _expression_samples import DOUBLE_MU, NANO_DIMUON, columns, events
from hypothesis import event, given, settings
from hypothesis import strategies as st

from openhep.analysis import ExpressionError, compile_expression
from openhep.analysis._functions import FUNCTION_NAMES

SETTINGS = settings(max_examples=300, deadline=None)

LEAVES = [
    "nMuon",
    "Muon_pt",
    "Muon_eta",
    "Muon_charge",
    "Jet_pt",
    "MET_pt",
    "HLT_IsoMu24",
    "Muon",
    "Jet",
    "Muon[0]",
    "Muon[1]",
    "Muon[3].pt",
    "Muon_pt[2]",
    "Muon.charge",
    "Jet[0].mass",
    "p4(MET_pt, MET_pt, 0, 1)",
    "0",
    "1",
    "-1",
    "2.5",
    "1e308",
    "1e-320",
    "True",
    "99999999999999999999999",
    "1" + "0" * 320,
    "undefined_name",
]
BINARY = ["+", "-", "*", "/", "**", "%", "<", "<=", "==", "!=", ">", ">=", "and", "or", "//", "&"]
UNARY = ["-", "+", "not ", "~"]


def _trees() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(LEAVES)

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(BINARY), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}{t[1]}"),
            st.tuples(
                st.sampled_from(FUNCTION_NAMES), st.lists(children, min_size=0, max_size=3)
            ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(children, st.integers(0, 3)).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(children, st.sampled_from(["pt", "charge", "mass", "x"])).map(
                lambda t: f"{t[0]}.{t[1]}"
            ),
        )

    return st.recursive(leaves, extend, max_leaves=12)


MATH = ["abs", "sqrt", "exp", "log", "log10", "sin", "cosh", "tan", "acos", "floor"]
ARITHMETIC = ["+", "-", "*", "/", "**", "%"]
COMPARISON = ["<", "<=", "==", "!=", ">", ">="]


def _well_typed() -> st.SearchStrategy[tuple[str, str]]:
    """(text, role) of expressions that type-check, built from numbers per event, lists of muons
    and conditions: they compile, so they test evaluation on every kind of event."""
    numbers = st.sampled_from(
        [
            "nMuon",
            "Muon[0].charge",
            "Muon[0].pt",
            "Muon[1].eta",
            "Muon_pt[2]",
            "0",
            "-1",
            "1e308",
            "7",
        ]
    )
    muon_lists = st.sampled_from(["Muon_pt", "Muon.eta", "Muon_charge", "Muon.mass"])

    def grow_numbers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(ARITHMETIC), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(MATH), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max", "atan2"]), children, children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            st.tuples(st.sampled_from(["sum", "min", "max", "count"]), lists).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            st.tuples(
                st.sampled_from(["mass", "pt", "eta", "phi", "delta_r", "delta_phi"]),
                st.sampled_from(["Muon[0], Muon[1]", "Muon[1], p4(nMuon, 1, 2, Muon[0].mass)"]),
            ).map(lambda t: f"{t[0]}({t[1]})"),
        )

    lists = st.recursive(
        muon_lists,
        lambda children: st.one_of(
            st.tuples(children, st.sampled_from(ARITHMETIC), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(children, st.sampled_from(ARITHMETIC), numbers).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
        ),
        max_leaves=4,
    )
    values = st.recursive(numbers, grow_numbers, max_leaves=8)

    def grow_conditions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(["and", "or"]), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            children.map(lambda c: f"not {c}"),
        )

    comparisons = st.tuples(values, st.sampled_from(COMPARISON), values).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    list_conditions = st.tuples(
        st.sampled_from(["any", "all"]), lists, st.sampled_from(COMPARISON), values
    ).map(lambda t: f"{t[0]}({t[1]} {t[2]} {t[3]})")
    conditions = st.recursive(
        st.one_of(comparisons, list_conditions),
        grow_conditions,
        max_leaves=4,
    )
    return st.one_of(
        st.tuples(values, st.just("value")),
        st.tuples(lists, st.just("value")),
        st.tuples(conditions, st.just("selection")),
    )


def check(anchors: Path, sample: str, text: str, role: str) -> None:
    try:
        compiled = compile_expression(text, columns(anchors, sample), role=role)
    except ExpressionError as error:
        assert 0 <= error.position <= len(text)
        assert error.message
        event("refused")
        return
    event("compiled, a list per event" if compiled.jagged else "compiled")
    arrays = events(anchors, sample)
    if compiled.branches:
        arrays = arrays[sorted(compiled.branches)]
    assert len(compiled.evaluate(arrays[:0])) == 0
    result = compiled.evaluate(arrays)
    assert isinstance(result, ak.Array)
    assert len(result) == len(arrays)
    if role == "selection" or not compiled.jagged:
        assert result.ndim == 1
    else:
        assert result.ndim == 2


@SETTINGS
@given(text=_trees(), role=st.sampled_from(["value", "selection"]))
def test_generated_trees_compile_and_evaluate_or_say_why(
    anchors: Path, text: str, role: str
) -> None:
    check(anchors, NANO_DIMUON, text, role)


@SETTINGS
@given(case=_well_typed())
def test_well_typed_trees_evaluate_on_every_event(anchors: Path, case: tuple[str, str]) -> None:
    text, role = case
    for sample in (NANO_DIMUON, DOUBLE_MU):
        compiled = compile_expression(text, columns(anchors, sample), role=role)
        arrays = events(anchors, sample)[sorted(compiled.branches)]
        result = compiled.evaluate(arrays)
        assert len(result) == len(arrays)
        if role == "value":
            # NaN is never returned: an event without a number is None (skipped).
            flat = ak.flatten(result, axis=None)
            assert not ak.any(np.isnan(ak.to_numpy(ak.drop_none(flat))))


@SETTINGS
@given(text=_trees())
def test_generated_trees_on_the_thousand_events(anchors: Path, text: str) -> None:
    # Fewer columns: many of the leaves are unknown names here, the rest meet events with
    # zero to many muons.
    check(anchors, DOUBLE_MU, text, "value")


@SETTINGS
@given(text=st.text(max_size=120))
def test_any_text(anchors: Path, text: str) -> None:
    check(anchors, NANO_DIMUON, text, "value")


@SETTINGS
@given(
    text=st.lists(
        st.sampled_from([*"()[].,+-*/%<>=! _019eEx", "nMuon", "Muon", "pt", "mass", "and", "not"]),
        max_size=40,
    ).map("".join)
)
def test_text_of_the_languages_pieces(anchors: Path, text: str) -> None:
    check(anchors, NANO_DIMUON, text, "selection")


@pytest.mark.parametrize("length", [999, 1000, 1001, 5000])
def test_long_text_is_bounded(anchors: Path, length: int) -> None:
    text = ("-" * length)[: length - 1] + "1"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, columns(anchors, NANO_DIMUON))
    assert caught.value.position <= length


@SETTINGS
@given(
    number=st.one_of(
        st.integers(min_value=0, max_value=10**300).map(str),
        st.integers(min_value=0, max_value=2**1100).map(hex),
        st.floats(min_value=0, allow_infinity=False, allow_nan=False).map(repr),
        st.sampled_from(["1e999", "1e-999", "0.0", "1_000", "0o17", "0b101"]),
    ),
    template=st.sampled_from(
        ["{0}", "nMuon * {0}", "{0} ** nMuon", "nMuon % {0}", "Muon_pt / {0}", "-{0} < MET_pt"]
    ),
)
def test_any_number_literal(anchors: Path, number: str, template: str) -> None:
    check(anchors, NANO_DIMUON, template.format(number), "value")
