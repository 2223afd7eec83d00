"""Writes ``data/cms-samples/Zmumu_2010.csv``: the events of ``uproot-Zmumu.root`` (the 2010
Z→μμ education sample) as CSV, the format of CODP's education CSVs — a header line of the
column names, then one line an event, values as the ROOT file holds them.

Nothing is computed or rounded: every number is written as the shortest text that reads back
to the same value of the file's type (float32 or float64), integers as integers, the muon types
(``GT``, …) as text. The demo publishes the CSV as record 990010 beside the ROOT file's record
990004, so a histogram of either gives the same counts. Run ``python scripts/zmumu_csv.py``
(it needs uproot) after the ROOT file changes; the CSV is committed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import uproot

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "cms-samples"
SOURCE = SAMPLES / "uproot-Zmumu.root"
TARGET = SAMPLES / "Zmumu_2010.csv"
TREE = "events"


def text(value: Any) -> str:
    """``value`` as the shortest text that reads back to it in its own type."""
    if isinstance(value, bytes):
        return value.decode("ascii")
    if isinstance(value, str):
        return value
    if isinstance(value, np.floating):
        return np.format_float_positional(value, unique=True, trim="-")
    if isinstance(value, np.integer | int):
        return str(int(value))
    raise TypeError(f"a value of type {type(value).__name__} has no CSV text here")


def main() -> None:
    with uproot.open(SOURCE) as source:
        tree = source[TREE]
        names = list(tree.keys())
        columns = tree.arrays(names, library="np")
    rows = zip(*(columns[name] for name in names), strict=True)
    partial = TARGET.with_name(TARGET.name + ".partial")
    with partial.open("w", newline="", encoding="ascii") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        count = 0
        for row in rows:
            writer.writerow([text(value) for value in row])
            count += 1
    partial.replace(TARGET)
    print(f"wrote {TARGET}: {count} events, columns {', '.join(names)}")


if __name__ == "__main__":
    main()
