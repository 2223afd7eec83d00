"""The four-lepton candidates of Hto4l_120-130GeV.ig: their mass through the package is
within 120-130 GeV and equals the mass computed here from the file's JSON with plain math."""

from __future__ import annotations

import itertools
import json
import math
import re
import zipfile
from pathlib import Path

import pytest

from openhep.events import invariant_mass, open_events

MUON = 0.1056583755
ELECTRON = 0.00051099895


def four_vector(pt: float, eta: float, phi: float, mass: float) -> tuple[float, ...]:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return (math.sqrt(px * px + py * py + pz * pz + mass * mass), px, py, pz)


def mass_of(vectors: list[tuple[float, ...]]) -> float:
    e, x, y, z = (sum(v[k] for v in vectors) for k in range(4))
    return math.sqrt(max(0.0, e * e - x * x - y * y - z * z))


def candidates(path: Path) -> list[tuple[int, list[str], float, float]]:
    """Per event: the 4 leptons (global muons, GSF electrons) forming two opposite-charge
    same-flavour pairs with the largest scalar sum of pt, their ids and mass."""
    found = []
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("Events/")]
        for index, name in enumerate(names):
            text = re.sub(rb"\bnan\b", b"NaN", archive.read(name))
            document = json.loads(text)
            leptons = []
            for collection, flavour in (("GlobalMuons_V1", "mu"), ("GsfElectrons_V2", "e")):
                columns = [c[0] for c in document["Types"][collection]]
                for n, row in enumerate(document["Collections"][collection]):
                    values = dict(zip(columns, row, strict=True))
                    leptons.append((f"{collection}:{n}", flavour, values))
            best = None
            for four in itertools.combinations(leptons, 4):
                charges: dict[str, list[int]] = {}
                for _, flavour, values in four:
                    charges.setdefault(flavour, []).append(values["charge"])
                if all(len(c) % 2 == 0 and sum(c) == 0 for c in charges.values()):
                    total = sum(v["pt"] for _, _, v in four)
                    if best is None or total > best[0]:
                        best = (total, four)
            if best is None:
                continue
            vectors = [
                four_vector(v["pt"], v["eta"], v["phi"], MUON if f == "mu" else ELECTRON)
                for _, f, v in best[1]
            ]
            pt = math.hypot(sum(v[1] for v in vectors), sum(v[2] for v in vectors))
            found.append((index, [i for i, _, _ in best[1]], mass_of(vectors), pt))
    return found


def test_four_lepton_mass_within_120_130(anchors: Path) -> None:
    path = anchors / "ispy" / "Hto4l_120-130GeV.ig"
    expected = candidates(path)
    assert len(expected) == 11  # every event holds a candidate
    source = open_events(str(path))
    try:
        for index, ids, mass, pt in expected:
            assert 120 <= mass <= 130, (index, mass)
            got, got_pt = invariant_mass(source.event(index).select(ids))
            assert got == pytest.approx(mass, abs=1e-6)
            assert got_pt == pytest.approx(pt, abs=1e-6)
    finally:
        source.close()


def test_mass_of_objects_by_species_and_own_mass() -> None:
    back_to_back = [
        {"pt": 45.0, "eta": 0.0, "phi": 0.0, "type": "muon"},
        {"pt": 45.0, "eta": 0.0, "phi": math.pi, "type": "muon"},
    ]
    mass, pt = invariant_mass(back_to_back)
    assert mass == pytest.approx(2 * math.sqrt(45.0**2 + MUON**2))
    assert pt == pytest.approx(0.0, abs=1e-9)
    # An object's own mass wins over its species'; no species → massless.
    heavy = [{**back_to_back[0], "mass": 10.0}, {**back_to_back[1], "type": "jet"}]
    assert invariant_mass(heavy)[0] == pytest.approx(math.sqrt(45.0**2 + 100) + 45.0)
    assert invariant_mass([]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="object 0"):
        invariant_mass([{"pt": 1.0, "eta": None, "phi": 0.0}])
    with pytest.raises(ValueError, match="finite"):
        invariant_mass([{"pt": math.inf, "eta": 0.0, "phi": 0.0}])
