"""The expression language on the real CMS samples, against direct awkward + vector code."""

from __future__ import annotations

import pickle
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import vector.backends.awkward
from _expression_samples import DOUBLE_MU, HZZ, NANO_DIMUON, ZMUMU, columns, events

from openhep.analysis import (
    MAX_EXPRESSION_LENGTH,
    Column,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)

BEHAVIOR = vector.backends.awkward.behavior


def run(anchors: Path, sample: str, text: str, role: str = "value") -> ak.Array:
    compiled = compile_expression(text, columns(anchors, sample), role=role)
    arrays = events(anchors, sample)
    # Only the branches it names (none for a constant: then the events as they are).
    chunk = arrays[sorted(compiled.branches)] if compiled.branches else arrays
    result = compiled.evaluate(chunk)
    assert len(result) == len(arrays)
    return result


def momenta(arrays: ak.Array, prefix: str = "Muon") -> ak.Array:
    return ak.zip(
        {
            "pt": arrays[f"{prefix}_pt"],
            "eta": arrays[f"{prefix}_eta"],
            "phi": arrays[f"{prefix}_phi"],
            "mass": arrays[f"{prefix}_mass"],
        },
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )


def test_opposite_charge_dimuon_mass_equals_a_direct_computation(anchors: Path) -> None:
    selected = ak.fill_none(
        run(anchors, DOUBLE_MU, "nMuon == 2 and Muon[0].charge != Muon[1].charge", "selection"),
        False,
    )
    mass = run(anchors, DOUBLE_MU, "mass(Muon[0], Muon[1])")

    # The same, written by hand: events with two muons, of opposite charge, their pair's mass.
    arrays = events(anchors, DOUBLE_MU)
    two = arrays.nMuon == 2
    opposite = np.zeros(len(arrays), dtype=bool)
    pairs = arrays[two]
    opposite[np.flatnonzero(two)] = ak.to_numpy(pairs.Muon_charge[:, 0] != pairs.Muon_charge[:, 1])
    muons = momenta(arrays[opposite])
    expected = (muons[:, 0] + muons[:, 1]).mass

    assert ak.to_numpy(selected).tolist() == opposite.tolist()
    assert 0 < opposite.sum() < len(arrays)
    got = ak.to_numpy(mass[selected])
    np.testing.assert_array_equal(got, ak.to_numpy(expected))
    # Evaluated on the selected events only (arrays[mask], as an executor may do): the same.
    compiled = compile_expression("mass(Muon[0], Muon[1])", columns(anchors, DOUBLE_MU))
    chosen = compiled.evaluate(arrays[opposite])
    np.testing.assert_array_equal(ak.to_numpy(chosen), ak.to_numpy(expected))
    both = compile_expression("nMuon * 10 + Muon[1].charge", columns(anchors, DOUBLE_MU))
    picked = arrays[opposite]
    assert ak.to_list(both.evaluate(picked)) == ak.to_list(
        picked.nMuon * 10 + picked.Muon_charge[:, 1]
    )


def test_muon_one_is_none_where_there_is_one_muon(anchors: Path) -> None:
    second = run(anchors, DOUBLE_MU, "Muon[1].pt")
    arrays = events(anchors, DOUBLE_MU)
    missing = ak.to_numpy(ak.is_none(second))
    assert missing.tolist() == (ak.to_numpy(arrays.nMuon) < 2).tolist()
    assert missing.any() and not missing.all()
    has_two = ak.to_numpy(arrays.nMuon) >= 2
    np.testing.assert_array_equal(
        ak.to_numpy(second[has_two]), ak.to_numpy(arrays.Muon_pt[has_two][:, 1])
    )
    # Muon_pt[1] and Muon.pt[1] are the same values.
    assert ak.to_list(run(anchors, DOUBLE_MU, "Muon_pt[1]")) == ak.to_list(second)
    assert ak.to_list(run(anchors, DOUBLE_MU, "Muon.pt[1]")) == ak.to_list(second)


def test_flat_four_vectors_match_the_files_mass(anchors: Path) -> None:
    mass = run(anchors, ZMUMU, "mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))")
    arrays = events(anchors, ZMUMU)
    assert not ak.any(ak.is_none(mass))
    np.testing.assert_allclose(ak.to_numpy(mass), ak.to_numpy(arrays.M), rtol=1e-6, atol=1e-4)
    # The Z peak: the most common 1 GeV bin is within 2 GeV of 91.
    counts, edges = np.histogram(ak.to_numpy(mass), bins=120, range=(0, 120))
    assert abs(edges[np.argmax(counts)] + 0.5 - 91) <= 2
    # From pt, eta, phi and a zero muon mass. (The file's pt1, eta1, phi1 are rounded and
    # describe one muon pair for every track type of an event, so they do not give M exactly.)
    massless = run(
        anchors, ZMUMU, "mass(p4_ptetaphim(pt1, eta1, phi1, 0), p4_ptetaphim(pt2, eta2, phi2, 0))"
    )
    one, two = (
        ak.zip(
            {
                "pt": arrays[f"pt{i}"],
                "eta": arrays[f"eta{i}"],
                "phi": arrays[f"phi{i}"],
                "mass": np.zeros(len(arrays)),
            },
            with_name="Momentum4D",
            behavior=BEHAVIOR,
        )
        for i in (1, 2)
    )
    np.testing.assert_array_equal(ak.to_numpy(massless), ak.to_numpy((one + two).mass))
    counts, edges = np.histogram(ak.to_numpy(massless), bins=120, range=(0, 120))
    assert abs(edges[np.argmax(counts)] + 0.5 - 91) <= 2


def test_px_py_pz_e_collections_make_four_vectors(anchors: Path) -> None:
    """The H->ZZ sample names its fields Muon_Px, Muon_Py, Muon_Pz, Muon_E."""
    mass = run(anchors, HZZ, "mass(Muon[0], Muon[1])")
    arrays = events(anchors, HZZ)
    two = ak.to_numpy(arrays.NMuon) >= 2
    muons = ak.zip(
        {"px": arrays.Muon_Px, "py": arrays.Muon_Py, "pz": arrays.Muon_Pz, "E": arrays.Muon_E},
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )[two]
    expected = (muons[:, 0] + muons[:, 1]).mass
    assert ak.to_numpy(ak.is_none(mass)).tolist() == (~two).tolist()
    np.testing.assert_array_equal(ak.to_numpy(mass[two]), ak.to_numpy(expected))


def test_nanoaod_functions_against_awkward(anchors: Path) -> None:
    arrays = events(anchors, NANO_DIMUON)
    count = run(anchors, NANO_DIMUON, "count(Muon_pt > 20)")
    assert ak.to_list(count) == ak.to_list(ak.sum(arrays.Muon_pt > 20, axis=1))
    assert ak.to_list(run(anchors, NANO_DIMUON, "count(Muon)")) == ak.to_list(arrays.nMuon)
    assert ak.to_list(run(anchors, NANO_DIMUON, "sum(Jet_pt)")) == pytest.approx(
        ak.to_list(ak.sum(arrays.Jet_pt, axis=1))
    )
    assert ak.to_list(run(anchors, NANO_DIMUON, "max(Jet_pt)")) == ak.to_list(
        ak.max(arrays.Jet_pt, axis=1)
    )
    assert ak.to_list(run(anchors, NANO_DIMUON, "any(abs(Muon_eta) < 1.2)")) == ak.to_list(
        ak.any(abs(arrays.Muon_eta) < 1.2, axis=1)
    )
    # Every object is filled: a list per event.
    scaled = run(anchors, NANO_DIMUON, "Muon.pt * 2")
    assert ak.to_list(scaled) == ak.to_list(arrays.Muon_pt * 2)

    two = ak.to_numpy(arrays.nMuon) >= 2
    muons = momenta(arrays[two])
    for text, expected in [
        ("delta_r(Muon[0], Muon[1])", muons[:, 0].deltaR(muons[:, 1])),
        ("delta_phi(Muon[0], Muon[1])", muons[:, 0].deltaphi(muons[:, 1])),
        ("pt(Muon[0], Muon[1])", (muons[:, 0] + muons[:, 1]).pt),
        ("eta(Muon[0], Muon[1])", (muons[:, 0] + muons[:, 1]).eta),
        ("phi(Muon[0], Muon[1])", (muons[:, 0] + muons[:, 1]).phi),
    ]:
        got = run(anchors, NANO_DIMUON, text)
        assert ak.to_numpy(ak.is_none(got)).tolist() == (~two).tolist(), text
        np.testing.assert_allclose(
            ak.to_numpy(got[two]), ak.to_numpy(expected), rtol=1e-6, err_msg=text
        )


def test_reads_only_the_branches_it_needs(anchors: Path) -> None:
    nano = columns(anchors, NANO_DIMUON)
    assert len(nano) > 1000
    assert compile_expression("mass(Muon[0], Muon[1])", nano).branches == {
        "Muon_pt",
        "Muon_eta",
        "Muon_phi",
        "Muon_mass",
    }
    assert compile_expression("delta_r(Muon[0], Muon[1])", nano).branches == {
        "Muon_pt",
        "Muon_eta",
        "Muon_phi",
    }
    assert compile_expression("count(Muon) > 1", nano).branches == {"nMuon"}
    assert compile_expression("Muon[0].charge", nano).branches == {"Muon_charge"}
    assert compile_expression("2 * 3", nano).branches == frozenset()


def test_kleene_logic_with_missing_objects(anchors: Path) -> None:
    arrays = events(anchors, DOUBLE_MU)
    one = ak.to_numpy(arrays.nMuon) == 1
    assert one.any()
    # None (no second muon) or True is True; None and False is False; None and True is None.
    either = run(anchors, DOUBLE_MU, "Muon[1].pt > 10 or nMuon >= 1", "selection")
    assert ak.to_list(either[one]) == [True] * int(one.sum())
    both = run(anchors, DOUBLE_MU, "Muon[1].pt > 10 and nMuon == 5", "selection")
    assert ak.to_list(both[one]) == [False] * int(one.sum())
    unknown = run(anchors, DOUBLE_MU, "Muon[1].pt > 10 and nMuon == 1", "selection")
    assert ak.to_list(unknown[one]) == [None] * int(one.sum())
    negated = run(anchors, DOUBLE_MU, "not Muon[1].pt > 10", "selection")
    assert ak.to_list(negated[one]) == [None] * int(one.sum())
    chained = run(anchors, DOUBLE_MU, "0 < Muon[0].pt < 20", "selection")
    pt0 = ak.to_numpy(ak.fill_none(ak.firsts(arrays.Muon_pt), np.nan))
    has = ak.to_numpy(arrays.nMuon) >= 1
    assert ak.to_list(chained[has]) == ((pt0[has] > 0) & (pt0[has] < 20)).tolist()


def test_integers_are_signed_and_wide(anchors: Path) -> None:
    arrays = events(anchors, DOUBLE_MU)
    n = ak.to_numpy(arrays.nMuon).astype(np.int64)
    # nMuon is unsigned in the file: 'nMuon - 3' must not wrap around.
    assert ak.to_list(run(anchors, DOUBLE_MU, "nMuon - 3 < 0", "selection")) == (n < 3).tolist()
    big = run(anchors, DOUBLE_MU, "nMuon + 3000000000")
    assert ak.to_list(big) == (n + 3_000_000_000).tolist()
    assert ak.to_list(run(anchors, DOUBLE_MU, "1" + "0" * 400 + " > nMuon", "selection")) == [
        True
    ] * len(n)
    huge = run(anchors, DOUBLE_MU, "nMuon * 100000000000000000000000")
    assert ak.to_list(huge) == pytest.approx((n * 1e23).tolist())
    # Booleans count as 0 and 1 in arithmetic (numpy would 'or' them).
    added = run(anchors, DOUBLE_MU, "(nMuon > 0) + (nMuon > 1)")
    assert ak.to_list(added) == ((n > 0).astype(int) + (n > 1).astype(int)).tolist()
    assert ak.to_list(run(anchors, DOUBLE_MU, "sum(Muon_pt > 0)")) == n.tolist()


def test_bad_numbers_are_none_or_infinite_never_an_exception(anchors: Path) -> None:
    arrays = events(anchors, DOUBLE_MU)
    n = len(arrays)
    # NaN (log of a negative, 0/0, sqrt of a negative) cannot be histogrammed: None, skipped.
    assert ak.to_list(run(anchors, DOUBLE_MU, "log(-nMuon - 1)")) == [None] * n
    assert ak.to_list(run(anchors, DOUBLE_MU, "sqrt(0 - nMuon - 1)")) == [None] * n
    assert ak.to_list(run(anchors, DOUBLE_MU, "0 / 0")) == [None] * n
    # Infinity is a number: it lands in the overflow (or underflow) of a histogram.
    assert ak.to_list(run(anchors, DOUBLE_MU, "1 / (nMuon - nMuon)")) == [np.inf] * n
    assert ak.to_list(run(anchors, DOUBLE_MU, "-1 / (nMuon - nMuon)")) == [-np.inf] * n
    assert ak.to_list(run(anchors, DOUBLE_MU, "exp(1000) > 1", "selection")) == [True] * n
    # Integer remainder by zero, negative integer powers, min of an empty list: no exception.
    assert ak.to_list(run(anchors, DOUBLE_MU, "nMuon % 0")) == [0] * n
    with np.errstate(divide="ignore"):
        inverse = 1 / ak.to_numpy(arrays.nMuon).astype(np.float64)
    assert ak.to_list(run(anchors, DOUBLE_MU, "nMuon ** -1")) == inverse.tolist()
    lowest = run(anchors, DOUBLE_MU, "min(Muon_pt)")
    assert ak.to_list(ak.is_none(lowest)) == (ak.to_numpy(arrays.nMuon) == 0).tolist()


def test_constants_fill_every_event(anchors: Path) -> None:
    n = len(events(anchors, ZMUMU))
    assert ak.to_list(run(anchors, ZMUMU, "1 + 2 * 3")) == [7] * n
    assert ak.to_list(run(anchors, ZMUMU, "True", "selection")) == [True] * n
    assert ak.to_list(run(anchors, ZMUMU, "sqrt(4) == 2 and not False", "selection")) == [True] * n


def test_selection_must_be_one_condition_per_event(anchors: Path) -> None:
    nano = columns(anchors, NANO_DIMUON)
    compiled = compile_expression("nMuon >= 2 and any(Muon_pt > 20)", nano, role="selection")
    assert isinstance(compiled, CompiledExpression)
    assert not compiled.jagged
    assert compile_expression("Muon_pt", nano).jagged
    assert not compile_expression("Muon_pt[0]", nano).jagged


# -- errors: what to change, where, and the names that exist -------------------------------------


def error_of(
    anchors: Path, text: str, role: str = "value", sample: str = NANO_DIMUON
) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, columns(anchors, sample), role=role)
    error = caught.value
    assert 0 <= error.position <= len(text)
    assert len(error.names) <= 20
    assert error.to_json() == {
        "error": error.message,
        "position": error.position,
        "names": list(error.names),
    }
    return error


def test_unknown_name_suggests_close_names(anchors: Path) -> None:
    error = error_of(anchors, "nMuon > 1 and Muon_ptt > 20")
    assert error.position == 14
    assert "unknown name 'Muon_ptt'" in error.message
    assert "did you mean Muon_pt" in error.message
    assert error.names[0] == "Muon_pt"
    # A NanoAOD group: the names it begins come next.
    met = error_of(anchors, "MET > 20")
    assert met.position == 0
    assert "MET_pt" in met.names and "MET_phi" in met.names
    field = error_of(anchors, "Muon[0].charg")
    assert field.position == 8
    assert "no field 'charg'" in field.message and field.names[0] == "charge"
    function = error_of(anchors, "sqr(nMuon)")
    assert function.position == 0 and "did you mean sqrt" in function.message


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("nMuon >", 7, "syntax error"),
        ("nMuon > > 2", 8, "syntax error"),
        ("  nMuon +* 2", 9, "syntax error"),
        ("(nMuon + 1", 0, "never closed"),
        ("nMuon + 1)", 9, "closes nothing"),
        ("Muon_pt[0:2]", 9, "':'"),
        ("nMuon = 2", 6, "=="),
        ("nMuon > 1 && nMuon < 4", 10, "and"),
        ("'Muon_pt'", 0, "quotes"),
        ("nMuon, MET_pt", 0, "one expression"),
        ("nMuon if nMuon else 1", 0, "not part of"),
        ("nMuon // 2", 6, "floor"),
        ("nMuon in nMuon", 6, "'in'"),
        ("!nMuon", 0, "not"),
        ("nMuon\u00e9", 5, "unexpected character"),
    ],
)
def test_syntax_errors_point_at_the_fault(
    anchors: Path, text: str, position: int, fragment: str
) -> None:
    error = error_of(anchors, text)
    assert fragment in error.message
    assert error.position == position, error.message


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("sqrt(nMuon, 2)", 0, "sqrt takes 1 argument, not 2"),
        ("1 + atan2(nMuon)", 4, "atan2 takes 2 arguments, not 1"),
        ("mass()", 0, "at least 1 argument"),
        ("delta_r(Muon[0])", 0, "delta_r takes 2 arguments"),
        ("p4(MET_pt, MET_phi)", 0, "p4 takes 4 arguments"),
        ("Muon[0] + 1", 0, "is an object"),
        ("2 * Muon", 4, "is a collection"),
        ("p4(1, 2, 3, 4) > 1", 0, "four-vector"),
        ("nMuon[0]", 0, "one value per event"),
        ("Muon[0][1]", 0, "cannot be indexed"),
        ("Muon[-1].pt", 5, "whole number"),
        ("Muon[nMuon].pt", 5, "whole number"),
        ("MET_pt.x", 7, "has no fields"),
        ("Muon_pt + Jet_pt", 8, "different collections"),
        ("sum(nMuon)", 4, "list per event"),
        ("any(Muon_pt)", 4, "conditions"),
        ("nMuon and MET_pt > 2", 0, "compare it"),
        ("not MET_pt", 0, "'not' negates a condition"),
        ("mass(Muon)", 5, "whole collection"),
        ("mass(Muon[0], 2)", 14, "is a number"),
        ("mass(SoftActivityJet[0])", 5, "SoftActivityJet_mass"),
        ("len(Muon_pt)", 0, "unknown function"),
        ("Muon_pt.__class__(1)", 0, "only the language's functions"),
        ("sqrt", 0, "is a function"),
        ("max(x=1)", 5, "'='"),
        ("Muon[0]", 0, "is an object"),
    ],
)
def test_type_errors_point_at_the_fault(
    anchors: Path, text: str, position: int, fragment: str
) -> None:
    error = error_of(anchors, text)
    assert fragment in error.message
    assert error.position == position, error.message


def test_selections_of_lists_or_numbers_are_refused(anchors: Path) -> None:
    jagged = error_of(anchors, "Muon_pt > 20", role="selection")
    assert "any(" in jagged.message and jagged.position == 0
    number = error_of(anchors, "nMuon", role="selection")
    assert "condition" in number.message


def test_limits(anchors: Path) -> None:
    too_long = "nMuon + " * 200 + "1"
    error = error_of(anchors, too_long)
    assert error.position == MAX_EXPRESSION_LENGTH and "at most 1000" in error.message
    brackets = "(" * 40 + "nMuon" + ")" * 40
    assert error_of(anchors, brackets).position == 32
    deep = "-" * 40 + "nMuon"
    assert error_of(anchors, deep).position == 32
    many = "max(" + ",".join(["1"] * 210) + ")"
    nodes = error_of(anchors, many)
    assert "at most 200" in nodes.message
    # max and its name are two; the 199th argument is the 201st.
    assert nodes.position == len("max(") + 198 * len("1,")
    assert "empty" in error_of(anchors, "   ").message


def test_columns_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        Column("x", False, "string")
    with pytest.raises(ValueError, match="role"):
        compile_expression("1", {}, role="weight")


def test_compiled_expressions_pickle_and_take_empty_chunks(anchors: Path) -> None:
    """Executors send them to other processes; the last chunk of a file may be empty."""
    nano = columns(anchors, NANO_DIMUON)
    arrays = events(anchors, NANO_DIMUON)
    for text, role in [
        ("mass(Muon[0], Muon[1])", "value"),
        ("count(Muon) >= 2 and Muon[0].charge != Muon[1].charge", "selection"),
        ("Jet.pt * 2", "value"),
    ]:
        compiled = compile_expression(text, nano, role=role)
        again = pickle.loads(pickle.dumps(compiled))
        assert again.branches == compiled.branches and again.jagged == compiled.jagged
        chunk = arrays[sorted(compiled.branches)]
        assert ak.to_list(again.evaluate(chunk)) == ak.to_list(compiled.evaluate(chunk))
        assert len(compiled.evaluate(chunk[:0])) == 0
    with pytest.raises(KeyError, match="Muon_mass"):
        compile_expression("mass(Muon[0])", nano).evaluate(arrays[["Muon_pt"]])


def test_columns_with_missing_values(anchors: Path) -> None:
    """A CSV read through pyarrow may give nullable columns: None there is an unknown value."""
    arrays = events(anchors, ZMUMU)
    nullable = ak.zip(
        {"M": ak.mask(arrays.M, arrays.M > 80), "Q1": arrays.Q1, "Q2": arrays.Q2}, depth_limit=1
    )
    compiled = compile_expression("M * 2", columns(anchors, ZMUMU))
    doubled = compiled.evaluate(nullable)
    expected = [m * 2 if m > 80 else None for m in ak.to_list(arrays.M)]
    assert ak.to_list(doubled) == pytest.approx(expected)
    selection = compile_expression("M > 90 or Q1 == Q2", columns(anchors, ZMUMU), role="selection")
    chosen = ak.to_list(selection.evaluate(nullable))
    for m, q1, q2, got in zip(
        ak.to_list(arrays.M), ak.to_list(arrays.Q1), ak.to_list(arrays.Q2), chosen, strict=True
    ):
        if q1 == q2:
            assert got is True
        else:
            assert got == (m > 90 if m > 80 else None)


def test_errors_pickle_whole(anchors: Path) -> None:
    error = error_of(anchors, "Muon_ptt")
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, ExpressionError)
    assert (again.message, again.position, again.names) == (
        error.message,
        error.position,
        error.names,
    )
