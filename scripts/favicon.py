"""Writes the portal's icon: ``static/img/favicon.svg`` and the same drawing as a 32x32
``static/favicon.ico`` (a PNG inside an ICO, drawn here with the standard library only).

The drawing: a collision seen along the beam, a vertex with two curved tracks and a
calorimeter ring, white on the header's navy. Run ``python scripts/favicon.py`` after changing
it; the files are committed.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "src" / "openhep" / "web" / "static"
NAVY = (13, 37, 64)
WHITE = (255, 255, 255)
ACCENT = (255, 176, 46)
SIZE = 32
SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#0d2540"/>
<circle cx="16" cy="16" r="11" fill="none" stroke="#fff" stroke-width="2"/>
<path d="M16 16 Q 20 8 27 6" fill="none" stroke="#ffb02e" stroke-width="2" stroke-linecap="round"/>
<path d="M16 16 Q 10 22 6 27" fill="none" stroke="#ffb02e" stroke-width="2" stroke-linecap="round"/>
<circle cx="16" cy="16" r="3" fill="#fff"/>
</svg>
"""


Point = tuple[float, float]


def _quad(t: float, p0: Point, p1: Point, p2: Point) -> Point:
    x, y = (
        (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c
        for a, b, c in zip(p0, p1, p2, strict=True)
    )
    return x, y


def _colour(x: float, y: float, tracks: list[tuple[float, float]]) -> tuple[int, int, int, int]:
    corner = 6.0
    dx = max(corner - x, 0.0, x - (SIZE - corner))
    dy = max(corner - y, 0.0, y - (SIZE - corner))
    if dx * dx + dy * dy > corner * corner:
        return (0, 0, 0, 0)
    r = math.hypot(x - 16, y - 16)
    if r <= 3 or abs(r - 11) <= 1:
        return (*WHITE, 255)
    if any(math.hypot(x - tx, y - ty) <= 1 for tx, ty in tracks):
        return (*ACCENT, 255)
    return (*NAVY, 255)


def _png() -> bytes:
    steps = [i / 200 for i in range(201)]
    tracks = [_quad(t, (16, 16), (20, 8), (27, 6)) for t in steps]
    tracks += [_quad(t, (16, 16), (10, 22), (6, 27)) for t in steps]
    rows = []
    samples = 4  # 4x4 samples a pixel: smooth edges
    for py in range(SIZE):
        row = bytearray([0])
        for px in range(SIZE):
            total = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    c = _colour(px + (sx + 0.5) / samples, py + (sy + 0.5) / samples, tracks)
                    for i in range(3):
                        total[i] += c[i] * c[3]
                    total[3] += c[3]
            alpha = total[3] / samples**2
            rgb = [round(total[i] / total[3]) if total[3] else 0 for i in range(3)]
            row += bytes([*rgb, round(alpha)])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    png = _png()
    # ICONDIR (reserved, type 1 = icon, 1 image), then its ICONDIRENTRY, then the PNG.
    ico = struct.pack("<HHH", 0, 1, 1)
    ico += struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(png), 6 + 16)
    (STATIC / "favicon.ico").write_bytes(ico + png)
    (STATIC / "img" / "favicon.svg").write_text(SVG)


if __name__ == "__main__":
    main()
