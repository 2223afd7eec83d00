"""Helices in the 3.8 T field: a track of known pt, charge and vertex reaches the radius and
azimuth the closed formula here gives (circle-circle intersection), within 1 mm and 1 mrad."""

from __future__ import annotations

import math

import pytest

from openhep.events import MAGNETIC_FIELD_TESLA, helix

C = 0.299792458  # GeV / (T m)


def expected_exit(
    pt: float, eta: float, phi: float, charge: int, vertex: tuple[float, float, float], r: float
) -> tuple[float, float, float]:
    """Where the track crosses the cylinder of radius r: the intersection of its circle in
    the transverse plane with the circle r, the first reached along its motion."""
    radius = pt / (C * abs(charge) * MAGNETIC_FIELD_TESLA)
    x0, y0, z0 = vertex
    # A positive particle turns clockwise (seen from +z) in a field along +z: centre to
    # the right of its direction.
    side = 1 if charge > 0 else -1
    cx, cy = x0 + side * radius * math.sin(phi), y0 - side * radius * math.cos(phi)
    d = math.hypot(cx, cy)
    a = (r * r - radius * radius + d * d) / (2 * d)
    h = math.sqrt(r * r - a * a)
    points = [
        (a * cx / d - h * cy / d, a * cy / d + h * cx / d),
        (a * cx / d + h * cy / d, a * cy / d - h * cx / d),
    ]

    def turned(p: tuple[float, float]) -> float:
        start = math.atan2(y0 - cy, x0 - cx)
        end = math.atan2(p[1] - cy, p[0] - cx)
        # clockwise for positive charges
        return ((start - end) if charge > 0 else (end - start)) % (2 * math.pi)

    best = min(points, key=turned)
    z = z0 + radius * turned(best) * math.sinh(eta)
    return best[0], best[1], z


CASES = [
    (pt, charge, vertex, phi)
    for pt in (1.0, 2.5, 10.0, 45.0, 500.0)
    for charge in (1, -1)
    for vertex, phi in (((0.0, 0.0, 0.0), 0.7), ((0.012, -0.03, 0.05), -2.9))
]


@pytest.mark.parametrize(("pt", "charge", "vertex", "phi"), CASES)
def test_exit_radius_and_azimuth(
    pt: float, charge: int, vertex: tuple[float, float, float], phi: float
) -> None:
    r_max = 1.1
    points = helix(pt, 0.3, phi, charge, vertex, r_max=r_max, z_max=2.8, steps=64)
    x, y, z = points[-1]
    ex, ey, ez = expected_exit(pt, 0.3, phi, charge, vertex, r_max)
    assert math.hypot(x, y) == pytest.approx(r_max, abs=1e-3)
    assert abs(math.remainder(math.atan2(y, x) - math.atan2(ey, ex), 2 * math.pi)) < 1e-3
    assert z == pytest.approx(ez, abs=1e-3)
    assert points[0] == pytest.approx(vertex)
    # Every point on the circle of radius R around the centre; none outside the cylinder.
    for px, py, _ in points:
        assert math.hypot(px, py) <= r_max + 1e-9


def test_from_the_origin_the_textbook_formula() -> None:
    """From the origin: the exit azimuth is phi - q asin(r / 2R)."""
    pt, r = 3.0, 1.1
    radius = pt / (C * MAGNETIC_FIELD_TESLA)
    for charge in (1, -1):
        x, y, _ = helix(pt, 0.0, 1.0, charge)[-1]
        assert math.atan2(y, x) == pytest.approx(
            1.0 - charge * math.asin(r / (2 * radius)), abs=1e-3
        )


def test_endcap_exit_and_straight_neutrals() -> None:
    x, y, z = helix(20.0, 2.5, 0.0, 1, r_max=1.1, z_max=2.8)[-1]
    assert z == 2.8 and math.hypot(x, y) < 1.1
    x, y, z = helix(20.0, -2.5, 0.0, -1, (0.0, 0.0, 0.1), r_max=1.1, z_max=2.8)[-1]
    assert z == -2.8
    line = helix(5.0, 0.0, math.pi / 2, 0)
    assert all(abs(px) < 1e-12 for px, _, _ in line)
    assert line[-1][1] == pytest.approx(1.1)


def test_a_particle_that_curls_up_turns_once() -> None:
    points = helix(0.3, 0.0, 0.0, 1, steps=50)  # R = 0.26 m: never reaches 1.1 m
    assert len(points) == 50
    assert points[-1] == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)
    assert max(math.hypot(x, y) for x, y, _ in points) == pytest.approx(
        2 * 0.3 / (C * 3.8), abs=0.02
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"pt": 0.0},
        {"pt": math.nan},
        {"eta": math.inf},
        {"vertex": (2.0, 0.0, 0.0)},
        {"vertex": (0.0, 0.0)},
        {"steps": 1},
    ],
)
def test_bad_input(bad: dict[str, object]) -> None:
    arguments: dict[str, object] = {"pt": 1.0, "eta": 0.0, "phi": 0.0, "charge": 1}
    arguments.update(bad)
    with pytest.raises(ValueError, match="helix"):
        helix(**arguments)  # type: ignore[arg-type]
