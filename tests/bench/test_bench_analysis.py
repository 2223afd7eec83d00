"""``python -m bench.analysis`` still runs: a tiny file of the real DoubleMuParked events,
every method over it with counts that agree bin for bin, the file kept in its work directory,
reused on the next run and built again when its bytes no longer match."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a few processes, coffea's import: ~30 s on 2 cores

REPO_ROOT = Path(__file__).resolve().parents[2]
#: 3 repeats of the 1,000 events, a basket and a chunk per repeat: several chunks and baskets.
TINY = ("--events", "3000", "--basket-events", "1000", "--step", "1000", "--repeat", "1")


def run_bench(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.analysis",
            *TINY,
            "--workdir",
            str(workdir),
            "--no-record",
            *args,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, progress on stderr
    found: dict[str, Any] = json.loads(lines[0])
    return found


def test_every_method_runs_and_gives_the_same_counts(tmp_path: Path) -> None:
    result = result_of(run_bench(tmp_path))
    assert result["bench"] == "analysis"
    assert result["counts_agree"] is True
    volume = result["volume"]
    assert (volume["events"], volume["repeats"]) == (3000, 3)
    assert "1,000 real CMS 2012 DoubleMuParked events" in volume["built_from"]
    assert "repeated 3 times" in volume["built_from"]
    assert {codec: built["built"] for codec, built in volume["files"].items()} == {
        "zlib": True,
        "lz4": True,
    }
    # The opposite-charge pairs of the real sample: some, and not every event.
    assert 0 < result["analysis"]["entries"] < 3000
    common = {
        "openhep_1worker",
        "openhep_2workers",
        "openhep_1worker_warm",
        "openhep_2workers_warm",
        "openhep_inline",
        "handwritten",
        "coffea_1worker",
        "coffea_2workers",
        "decompress",
        "decompress_2proc",
    }
    assert set(result["files"]["zlib"]["events_per_s"]) == common
    assert set(result["files"]["lz4"]["events_per_s"]) == common | {"decompress_lz4_package"}
    for measured in result["files"].values():
        assert measured["disagreements"] == {}
        assert set(measured["events_per_cpu_second"]) == set(measured["events_per_s"])
        assert measured["compression_ratio"] > 1
        assert measured["baskets"] == 6 * 3  # six branches, a basket per 1,000 events
    assert set(result["targets"]["met"]) == {"zlib", "lz4"}
    assert result["machine"]["cpu_count"] >= 1


def test_the_file_is_reused_and_built_again_when_its_bytes_change(tmp_path: Path) -> None:
    quick = ("--codecs", "zlib", "--methods", "handwritten", "decompress")
    first = result_of(run_bench(tmp_path, *quick))
    built = first["volume"]["files"]["zlib"]
    assert built["built"] is True
    path = Path(built["path"])
    assert path.parent == tmp_path
    assert path.stat().st_size == built["bytes"]

    again = result_of(run_bench(tmp_path, *quick))
    assert again["volume"]["files"]["zlib"]["built"] is False
    assert again["counts_agree"] is True

    with path.open("r+b") as fh:  # one byte flipped in the middle: the adler32 differs
        fh.seek(built["bytes"] // 2)
        byte = fh.read(1)[0]
        fh.seek(-1, 1)
        fh.write(bytes([byte ^ 0xFF]))
    rebuilt = result_of(run_bench(tmp_path, *quick))
    assert rebuilt["volume"]["files"]["zlib"]["built"] is True
    # (uproot writes a new UUID and dates into every file: the bytes, not the size, differ)
    assert rebuilt["volume"]["files"]["zlib"]["bytes"] == built["bytes"]
    assert rebuilt["counts_agree"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--basket-events", "1500"), "--basket-events must be a positive multiple of 1,000"),
        (("--step", "0"), "--events, --step and --repeat must be positive"),
        (("--anchors", "/nonexistent"), "not found"),
    ],
)
def test_bad_options_exit_with_what_to_change(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = run_bench(tmp_path, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
