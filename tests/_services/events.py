"""An instance for the event display's tests (importable as ``_services.events``): the real
``openhep demo`` over one CODP record and the sample files (records 990001 to 990010, held
here: 990008 and 990009 are the iSpy files, 990007 full NanoAOD), plus records the tests need
and real data does not have:

* :data:`EMBARGOED`: the Hto4l ``.ig`` file in a record released in 2999 (not public);
* :data:`HOSTILE`: the Hto4l ``.ig`` file in a record whose title and file key hold markup and
  script (attacks are ours by necessity; the bytes are the real file);
* :data:`BROKEN`: ``.ig`` files made from the real one and then damaged — cut in half, an event
  that is not JSON, a column of a type iSpy does not have — each its own way of not being
  events.

It also computes, from the ``.ig`` zip's JSON with plain math (no ``openhep.events``), what
the tests compare the API's answers with: :func:`four_lepton_candidates`.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _services.serve import record_fields, sample_home
from openhep.services import Curator
from openhep.settings import Settings

HTO4L = "990008"
DOUBLEMU_IG = "990009"
NANO_DIMUON = "990007"
ZMUMU_ROOT = "990004"  # a ROOT file that is not NanoAOD (tree "events")
ZMUMU_CSV = "990010"  # no file the display reads
HTO4L_FILE = "Hto4l_120-130GeV.ig"
DOUBLEMU_IG_FILE = "DoubleMuParked_Run2012C_0.ig"
NANO_DIMUON_FILE = "nano_dimuon.root"
EMBARGOED = "990700"
HOSTILE = "990701"
BROKEN = "990702"
HOSTILE_TITLE = "Higgs </title><script>alert('title')</script> & <b>bold</b>"
HOSTILE_KEY = 'Hto4l_"><b>x.ig'
TRUNCATED = "truncated.ig"
BAD_JSON = "bad-json.ig"
UNKNOWN_TYPE = "unknown-type.ig"
#: Masses of the particles the four-lepton candidates are made of (GeV, PDG 2024).
MUON_MASS = 0.1056583755
ELECTRON_MASS = 0.00051099895

_COMMON = record_fields("A record of the event display tests.")


def _entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def broken_files(source: Path, target: Path) -> dict[str, Path]:
    """The damaged copies of the ``.ig`` file ``source``, written under ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    raw = source.read_bytes()
    entries = _entries(source)
    first = next(i for i, (name, _) in enumerate(entries) if name.startswith("Events/"))
    name, event = entries[first]
    text = event.decode()
    # One event that is not JSON: its first closing bracket gone.
    bad_json = [*entries]
    bad_json[first] = (name, text.replace("]", "", 1).encode())
    # One column of a type iSpy does not have.
    unknown = [*entries]
    unknown[first] = (name, text.replace("'double'", "'quaternion'", 1)
                      .replace('"double"', '"quaternion"', 1).encode())  # fmt: skip
    files = {
        TRUNCATED: raw[: len(raw) // 2],
        BAD_JSON: _zip(bad_json),
        UNKNOWN_TYPE: _zip(unknown),
    }
    paths = {}
    for key, data in files.items():
        path = target / key
        path.write_bytes(data)
        paths[key] = path
    return paths


def build_events_home(base: Path, codp_dir: Path, anchors: Path) -> Path:
    """The instance described above, under ``base/home``."""
    home = sample_home(base, codp_dir, anchors)
    hto4l = anchors / "ispy" / HTO4L_FILE
    broken = broken_files(hto4l, base / "broken")
    with Curator(Settings(home=home)) as curator:
        curator.publish(
            {**_COMMON, "recid": EMBARGOED, "title": "Embargoed Higgs candidates",
             "release_date": "2999-01-01"},
            [(HTO4L_FILE, hto4l)],
        )  # fmt: skip
        curator.publish(
            {**_COMMON, "recid": HOSTILE, "title": HOSTILE_TITLE}, [(HOSTILE_KEY, hto4l)]
        )
        curator.publish(
            {**_COMMON, "recid": BROKEN, "title": "Damaged iSpy files"},
            [(key, path) for key, path in broken.items()],
        )
    return home


# -- the four-lepton candidates, from the file's JSON --------------------------------------------


@dataclass(frozen=True)
class Lepton:
    collection: str
    row: int
    flavour: str  # "mu" or "e"
    pt: float
    eta: float
    phi: float
    charge: int


@dataclass(frozen=True)
class Candidate:
    """An event of the file with exactly four leptons forming two opposite-charge,
    same-flavour pairs, and their four-lepton mass."""

    entry: str
    run: int
    event: int
    leptons: tuple[Lepton, ...]
    mass: float

    @property
    def number(self) -> tuple[int, int]:
        """(run, event): how the API's event ids name it."""
        return self.run, self.event


def _event_json(data: bytes) -> dict[str, Any]:
    # Bare nan is what keeps these events from being JSON (the only departure in this file).
    parsed: dict[str, Any] = json.loads(re.sub(rb"\bnan\b", b"null", data))
    return parsed


def _rows(event: dict[str, Any], name: str) -> list[dict[str, Any]]:
    columns = [column for column, _ in event["Types"].get(name, [])]
    return [dict(zip(columns, row, strict=True)) for row in event["Collections"].get(name, [])]


def leptons_mass(leptons: tuple[Lepton, ...]) -> float:
    """The invariant mass of the leptons' four-momentum sum (GeV), with plain math."""
    e = px = py = pz = 0.0
    for lepton in leptons:
        m = MUON_MASS if lepton.flavour == "mu" else ELECTRON_MASS
        x, y = lepton.pt * math.cos(lepton.phi), lepton.pt * math.sin(lepton.phi)
        z = lepton.pt * math.sinh(lepton.eta)
        e += math.sqrt(x * x + y * y + z * z + m * m)
        px, py, pz = px + x, py + y, pz + z
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def four_lepton_candidates(path: Path) -> list[Candidate]:
    """The four-lepton candidate of each event of ``path`` (an ``.ig`` file) that has one: of
    its global muons and GSF electrons, the four in two opposite-charge same-flavour pairs of
    the largest scalar sum of pt, with their mass."""
    found = []
    for entry, data in _entries(path):
        if not entry.startswith("Events/"):
            continue
        event = _event_json(data)
        leptons: list[Lepton] = []
        for collection, flavour in (("GlobalMuons_V1", "mu"), ("GsfElectrons_V2", "e")):
            for row, values in enumerate(_rows(event, collection)):
                leptons.append(Lepton(collection, row, flavour, float(values["pt"]),
                                      float(values["eta"]), float(values["phi"]),
                                      int(values["charge"])))  # fmt: skip
        # Of every four that make two opposite-charge same-flavour pairs, the one of the
        # largest scalar sum of pt (an event may hold a fifth lepton).
        best: tuple[Lepton, ...] | None = None
        for four in itertools.combinations(leptons, 4):
            charges: dict[str, list[int]] = {}
            for lepton in four:
                charges.setdefault(lepton.flavour, []).append(lepton.charge)
            if any(len(c) % 2 or sum(c) for c in charges.values()):
                continue
            if best is None or sum(x.pt for x in four) > sum(x.pt for x in best):
                best = four
        if best is None:
            continue
        header = _rows(event, "Event_V2")[0]
        run, number = int(header["run"]), int(header["event"])
        found.append(Candidate(entry, run, number, best, leptons_mass(best)))
    return found
