"""The CMS outline and the drawing data's rules: JSON-able, metres, compact, capped."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from openhep.events import DETECTOR
from openhep.events import _draw as draw


def test_detector_outline() -> None:
    text = json.dumps(DETECTOR, allow_nan=False)
    assert len(text) < 150_000
    names = {p["name"] for p in DETECTOR["parts"]}
    assert {"tracker", "ecal-barrel", "hcal-barrel", "solenoid", "muon-barrel-4"} <= names
    groups = {p["group"] for p in DETECTOR["parts"]}
    assert groups == {"tracker", "ecal", "hcal", "solenoid", "muon"}
    # Nested as CMS is: tracker < ECAL < HCAL < coil < muon stations (barrel radii).
    radius = {p["name"]: (p["r_min"], p["r_max"]) for p in DETECTOR["parts"]}
    order = ["tracker", "ecal-barrel", "hcal-barrel", "solenoid", "muon-barrel-1", "muon-barrel-4"]
    assert all(radius[a][1] <= radius[b][0] for a, b in itertools.pairwise(order))
    for view, size in (("3d", 3), ("rphi", 2), ("rhoz", 2)):
        assert DETECTOR["lines"][view]
        for line in DETECTOR["lines"][view]:
            assert all(len(p) == size for p in line["points"])


def test_towers_keep_the_front_face_and_scale_by_energy() -> None:
    front = [[1.3, 0.0, 0.0], [1.3, 0.02, 0.0], [1.3, 0.02, 0.02], [1.3, 0.0, 0.02]]
    back = [[1.5, 0.0, 0.0], [1.5, 0.02, 0.0], [1.5, 0.02, 0.02], [1.5, 0.0, 0.02]]
    hits = [
        ("EBRecHits_V2", "EB", 10.0, 0.0, 0.0, front, back),
        ("EBRecHits_V2", "EB", 5.0, 0.0, 0.0, front, back),
        ("EBRecHits_V2", "EB", 0.1, 0.0, 0.0, front, back),  # below threshold
    ]
    towers, dropped = draw.towers(hits)
    assert dropped == {"below_threshold": 1, "over_count": 0}
    big, small = towers
    assert big["corners"][:4] == front
    assert big["corners"][4][0] - 1.3 == pytest.approx(draw.TOWER_MAX_LENGTH["ecal"])
    assert small["corners"][4][0] - 1.3 == pytest.approx(draw.TOWER_MAX_LENGTH["ecal"] / 2)
    many = [
        ("HBRecHits_V2", "HB", 1.0 + k, 0.0, 0.0, front, back) for k in range(draw.MAX_TOWERS + 7)
    ]
    towers, dropped = draw.towers(many)
    assert len(towers) == draw.MAX_TOWERS and dropped["over_count"] == 7
    assert towers[0]["energy"] == 1.0 + draw.MAX_TOWERS + 6  # the most energetic are kept


def test_paths_are_rounded_and_capped() -> None:
    points = [(math.cos(k / 100), math.sin(k / 100), k * 1e-5) for k in range(500)]
    kept = draw.path(points)
    assert len(kept) == draw.MAX_PATH_POINTS
    assert kept[0] == [1.0, 0.0, 0.0]
    assert kept[-1] == [round(math.cos(4.99), 4), round(math.sin(4.99), 4), 0.005]
    assert draw.path([(0, 0, 0), (0, 0, 0.00001), (1, 1, 1)]) == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]


def test_jets_and_met() -> None:
    jet = draw.jet("PFJets_V1:0", "PFJets_V1", 0.0, math.pi / 2, 50.0)
    assert jet["axis"] == [0.0, 1.0, 0.0]
    assert jet["length"] == 1.0 and jet["radius"] == 0.4
    assert draw.jet("j", "J", 0.0, 0.0, 1e6)["length"] == draw.JET_MAX_LENGTH
    met = draw.met("MET:0", "MET", 40.0, 0.0)
    assert met["end"] == [1.2, 0.0, 0.0]


def test_bezier_ends_and_directions() -> None:
    curve = draw.bezier((0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0))
    assert curve[0] == (0.0, 0.0, 0.0) and curve[-1] == (1.0, 1.0, 0.0)
    # leaves along +x
    assert curve[1][0] > 0 and abs(curve[1][1]) < curve[1][0]
