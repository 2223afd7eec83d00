"""The physics of the display: helices of charged particles in CMS's solenoid field (closed
form, not stepped), and the invariant mass of a set of objects (the masterclass calculator)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import vector

from openhep.events import _detector as cms

#: The field inside CMS's solenoid (tesla), along +z.
MAGNETIC_FIELD_TESLA = 3.8
#: The field in the return yoke between the muon stations (tesla): opposite to the inner
#: field, about half as strong (CMS, "Precise mapping of the magnetic field in the CMS barrel
#: yoke", JINST 5 (2010) T03021: 1.8 T in the yoke's iron).
RETURN_FIELD_TESLA = -1.8
#: The speed of light in the units of the helix: R [m] = pt [GeV] / (C * |q| * B [T]).
SPEED_OF_LIGHT_GEV_PER_TESLA_METRE = 0.299792458
#: Lepton masses (GeV; PDG 2024) for objects that carry no mass of their own.
MUON_MASS_GEV = 0.1056583755
ELECTRON_MASS_GEV = 0.00051099895
SPECIES_MASS_GEV: Mapping[str, float] = {"muon": MUON_MASS_GEV, "electron": ELECTRON_MASS_GEV}
#: The largest |eta| drawn: beyond it sinh and cosh overflow long before anything physical
#: (CMS's forward calorimeter ends at |eta| = 5.2).
MAX_ABS_ETA = 100.0
#: A radius of curvature beyond this many times the boundary is drawn as a straight line
#: (the closed form loses digits to cancellation there; the sagitta is below a micron).
_STRAIGHT_RATIO = 1e7


def helix(
    pt: float,
    eta: float,
    phi: float,
    charge: float,
    vertex: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    field: float = MAGNETIC_FIELD_TESLA,
    r_max: float = cms.TRACKER_RADIUS,
    z_max: float = cms.TRACKER_HALF_LENGTH,
    steps: int = 48,
) -> list[tuple[float, float, float]]:
    """The path (metres) of a particle of transverse momentum ``pt`` (GeV), pseudorapidity
    ``eta``, azimuth ``phi`` (of its momentum at the vertex) and ``charge`` (units of e) from
    ``vertex`` in a uniform ``field`` (tesla, along +z) until it leaves the cylinder of radius
    ``r_max`` and half-length ``z_max``: ``steps`` points equally spaced in turning angle,
    the last exactly on the cylinder. A particle that curls up inside (its circle never
    reaches ``r_max`` and it never reaches ``z_max``) is drawn for one full turn. Neutral
    particles (or no field) go straight. Bad input → ValueError."""
    return _path(pt, eta, phi, charge, vertex, field, r_max, z_max, steps)[0]


def _path(
    pt: float,
    eta: float,
    phi: float,
    charge: float,
    vertex: Sequence[float],
    field: float,
    r_max: float,
    z_max: float,
    steps: int,
) -> tuple[list[tuple[float, float, float]], float, bool]:
    """The helix's points, the azimuth of its momentum at the last point, and whether the
    last point is on the cylinder."""
    numbers = (pt, eta, phi, charge, field, r_max, z_max, *vertex)
    if len(vertex) != 3 or not all(math.isfinite(float(x)) for x in numbers):
        raise ValueError("helix: pt, eta, phi, charge, field, bounds and a 3D vertex, all finite")
    if pt <= 0 or r_max <= 0 or z_max <= 0 or steps < 2:
        raise ValueError("helix: pt, r_max and z_max above 0, at least 2 steps")
    if abs(eta) > MAX_ABS_ETA:
        raise ValueError(f"helix: |eta| at most {MAX_ABS_ETA:g}")
    x0, y0, z0 = (float(v) for v in vertex)
    if math.hypot(x0, y0) >= r_max or abs(z0) >= z_max:
        raise ValueError("helix: the vertex must be inside the cylinder")
    sinh_eta = math.sinh(eta)
    curvature = SPEED_OF_LIGHT_GEV_PER_TESLA_METRE * abs(charge * field) / pt  # 1/R
    if curvature * r_max * _STRAIGHT_RATIO <= 1:
        return _line(x0, y0, z0, phi, sinh_eta, r_max, z_max, steps)
    radius = 1 / curvature
    # Positive charges turn clockwise seen from +z in a field along +z (F = q v x B).
    h = -1.0 if charge * field > 0 else 1.0
    cx, cy = x0 - h * radius * math.sin(phi), y0 + h * radius * math.cos(phi)
    # r^2 along the circle = d^2 + R^2 + 2hRd sin(phi_t - beta), phi_t the momentum azimuth.
    d = math.hypot(cx, cy)
    turn_r = math.inf
    if d > 0:
        k = (r_max * r_max - d * d - radius * radius) / (2 * h * radius * d)
        if -1 <= k <= 1:
            beta = math.atan2(cy, cx)
            turns = []
            for target in (beta + math.asin(k), beta + math.pi - math.asin(k)):
                turn = (h * (target - phi)) % (2 * math.pi)
                turns.append(turn if turn > 1e-12 else turn + 2 * math.pi)
            turn_r = min(turns)
    turn_z = math.inf
    if sinh_eta != 0:
        turn_z = (math.copysign(z_max, sinh_eta) - z0) / (radius * sinh_eta)
    on_boundary = min(turn_r, turn_z) <= 2 * math.pi
    end = min(turn_r, turn_z, 2 * math.pi)

    def at(turn: float) -> tuple[float, float, float]:
        p = phi + h * turn
        return (
            x0 + h * radius * (math.sin(p) - math.sin(phi)),
            y0 - h * radius * (math.cos(p) - math.cos(phi)),
            z0 + radius * turn * sinh_eta,
        )

    points = [at(end * i / (steps - 1)) for i in range(steps)]
    if on_boundary:
        points[-1] = _snap(points[-1], end == turn_r, r_max, z_max, sinh_eta)
    return points, phi + h * end, on_boundary


def _line(
    x0: float,
    y0: float,
    z0: float,
    phi: float,
    sinh_eta: float,
    r_max: float,
    z_max: float,
    steps: int,
) -> tuple[list[tuple[float, float, float]], float, bool]:
    ux, uy = math.cos(phi), math.sin(phi)
    b = x0 * ux + y0 * uy
    s_r = -b + math.sqrt(b * b - (x0 * x0 + y0 * y0 - r_max * r_max))
    s_z = (math.copysign(z_max, sinh_eta) - z0) / sinh_eta if sinh_eta != 0 else math.inf
    s = min(s_r, s_z)
    points = [
        (
            x0 + ux * s * i / (steps - 1),
            y0 + uy * s * i / (steps - 1),
            z0 + sinh_eta * s * i / (steps - 1),
        )
        for i in range(steps)
    ]
    points[-1] = _snap(points[-1], s == s_r, r_max, z_max, sinh_eta)
    return points, phi, True


def _snap(
    point: tuple[float, float, float], barrel: bool, r_max: float, z_max: float, sinh_eta: float
) -> tuple[float, float, float]:
    """The last point put exactly on the cylinder (it is there to rounding already)."""
    x, y, z = point
    if barrel:
        scale = r_max / math.hypot(x, y)
        return x * scale, y * scale, z
    return x, y, math.copysign(z_max, sinh_eta)


def muon_path(
    pt: float,
    eta: float,
    phi: float,
    charge: float,
    vertex: Sequence[float],
    steps: int = 48,
) -> list[tuple[float, float, float]]:
    """A muon from its vertex out through the solenoid (3.8 T) and on through the return
    yoke (RETURN_FIELD_TESLA) to the outside of the muon system."""
    inner, exit_phi, crossed = _path(
        pt,
        eta,
        phi,
        charge,
        vertex,
        MAGNETIC_FIELD_TESLA,
        cms.SOLENOID_RADIUS,
        cms.SOLENOID_FIELD_HALF_LENGTH,
        steps,
    )
    if not crossed:
        return inner
    outer, _, _ = _path(
        pt,
        eta,
        exit_phi,
        charge,
        inner[-1],
        RETURN_FIELD_TESLA,
        cms.MUON_RADIUS,
        cms.MUON_HALF_LENGTH,
        max(2, steps // 2),
    )
    return inner + outer[1:]


def invariant_mass(objects: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """(mass, pt) in GeV of the four-vector sum of ``objects`` (each with ``pt``, ``eta``,
    ``phi``; its ``mass`` when it has one, else its species' (``type`` muon or electron),
    else 0). An object without finite pt, eta, phi → ValueError; none → (0, 0)."""
    pts: list[float] = []
    etas: list[float] = []
    phis: list[float] = []
    masses: list[float] = []
    for n, found in enumerate(objects):
        try:
            pt, eta, phi = (float(found[k]) for k in ("pt", "eta", "phi"))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"object {n}: needs numbers pt, eta and phi") from None
        if not all(math.isfinite(x) for x in (pt, eta, phi)):
            raise ValueError(f"object {n}: pt, eta and phi must be finite")
        mass = found.get("mass")
        if not isinstance(mass, int | float) or not math.isfinite(mass) or mass < 0:
            mass = SPECIES_MASS_GEV.get(str(found.get("type")), 0.0)
        pts.append(pt)
        etas.append(eta)
        phis.append(phi)
        masses.append(float(mass))
    if not pts:
        return 0.0, 0.0
    four: Any = vector.array({"pt": pts, "eta": etas, "phi": phis, "mass": masses})
    energy, px, py, pz = (float(np.sum(c)) for c in (four.E, four.px, four.py, four.pz))
    # Rounding can leave a massless sum a hair below zero: its mass is 0.
    mass = math.sqrt(max(0.0, energy * energy - px * px - py * py - pz * pz))
    pt_sum = math.hypot(px, py)
    if not (math.isfinite(mass) and math.isfinite(pt_sum)):
        raise ValueError("the objects' momenta are too large to add")
    return mass, pt_sum
