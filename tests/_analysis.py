"""The real samples the analysis tests read, and the same events in other containers (a CSV
of the Z→μμ file, a TTree of the DoubleMuParked RNTuple), written from them: converted, not
invented."""

from __future__ import annotations

import csv
from pathlib import Path

ZMUMU = "uproot-Zmumu.root"
DOUBLEMU_RNTUPLE = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
NANO_DIMUON = "nano_dimuon.root"
#: The columns of CODP's education CSVs, which uproot-Zmumu.root holds.
ZMUMU_COLUMNS = (
    "Type", "Run", "Event",
    "E1", "px1", "py1", "pz1", "pt1", "eta1", "phi1", "Q1",
    "E2", "px2", "py2", "pz2", "pt2", "eta2", "phi2", "Q2",
    "M",
)  # fmt: skip
MUON_FIELDS = ("pt", "eta", "phi", "mass", "charge")
#: 200 events of 2015 NanoAOD simulation: run 1, six luminosity sections.
TTBAR = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
#: 10 events of the same dataset as an RNTuple (ROOT's RNTupleImporter).
TTBAR_RNTUPLE = "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root"
#: The opposite-charge dimuon mass of the acceptance criteria.
DIMUON_MASS = "mass(Muon[0], Muon[1])"
OPPOSITE_CHARGE = "nMuon == 2 and Muon[0].charge != Muon[1].charge"


def write_zmumu_csv(samples: Path, path: Path) -> Path:
    """uproot-Zmumu.root's 2,304 events as a CSV, every number as Python's repr (it reads
    back bit for bit)."""
    import uproot

    with uproot.open(samples / ZMUMU) as f:
        arrays = f["events"].arrays(list(ZMUMU_COLUMNS), library="np")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ZMUMU_COLUMNS)
        for i in range(len(arrays["M"])):
            writer.writerow([_text(arrays[name][i]) for name in ZMUMU_COLUMNS])
    return path


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    item = getattr(value, "item", None)
    if item is not None:
        value = item()
    return repr(value) if isinstance(value, float) else str(value)


def write_doublemu_ttree(samples: Path, path: Path) -> Path:
    """The DoubleMuParked RNTuple's 1,000 events written by uproot as a NanoAOD-style TTree
    (``nMuon`` and ``Muon_*``), in three baskets so that it has clusters to chunk on."""
    import awkward as ak
    import uproot

    with uproot.open(samples / DOUBLEMU_RNTUPLE) as f:
        events = f["Events"].arrays()
    muons = ak.zip({field: events[f"Muon_{field}"] for field in MUON_FIELDS})
    with uproot.recreate(path) as out:
        tree = out.mktree("Events", {"Muon": muons.type.content})  # a TTree, not an RNTuple
        for start in (0, 400, 800):
            tree.extend({"Muon": muons[start : start + 400]})
    return path
