"""The drawing data both readers build: paths (tracks, muons, electrons, photons) as
polylines, jets as cones, missing energy as an arrow, calorimeter hits as energy-scaled
towers, vertices as points; compact (0.1 mm, capped) and JSON-able (metres)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from openhep.events import _detector as cms
from openhep.events._physics import MAX_ABS_ETA

#: Coordinates are rounded to 0.1 mm (metres, 4 decimals): below the display's resolution,
#: and a third of the JSON of full doubles.
DIGITS = 4
#: The most points a drawn path keeps (an iSpy track is a Bezier curve of 24 points).
MAX_PATH_POINTS = 64
BEZIER_POINTS = 24
#: iSpy's factor for a track's Bezier control points: a quarter of the distance between its
#: first and last states (ispy-webgl reproduces iSpy's NURBS tracks with it).
BEZIER_CONTROL = 0.25
#: Towers: hits below their calorimeter's threshold (GeV) are not drawn, and at most
#: MAX_TOWERS of the others (the most energetic); the rest are counted in ``dropped``.
TOWER_THRESHOLD_GEV = {"EB": 0.25, "EE": 0.5, "HB": 0.5, "HE": 0.5, "HF": 1.0, "HO": 0.5}
MAX_TOWERS = 1500
#: The longest tower (metres), given to the most energetic hit of its calorimeter (ECAL or
#: HCAL); the others are scaled by their energy.
TOWER_MAX_LENGTH = {"ecal": 0.6, "hcal": 1.0}
#: Jet cones: length grows with energy to JET_MAX_LENGTH; radius = JET_RADIUS_RATIO x length
#: (a cone of about the anti-kT R = 0.4 jets' width at eta = 0).
JET_METRES_PER_GEV = 0.02
JET_MIN_LENGTH = 0.3
JET_MAX_LENGTH = 2.5
JET_RADIUS_RATIO = 0.4
#: The missing-energy arrow: length grows with pt to MET_MAX_LENGTH, in the transverse plane.
MET_METRES_PER_GEV = 0.03
MET_MAX_LENGTH = 3.0

Point = Sequence[float | None]


def energy_of(pt: float, eta: float, mass: float = 0.0) -> float | None:
    """E from pt, eta and mass; None when it does not fit a float (a nonsense eta)."""
    try:
        energy = math.hypot(pt * math.cosh(eta), mass)
    except OverflowError:
        return None
    return energy if math.isfinite(energy) else None


def _clamped(eta: float) -> float:
    return max(-MAX_ABS_ETA, min(MAX_ABS_ETA, eta))


def rounded(point: Point) -> list[float]:
    return [round(float(x or 0.0), DIGITS) for x in point]


def path(points: Iterable[Point]) -> list[list[float]]:
    """A polyline rounded, without repeated points (nor points that are not finite: paths
    of nonsense momenta), thinned to MAX_PATH_POINTS (its ends kept)."""
    kept: list[list[float]] = []
    for point in points:
        p = rounded(point)
        if not all(math.isfinite(c) for c in p):
            continue
        if not kept or p != kept[-1]:
            kept.append(p)
    if len(kept) > MAX_PATH_POINTS:
        step = (len(kept) - 1) / (MAX_PATH_POINTS - 1)
        kept = [kept[round(i * step)] for i in range(MAX_PATH_POINTS)]
    return kept


def bezier(
    start: Point, start_dir: Point, end: Point, end_dir: Point
) -> list[tuple[float, float, float]]:
    """iSpy's track curve: the cubic Bezier from ``start`` to ``end`` leaving and arriving
    along the given directions, its control points BEZIER_CONTROL of the chord away."""
    p0 = [float(x or 0.0) for x in start]
    p3 = [float(x or 0.0) for x in end]
    chord = math.dist(p0, p3) * BEZIER_CONTROL
    d0 = _unit(start_dir)
    d3 = _unit(end_dir)
    p1 = [p0[k] + chord * d0[k] for k in range(3)]
    p2 = [p3[k] - chord * d3[k] for k in range(3)]
    points = []
    for i in range(BEZIER_POINTS):
        t = i / (BEZIER_POINTS - 1)
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
        points.append(
            (
                a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
                a * p0[2] + b * p1[2] + c * p2[2] + d * p3[2],
            )
        )
    return points


def _unit(v: Point) -> list[float]:
    x = [float(c or 0.0) for c in v]
    norm = math.sqrt(sum(c * c for c in x))
    return [c / norm for c in x] if norm > 0 else [0.0, 0.0, 0.0]


def jet(object_id: str, collection: str, eta: float, phi: float, energy: float) -> dict[str, Any]:
    """A cone from the interaction point along (eta, phi), longer for more energy."""
    length = min(JET_MAX_LENGTH, max(JET_MIN_LENGTH, energy * JET_METRES_PER_GEV))
    theta = 2 * math.atan(math.exp(-_clamped(eta)))
    axis = [math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)]
    return {
        "id": object_id,
        "collection": collection,
        "eta": round(eta, 4),
        "phi": round(phi, 4),
        "energy": round(energy, 3),
        "length": round(length, DIGITS),
        "radius": round(length * JET_RADIUS_RATIO, DIGITS),
        "axis": [round(c, 5) for c in axis],
    }


def met(object_id: str, collection: str, pt: float, phi: float) -> dict[str, Any]:
    """An arrow in the transverse plane from the beam line, along phi, longer for more pt."""
    length = min(MET_MAX_LENGTH, pt * MET_METRES_PER_GEV)
    return {
        "id": object_id,
        "collection": collection,
        "pt": round(pt, 3),
        "phi": round(phi, 4),
        "length": round(length, DIGITS),
        "end": rounded((length * math.cos(phi), length * math.sin(phi), 0.0)),
    }


def photon_line(start: Point, end: Point | None, eta: float, phi: float) -> list[list[float]]:
    """A neutral straight line from ``start`` to ``end`` (its calorimeter position), or on
    to the front of the ECAL along (eta, phi) when there is no such position."""
    if end is None or any(c is None for c in end):
        theta = 2 * math.atan(math.exp(-_clamped(eta)))
        direction = (
            math.sin(theta) * math.cos(phi),
            math.sin(theta) * math.sin(phi),
            math.cos(theta),
        )
        reach = min(
            cms.ECAL_RADIUS / max(1e-9, math.hypot(direction[0], direction[1])),
            cms.ECAL_HALF_LENGTH / max(1e-9, abs(direction[2])),
        )
        end = tuple(float(s or 0.0) + reach * c for s, c in zip(start, direction, strict=True))
    return path([start, end])


def towers(
    hits: list[tuple[str, str, float, float, float, list[Point], list[Point]]],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Calorimeter hits (collection, detector EB/EE/HB/…, energy, eta, phi, front corners,
    back corners) → towers: the front face kept, the back face moved along each edge to a
    length scaled by energy; below-threshold and beyond-the-cap hits counted, not drawn."""
    below = 0
    kept = []
    for hit in hits:
        threshold = TOWER_THRESHOLD_GEV.get(hit[1], 0.5)
        if hit[2] < threshold or any(c is None for p in (*hit[5], *hit[6]) for c in p):
            below += 1
        else:
            kept.append(hit)
    kept.sort(key=lambda h: -h[2])
    over = max(0, len(kept) - MAX_TOWERS)
    kept = kept[:MAX_TOWERS]
    largest: dict[str, float] = {}
    for _, detector, energy, *_rest in kept:
        group = _group(detector)
        largest[group] = max(largest.get(group, 0.0), energy)
    drawn = []
    for collection, detector, energy, eta, phi, front, back in kept:
        group = _group(detector)
        length = TOWER_MAX_LENGTH[group] * energy / largest[group]
        corners = [rounded(p) for p in front]
        for f, b in zip(front, back, strict=True):
            direction = _unit(
                [float(bb or 0.0) - float(ff or 0.0) for ff, bb in zip(f, b, strict=True)]
            )
            corners.append(rounded([float(f[k] or 0.0) + length * direction[k] for k in range(3)]))
        if not all(math.isfinite(c) for corner in corners for c in corner):
            continue
        drawn.append(
            {
                "collection": collection,
                "detector": detector,
                "energy": round(energy, 3),
                "eta": round(eta, 4),
                "phi": round(phi, 4),
                "corners": corners,
            }
        )
    return drawn, {"below_threshold": below, "over_count": over}


def _group(detector: str) -> str:
    return "ecal" if detector.startswith("E") else "hcal"


def empty_draw() -> dict[str, Any]:
    return {
        "tracks": [],
        "muons": [],
        "electrons": [],
        "photons": [],
        "jets": [],
        "met": [],
        "towers": [],
        "vertices": [],
        "chambers": [],
        "dropped": {},
        "other": {},
    }
