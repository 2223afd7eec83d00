"""NanoAOD rows: the objects of each entry equal uproot's values of their branches; files
without run/lumi/event give None; RNTuple files open; not-NanoAOD files are refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import uproot

from openhep.events import EventFileError, EventNotFound, invariant_mass, open_events

SAMPLES = "cms-samples"


def test_rows_equal_uproots_values(anchors: Path) -> None:
    path = anchors / SAMPLES / "nano_dimuon.root"
    source = open_events(str(path))
    assert source.kind == "nanoaod"
    with uproot.open(path) as directory:
        tree = directory["Events"]
        branches = (
            ["run", "luminosityBlock", "event", "MET_pt", "MET_phi"]
            + [
                f"{s}_{f}"
                for s in ("Muon", "Jet", "Electron")
                for f in ("pt", "eta", "phi", "mass")
            ]
            + ["Muon_charge", "Electron_charge"]
        )
        arrays = tree.arrays(branches, library="ak").to_list()
    assert len(source) == len(arrays) == 40
    ids = source.ids(0, 40)
    for index, row in enumerate(arrays):
        event = source.event(index)
        assert (event.run, event.lumi, event.event) == (
            row["run"],
            row["luminosityBlock"],
            row["event"],
        )
        assert (ids[index].run, ids[index].lumi, ids[index].event) == (
            row["run"],
            row["luminosityBlock"],
            row["event"],
        )
        for species in ("Muon", "Jet", "Electron"):
            objects = event.collections[species]
            assert len(objects) == len(row[f"{species}_pt"])
            for n, found in enumerate(objects):
                assert found["id"] == f"{species}:{n}"
                for field in ("pt", "eta", "phi", "mass"):
                    assert found[field] == row[f"{species}_{field}"][n]
                if species != "Jet":
                    assert found["charge"] == row[f"{species}_charge"][n]
        (met,) = event.collections["MET"]
        assert (met["pt"], met["phi"], met["eta"]) == (row["MET_pt"], row["MET_phi"], 0.0)
        json.dumps(event.to_json(), allow_nan=False)
        assert len(event.draw["muons"]) == len(row["Muon_pt"])
        assert len(event.draw["jets"]) == len(row["Jet_pt"])
    source.close()


def test_dimuon_mass_through_the_objects(anchors: Path) -> None:
    source = open_events(str(anchors / SAMPLES / "nano_dimuon.root"))
    event = next(e for e in map(source.event, range(40)) if len(e.collections["Muon"]) >= 2)
    muons = event.select(["Muon:0", "Muon:1"])
    mass, _ = invariant_mass(muons)
    a, b = muons
    # massless approximation, plain math: m^2 = 2 pt1 pt2 (cosh deta - cos dphi)
    approx = math.sqrt(
        2 * a["pt"] * b["pt"] * (math.cosh(a["eta"] - b["eta"]) - math.cos(a["phi"] - b["phi"]))
    )
    assert mass == pytest.approx(approx, rel=1e-4)
    with pytest.raises(EventNotFound):
        source.event(40)


def test_muon_paths_reach_the_muon_system(anchors: Path) -> None:
    source = open_events(str(anchors / SAMPLES / "nano_dimuon.root"))
    event = next(e for e in map(source.event, range(40)) if e.draw["muons"])
    for muon in event.draw["muons"]:
        x, y, z = muon["points"][-1]
        assert math.hypot(x, y) == pytest.approx(7.4, abs=1e-3) or abs(z) == pytest.approx(10.6)


def test_rntuple_files(anchors: Path) -> None:
    muons_only = open_events(
        str(anchors / SAMPLES / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root")
    )
    assert len(muons_only) == 1000
    first = muons_only.ids(0, 1)[0]
    assert (first.run, first.lumi, first.event) == (None, None, None)
    event = muons_only.event(999)
    assert set(event.collections) == {"Muon"}
    ttbar = open_events(
        str(
            anchors
            / SAMPLES
            / "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root"
        )
    )
    assert ttbar.event(3).run == 1
    assert any(ttbar.event(i).collections["Jet"] for i in range(len(ttbar)))


def test_not_nanoaod(anchors: Path, tmp_path: Path) -> None:
    with pytest.raises(EventFileError, match="no NanoAOD objects"):
        open_events(str(anchors / SAMPLES / "uproot-Zmumu.root"), tree="events")
    with pytest.raises(EventFileError, match="no tree 'Nope'"):
        open_events(str(anchors / SAMPLES / "nano_dimuon.root"), tree="Nope")
    fake = tmp_path / "fake.root"
    fake.write_bytes(b"not root at all")
    with pytest.raises(EventFileError, match=r"fake.root: not a readable ROOT file"):
        open_events(str(fake))
