"""The demo's sample records: real CMS files (ROOT, iSpy) published with their true bytes.

Each sample file becomes a record of its own, with its own size and checksum, in a recid range
CODP does not use (:data:`SAMPLE_RECIDS`). What a record says about its file is what
``data/cms-samples/PROVENANCE.txt`` says, nothing more; a sample cut from a CODP record (the
DoubleMuParked RNTuple, from record 12341) names it in ``relations`` the way CMS's derived
records name their parents (``isChildOf``), and never poses as that record. The Z→μμ events
are also published as CSV (record 990010, converted by ``scripts/zmumu_csv.py``), and the
samples the histogram page serves best carry ``dataset_semantics``: their columns, and
expressions of the analysis language (``mass(Muon[0], Muon[1])``) for the page to offer.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openhep.files import PublishResult
from openhep.services import Curator

#: Recids of the demo samples: CODP's records stop at 160002, so 990001 to 990999 stay free.
SAMPLE_RECIDS = range(990001, 991000)
#: Where the samples are, under the repository's ``data/`` (or ``openhep demo --samples DIR``).
SAMPLE_DIRS = ("cms-samples", "ispy")
#: Where a scikit-hep-testdata wheel keeps its files (0.3.12, the last to bundle them).
WHEEL_DATA = "skhep_testdata/data/"
#: The largest sample file taken from a wheel (the samples are well below 1 MB).
MAX_SAMPLE_BYTES = 64 << 20
#: The publication date of the sample records on this instance.
SAMPLES_PUBLISHED = "2026"

_COMMON: dict[str, Any] = {
    "accelerator": "CERN-LHC",
    "collections": ["OpenHEP-Demo-Samples"],
    "experiment": ["CMS"],
    "keywords": ["education", "sample"],
    "license": {"attribution": "CC0-1.0"},
    "publisher": "OpenHEP",
    "date_published": SAMPLES_PUBLISHED,
    "type": {"primary": "Dataset", "secondary": ["Derived"]},
}
_TESTDATA = "It ships in the scikit-hep-testdata package."


def _variable(variable: str, description: str, unit: str = "", kind: str = "") -> dict[str, str]:
    """A ``dataset_semantics`` entry; ``variable`` is also what the histogram page plots (a
    column, or an expression of the analysis language)."""
    entry = {"variable": variable, "description": description}
    if kind:
        entry["type"] = kind
    if unit:
        entry["unit"] = unit
    return entry


def _muon(n: str) -> list[dict[str, str]]:
    """The columns of muon ``n`` in the 'Z to two muons' education format (as CODP's record
    307 describes them)."""
    which = "first" if n == "1" else "second"
    return [
        _variable(f"E{n}", f"The total energy of the {which} muon.", "GeV", "float"),
        _variable(
            f"px{n}", f"The x component of the momentum of the {which} muon.", "GeV", "float"
        ),
        _variable(
            f"py{n}", f"The y component of the momentum of the {which} muon.", "GeV", "float"
        ),
        _variable(
            f"pz{n}", f"The z component of the momentum of the {which} muon.", "GeV", "float"
        ),
        _variable(f"pt{n}", f"The transverse momentum of the {which} muon.", "GeV", "float"),
        _variable(f"eta{n}", f"The pseudorapidity of the {which} muon.", "", "float"),
        _variable(f"phi{n}", f"The phi angle of the {which} muon.", "rad", "float"),
        _variable(f"Q{n}", f"The charge of the {which} muon (+1 or -1).", "e", "int"),
    ]


#: The title of the ROOT record of the 2010 Z→μμ events, which the CSV record names.
ZMUMU_TITLE = "Z to two muons: 2,304 dimuon events of CMS 2010 data"
#: The columns of the 2010 Z→μμ events (``uproot-Zmumu.root`` and its CSV), the dimuon mass
#: first: what the histogram page offers before anything else.
ZMUMU_SEMANTICS: list[dict[str, str]] = [
    _variable("M", "The invariant mass of the two muons.", "GeV", "float"),
    _variable(
        "mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))",
        "The invariant mass of the two muons, computed from their four-momenta.",
        "GeV",
        "float",
    ),
    _variable(
        "Type",
        "The types of the two muons: G for a global muon, T for a tracker muon (GG, GT, TT).",
        "",
        "string",
    ),
    _variable("Run", "The run number of the event.", "", "int"),
    _variable("Event", "The event number.", "", "int"),
    *_muon("1"),
    *_muon("2"),
]
#: What the page offers for NanoAOD reduced to muons (and full NanoAOD).
NANOAOD_MUON_SEMANTICS: list[dict[str, str]] = [
    _variable(
        "mass(Muon[0], Muon[1])",
        "The invariant mass of the first two muons of the event (select nMuon == 2 and "
        "Muon[0].charge != Muon[1].charge for opposite-charge pairs).",
        "GeV",
        "float",
    ),
    _variable("nMuon", "The number of muons in the event.", "", "int"),
    _variable("Muon_pt", "The transverse momentum of each muon.", "GeV", "float"),
    _variable("Muon_eta", "The pseudorapidity of each muon.", "", "float"),
    _variable("Muon_phi", "The phi angle of each muon.", "rad", "float"),
    _variable("Muon_mass", "The mass of each muon.", "GeV", "float"),
    _variable("Muon_charge", "The charge of each muon (+1 or -1).", "e", "int"),
    _variable("pt(Muon[0], Muon[1])", "The transverse momentum of the dimuon.", "GeV", "float"),
    _variable(
        "delta_r(Muon[0], Muon[1])",
        "The distance in eta and phi between the first two muons.",
        "",
        "float",
    ),
]


#: The branches of the H→ZZ teaching sample (tree ``events``): objects as Px, Py, Pz, E.
HZZ_SEMANTICS: list[dict[str, str]] = [
    _variable(
        "mass(p4(Muon_E[0], Muon_Px[0], Muon_Py[0], Muon_Pz[0]), "
        "p4(Muon_E[1], Muon_Px[1], Muon_Py[1], Muon_Pz[1]))",
        "The invariant mass of the first two muons of the event.",
        "GeV",
        "float",
    ),
    _variable("sqrt(MET_px**2 + MET_py**2)", "The missing transverse momentum.", "GeV", "float"),
    _variable("NMuon", "The number of muons in the event.", "", "int"),
    _variable("NElectron", "The number of electrons in the event.", "", "int"),
    _variable("NJet", "The number of jets in the event.", "", "int"),
    _variable("NPhoton", "The number of photons in the event.", "", "int"),
    _variable(
        "sqrt(Muon_Px**2 + Muon_Py**2)", "The transverse momentum of each muon.", "GeV", "float"
    ),
    _variable("Muon_E", "The energy of each muon.", "GeV", "float"),
    _variable("Muon_Px", "The x component of the momentum of each muon.", "GeV", "float"),
    _variable("Muon_Py", "The y component of the momentum of each muon.", "GeV", "float"),
    _variable("Muon_Pz", "The z component of the momentum of each muon.", "GeV", "float"),
    _variable("Muon_Charge", "The charge of each muon.", "e", "int"),
    _variable("Muon_Iso", "The isolation of each muon.", "", "float"),
    _variable("Electron_E", "The energy of each electron.", "GeV", "float"),
    _variable("Jet_E", "The energy of each jet.", "GeV", "float"),
    _variable("Jet_btag", "The b-tagging discriminant of each jet.", "", "float"),
    _variable("Photon_E", "The energy of each photon.", "GeV", "float"),
    _variable("MET_px", "The x component of the missing transverse momentum.", "GeV", "float"),
    _variable("MET_py", "The y component of the missing transverse momentum.", "GeV", "float"),
    _variable("NPrimaryVertices", "The number of reconstructed primary vertices.", "", "int"),
    _variable("triggerIsoMu24", "Whether the isolated-muon trigger fired.", "", "bool"),
    _variable("EventWeight", "The weight of the event.", "", "float"),
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample file and the record that holds it."""

    recid: str
    directory: str
    file: str
    title: str
    description: str
    formats: list[str]
    number_events: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, size: int) -> dict[str, Any]:
        distribution: dict[str, Any] = {"formats": self.formats, "number_files": 1, "size": size}
        if self.number_events is not None:
            distribution["number_events"] = self.number_events
        return {
            **_COMMON,
            "recid": self.recid,
            "title": self.title,
            "abstract": {"description": self.description},
            "distribution": distribution,
            **self.extra,
        }


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "990001",
        "cms-samples",
        "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
        "DoubleMuParked 2012 in NanoAOD reduced on muons: the first 1,000 events, RNTuple",
        "<p>This sample holds the first 1,000 events of the DoubleMuParked 2012 dataset in "
        "NanoAOD format reduced to muons (record 12341), with its columns nMuon, Muon_pt, "
        "Muon_eta, Muon_phi, Muon_mass and Muon_charge, in ROOT's RNTuple format. It is a sample "
        f"of that record's file, not the full dataset. {_TESTDATA}</p>",
        ["root", "rntuple", "nanoaod-reduced"],
        1000,
        {
            "date_created": ["2012"],
            "dataset_semantics": NANOAOD_MUON_SEMANTICS,
            # As records 6004 and 6030 (the DoubleMuParked 2012 datasets 12341 derives from) say.
            "collision_information": {"energy": "8TeV", "type": "pp"},
            "relations": [
                {
                    "description": "This sample holds the first 1,000 events of that "
                    "record's file, Run2012BC_DoubleMuParked_Muons.root, in RNTuple format.",
                    "doi": "10.7483/OPENDATA.CMS.LVG5.QT81",
                    "recid": "12341",
                    "title": "DoubleMuParked dataset from 2012 in NanoAOD format reduced on muons",
                    "type": "isChildOf",
                }
            ],
        },
    ),
    Sample(
        "990002",
        "cms-samples",
        "nanoAOD_2015_CMS_Open_Data_ttbar.root",
        "CMS 2015 open data NanoAOD, ttbar simulation: 200-event sample (TTree)",
        "<p>This sample holds 200 events of CMS 2015 open-data NanoAOD of ttbar simulation, "
        f"with 947 branches in a TTree. {_TESTDATA}</p>",
        ["root", "nanoaod"],
        200,
        {"date_created": ["2015"]},
    ),
    Sample(
        "990003",
        "cms-samples",
        "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
        "CMS 2015 open data NanoAOD, ttbar simulation: 10-event sample (RNTuple)",
        "<p>This sample holds 10 events of CMS 2015 open-data NanoAOD of ttbar simulation, "
        f"converted to ROOT's RNTuple format. {_TESTDATA}</p>",
        ["root", "rntuple", "nanoaod"],
        10,
        {"date_created": ["2015"]},
    ),
    Sample(
        "990004",
        "cms-samples",
        "uproot-Zmumu.root",
        ZMUMU_TITLE,
        "<p>This sample holds 2,304 dimuon events of CMS 2010 data (run 148031) in the 'Z to "
        "two muons' education format, with the columns Type, Run, Event, E1, px1, py1, pz1, "
        f"pt1, eta1, phi1, Q1, E2, …, M. {_TESTDATA}</p>",
        ["root"],
        2304,
        {
            "date_created": ["2010"],
            "run_numbers": ["148031"],
            "dataset_semantics": ZMUMU_SEMANTICS,
            "usage": {
                "description": "<p>Its events are in the TTree named events. The same events "
                "are in record 990010 as CSV.</p>"
            },
        },
    ),
    Sample(
        "990005",
        "cms-samples",
        "uproot-HZZ.root",
        "H to ZZ teaching sample: 2,421 events",
        "<p>This is the classic H→ZZ teaching sample: 2,421 events with jets, muons, electrons "
        f"and photons given as Px, Py, Pz and E. {_TESTDATA}</p>",
        ["root"],
        2421,
        {
            "dataset_semantics": HZZ_SEMANTICS,
            "usage": {"description": "<p>Its events are in the TTree named events.</p>"},
        },
    ),
    Sample(
        "990006",
        "cms-samples",
        "uproot-small-dy-withoffsets.root",
        "Drell-Yan: 501 events, NanoAOD-like",
        "<p>This sample holds 501 Drell-Yan events in a NanoAOD-like layout (nJet, nMuon, "
        f"Jet_pt, MET_pt, Muon_pt, …). {_TESTDATA}</p>",
        ["root", "nanoaod"],
        501,
    ),
    Sample(
        "990007",
        "cms-samples",
        "nano_dimuon.root",
        "CMS 2018 collisions, full NanoAOD: 40 events of run 315267",
        "<p>This sample holds 40 events of real CMS 2018 collisions (run 315267) in full "
        "NanoAOD, with 1,601 branches in the TTrees Events and Runs. It ships in the coffea "
        "package's test samples.</p>",
        ["root", "nanoaod"],
        40,
        {
            "date_created": ["2018"],
            "run_numbers": ["315267"],
            "dataset_semantics": [
                *NANOAOD_MUON_SEMANTICS[:3],
                _variable(
                    "MET_pt", "The missing transverse momentum of the event.", "GeV", "float"
                ),
                _variable("nJet", "The number of jets in the event.", "", "int"),
                _variable("Jet_pt", "The transverse momentum of each jet.", "GeV", "float"),
                _variable("PV_npvs", "The number of reconstructed primary vertices.", "", "int"),
                _variable("luminosityBlock", "The luminosity section of the event.", "", "int"),
            ],
        },
    ),
    Sample(
        "990008",
        "ispy",
        "Hto4l_120-130GeV.ig",
        "Higgs to four leptons candidates of CMS 2012 data, iSpy event display file",
        "<p>This file holds real CMS 2012 events that are candidates for a Higgs boson "
        "decaying to four leptons, in the iSpy event display format (a zip of "
        "Events/Run_R/Event_E JSON with Types, Collections and Associations). It comes from "
        "cms-outreach/ispy-webgl.</p>",
        ["ig"],
        None,
        {"date_created": ["2012"]},
    ),
    Sample(
        "990009",
        "ispy",
        "DoubleMuParked_Run2012C_0.ig",
        "DoubleMuParked events of CMS 2012 data, iSpy event display file",
        "<p>This file holds real CMS 2012 DoubleMuParked events in the iSpy event display "
        "format (a zip of Events/Run_R/Event_E JSON with Types, Collections and Associations). "
        "It comes from cms-outreach/ispy-webgl.</p>",
        ["ig"],
        None,
        {"date_created": ["2012"]},
    ),
    Sample(
        "990010",
        "cms-samples",
        "Zmumu_2010.csv",
        "Z to two muons: 2,304 dimuon events of CMS 2010 data, CSV",
        "<p>This sample holds the 2,304 dimuon events of CMS 2010 data (run 148031) of record "
        "990004 as CSV, one line an event, with the columns Type, Run, Event, E1, px1, py1, "
        "pz1, pt1, eta1, phi1, Q1, E2, …, M of CODP's 'Z to two muons' education files. It "
        "comes from uproot-Zmumu.root, converted by the repository's scripts/zmumu_csv.py "
        "without changing a value.</p>",
        ["csv"],
        2304,
        {
            "date_created": ["2010"],
            "run_numbers": ["148031"],
            "dataset_semantics": ZMUMU_SEMANTICS,
            "relations": [
                {
                    "description": "This record holds the events of that record's "
                    "uproot-Zmumu.root, converted to CSV.",
                    "recid": "990004",
                    "title": ZMUMU_TITLE,
                    "type": "isChildOf",
                }
            ],
        },
    ),
)


def samples_from_wheel(wheel: Path, cache: Path) -> Path:
    """The ROOT samples a scikit-hep-testdata wheel holds, extracted to ``cache/cms-samples/``.

    ``pip download --no-deps scikit-hep-testdata==0.3.12`` fetches such a wheel; it holds
    uproot-Zmumu.root, uproot-HZZ.root and uproot-small-dy-withoffsets.root, byte for byte the
    files of the repository's ``data/cms-samples``. Returns ``cache``, to publish from like an
    anchors directory.
    """
    target_dir = cache / "cms-samples"
    with zipfile.ZipFile(wheel) as archive:
        for sample in SAMPLES:
            if sample.directory != "cms-samples":
                continue
            try:
                info = archive.getinfo(WHEEL_DATA + sample.file)
            except KeyError:
                continue
            if info.file_size > MAX_SAMPLE_BYTES:
                raise ValueError(f"{wheel}: {sample.file} is larger than a sample can be")
            target = target_dir / sample.file
            if target.is_file() and target.stat().st_size == info.file_size:
                continue
            target_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with archive.open(info) as source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            partial.replace(target)
    return cache


@dataclass(slots=True)
class SamplesReport:
    published: list[PublishResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        outcomes = [p.outcome for p in self.published]
        return {
            "created": outcomes.count("created"),
            "updated": outcomes.count("updated"),
            "unchanged": outcomes.count("unchanged"),
            "recids": [p.recid for p in self.published],
            "skipped": self.skipped,
        }


def publish_samples(
    curator: Curator, anchors: Path, progress: Callable[[str], None] | None = None
) -> SamplesReport:
    """Create (or leave as they are) the sample records whose files are under ``anchors``."""
    report = SamplesReport()
    for sample in SAMPLES:
        path = anchors / sample.directory / sample.file
        if not path.is_file():
            report.skipped.append(f"{sample.directory}/{sample.file}: not found under {anchors}")
            continue
        data = sample.record(path.stat().st_size)
        result = curator.publish(data, [(sample.file, path)])
        # The size in ``distribution`` is the file's as stored, should it differ from the stat.
        if result.files and result.files[0]["size"] != data["distribution"]["size"]:
            data["distribution"]["size"] = result.files[0]["size"]
            result = curator.publish(data, [(sample.file, path)])
        report.published.append(result)
        if progress is not None:
            progress(f"record {sample.recid} ({result.outcome}): {sample.file}")
    return report
