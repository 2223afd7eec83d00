"""Issue 13's acceptance on the real samples: the Z peak of the 2010 Z→μμ events from the ROOT
file and from its CSV, and the opposite-charge dimuon mass of the DoubleMuParked events and of
the 2018 nano_dimuon events equal, bin for bin, a direct uproot + awkward + vector + numpy
computation written here."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from _analysis import DIMUON_MASS, DOUBLEMU_RNTUPLE, NANO_DIMUON, OPPOSITE_CHARGE, ZMUMU
from openhep.analysis import HistogramRequest, InlineExecutor, ProcessExecutor, run_histogram

vector.register_awkward()
BINS, LO, HI = 120, 0.0, 120.0


def _direct_dimuon_counts(path: Path) -> tuple[list[int], int]:
    """Counts (with underflow and overflow) of the opposite-charge dimuon mass, the way an
    analyst writes it by hand; and how many events were selected."""
    with uproot.open(path) as f:
        events = f["Events"].arrays(
            ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]
        )
    two = events[events.nMuon == 2]
    two = two[two.Muon_charge[:, 0] != two.Muon_charge[:, 1]]
    muons = ak.zip(
        {"pt": two.Muon_pt, "eta": two.Muon_eta, "phi": two.Muon_phi, "mass": two.Muon_mass},
        with_name="Momentum4D",
    )
    mass = np.asarray((muons[:, 0] + muons[:, 1]).mass, dtype=np.float64)
    assert not np.any(mass == HI)  # numpy puts hi in the last bin, hist in the overflow
    counts, _ = np.histogram(mass, bins=BINS, range=(LO, HI))
    return [int((mass < LO).sum()), *counts.tolist(), int((mass >= HI).sum())], len(two)


@pytest.mark.parametrize("sample", [DOUBLEMU_RNTUPLE, NANO_DIMUON])
def test_opposite_charge_dimuon_mass_equals_a_direct_computation(
    samples: Path, sample: str
) -> None:
    expected, selected = _direct_dimuon_counts(samples / sample)
    request = HistogramRequest(DIMUON_MASS, BINS, (LO, HI), selection=OPPOSITE_CHARGE)
    result = run_histogram([str(samples / sample)], request, executor=InlineExecutor())
    assert [int(result.underflow), *map(int, result.counts), int(result.overflow)] == expected
    assert result.entries == selected
    assert result.skipped == 0
    assert selected > 0


def test_the_same_in_worker_processes_and_chunks(samples: Path, doublemu_ttree: Path) -> None:
    expected, _ = _direct_dimuon_counts(samples / DOUBLEMU_RNTUPLE)
    request = HistogramRequest(DIMUON_MASS, BINS, (LO, HI), selection=OPPOSITE_CHARGE)
    with ProcessExecutor(workers=2) as pool:
        result = run_histogram([str(doublemu_ttree)], request, executor=pool, chunk_entries=128)
    assert [int(result.underflow), *map(int, result.counts), int(result.overflow)] == expected


def _peak(counts: list[float], edges: list[float]) -> float:
    i = int(np.argmax(counts))
    return (edges[i] + edges[i + 1]) / 2


@pytest.mark.parametrize(
    "expression",
    ["M", "mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))"],
)
def test_z_peak_from_root_and_csv(samples: Path, zmumu_csv: Path, expression: str) -> None:
    request = HistogramRequest(expression, 60, (60.0, 120.0), tree="events")
    root = run_histogram([str(samples / ZMUMU)], request, executor=InlineExecutor())
    csv = run_histogram([str(zmumu_csv)], request, executor=InlineExecutor())
    for result in (root, csv):
        assert abs(_peak(result.counts, result.edges) - 91.0) <= 2.0
        assert result.events_read == 2304
    assert root.counts == csv.counts


def test_four_vector_mass_agrees_with_the_files_own_m(samples: Path) -> None:
    # The education files carry M, the dimuon mass: ours from E/px/py/pz lands in the same
    # bins for (nearly) every event.
    request = HistogramRequest("mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))", 60,
                               (60.0, 120.0), tree="events")  # fmt: skip
    ours = run_histogram([str(samples / ZMUMU)], request, executor=InlineExecutor())
    theirs = run_histogram(
        [str(samples / ZMUMU)],
        HistogramRequest("M", 60, (60.0, 120.0), tree="events"),
        executor=InlineExecutor(),
    )
    differ = sum(abs(a - b) for a, b in zip(ours.counts, theirs.counts, strict=True))
    assert differ <= 0.01 * sum(theirs.counts)
