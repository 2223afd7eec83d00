"""A simplified CMS outline for the display (metres): the volumes of the tracker, the
calorimeters, the solenoid and the muon stations as cylinders and disks, with their lines
ready to draw in 3D and in the r-phi and rho-z projections.

Dimensions: CMS Collaboration, "The CMS experiment at the CERN LHC", JINST 3 (2008) S08004
(rounded to the centimetre; the display needs the shapes, not the survey)."""

from __future__ import annotations

import math
from typing import Any

#: The tracker's outer radius and half-length: where drawn tracks end.
TRACKER_RADIUS = 1.1
TRACKER_HALF_LENGTH = 2.8
#: The inner radius of the solenoid's coil and the half-length of the 3.8 T region drawn
#: (the endcap calorimeters end at 5.6 m; beyond them muons are in the yoke's return field).
SOLENOID_RADIUS = 2.95
SOLENOID_FIELD_HALF_LENGTH = 5.6
#: The outside of the muon system: where drawn muons end.
MUON_RADIUS = 7.4
MUON_HALF_LENGTH = 10.6
#: Where the electromagnetic calorimeter's front faces are (electron and photon lines end).
ECAL_RADIUS = 1.29
ECAL_HALF_LENGTH = 3.15

# name, group, r_min, r_max, z_min, z_max (one side; endcaps are mirrored), sides of the
# polygon in r-phi (0: a circle; the barrel muon stations are 12-sided).
_PARTS: tuple[tuple[str, str, float, float, float, float, int], ...] = (
    ("tracker", "tracker", 0.0, TRACKER_RADIUS, 0.0, TRACKER_HALF_LENGTH, 0),
    ("ecal-barrel", "ecal", ECAL_RADIUS, 1.75, 0.0, 3.0, 0),
    ("ecal-endcap", "ecal", 0.32, 1.71, ECAL_HALF_LENGTH, 3.9, 0),
    ("hcal-barrel", "hcal", 1.77, SOLENOID_RADIUS, 0.0, 4.33, 0),
    ("hcal-endcap", "hcal", 0.39, 2.9, 3.9, SOLENOID_FIELD_HALF_LENGTH, 0),
    ("hcal-forward", "hcal", 0.13, 1.4, 11.15, 12.8, 0),
    ("solenoid", "solenoid", SOLENOID_RADIUS, 3.5, 0.0, 6.25, 0),
    ("muon-barrel-1", "muon", 4.0, 4.35, 0.0, 6.6, 12),
    ("muon-barrel-2", "muon", 4.85, 5.2, 0.0, 6.6, 12),
    ("muon-barrel-3", "muon", 5.9, 6.25, 0.0, 6.6, 12),
    ("muon-barrel-4", "muon", 6.95, MUON_RADIUS, 0.0, 6.6, 12),
    ("muon-endcap-1", "muon", 1.0, 6.9, 6.7, 7.0, 0),
    ("muon-endcap-2", "muon", 1.4, 6.9, 8.1, 8.4, 0),
    ("muon-endcap-3", "muon", 1.6, 6.9, 9.3, 9.6, 0),
    ("muon-endcap-4", "muon", 1.8, 6.9, 10.3, MUON_HALF_LENGTH, 0),
)
_CIRCLE_SEGMENTS = 48


def _ring(r: float, z: float, sides: int) -> list[list[float]]:
    n = sides or _CIRCLE_SEGMENTS
    # A polygon's flat sides face the axes as CMS's wheels do (a vertex at phi = pi/n).
    offset = math.pi / n if sides else 0.0
    return [
        [
            round(r * math.cos(offset + 2 * math.pi * k / n), 4),
            round(r * math.sin(offset + 2 * math.pi * k / n), 4),
            z,
        ]
        for k in range(n + 1)
    ]


def _build() -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    lines_3d: list[dict[str, Any]] = []
    rphi: list[dict[str, Any]] = []
    rhoz: list[dict[str, Any]] = []
    for name, group, r_min, r_max, z_min, z_max, sides in _PARTS:
        endcap = z_min > 0
        parts.append(
            {
                "name": name,
                "group": group,
                "r_min": r_min,
                "r_max": r_max,
                "z_min": -z_max if not endcap else z_min,
                "z_max": z_max,
                "mirrored": endcap,
                "sides": sides,
            }
        )
        for sign in (1.0, -1.0) if endcap else (1.0,):
            near, far = (sign * z_min, sign * z_max) if endcap else (-z_max, z_max)
            for z in (near, far):
                lines_3d.append({"name": name, "group": group, "points": _ring(r_max, z, sides)})
            if r_min > 0 and endcap:
                lines_3d.append({"name": name, "group": group, "points": _ring(r_min, near, sides)})
            for k in range(4):
                a = math.pi / 4 + k * math.pi / 2
                x, y = round(r_max * math.cos(a), 4), round(r_max * math.sin(a), 4)
                lines_3d.append(
                    {"name": name, "group": group, "points": [[x, y, near], [x, y, far]]}
                )
            for rho_sign in (1.0, -1.0):
                a, b = rho_sign * r_min, rho_sign * r_max
                rhoz.append(
                    {
                        "name": name,
                        "group": group,
                        "points": [[near, a], [far, a], [far, b], [near, b], [near, a]],
                    }
                )
        if not endcap:
            for r in (r_min, r_max) if r_min > 0 else (r_max,):
                rphi.append(
                    {"name": name, "group": group, "points": [p[:2] for p in _ring(r, 0.0, sides)]}
                )
    return {
        "units": "m",
        "parts": parts,
        "lines": {"3d": lines_3d, "rphi": rphi, "rhoz": rhoz},
    }


#: The simplified CMS outline (JSON-able, metres): ``parts`` the volumes (r_min, r_max,
#: z_min, z_max; ``mirrored`` endcaps exist at -z too), ``lines`` the polylines to draw them:
#: ``3d`` [[x, y, z], ...], ``rphi`` [[x, y], ...] (barrel parts), ``rhoz`` [[z, rho], ...]
#: (rho signed: the upper and lower halves).
DETECTOR: dict[str, Any] = _build()
