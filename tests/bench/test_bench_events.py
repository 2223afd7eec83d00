"""``python -m bench.events`` still runs: one JSON line with the package's and the floor's
time to the first event and events/s over the 36 events of the two real iSpy files, and the
API's, from a server the bench starts over a fresh demo instance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_events_bench_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.events", "--repeat", "1", "--no-record"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["bench"] == "events"
    for method in ("package", "floor"):
        figure = result[method]
        assert figure["events"] == 36  # 11 + 25
        assert figure["first_event_ms"] > 0 and figure["events_per_s"] > 0
    assert result["package_over_floor"] > 0
    api = result["api"]
    assert api["events"] == 36 and api["first_round"]["events"] == 36
    assert api["first_event_ms"] > 0 and result["api_over_package"] > 0
    assert "[bench/events] package:" in done.stderr


def test_events_bench_refuses_bad_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.events", "--repeat", "0", "--no-record"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "--repeat must be at least 1" in done.stderr
