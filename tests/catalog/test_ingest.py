"""``openhep ingest`` end to end: real records land, broken ones are named and change nothing."""

from __future__ import annotations

import copy
import json
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.instance import Instance
from openhep.catalog._ingest import prepare

SAMPLE = "cms-derived-csv-Run2011A.json"  # 9 records, each with a file
WITH_DOIS = "cms-csv-files.json"


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        records: list[dict[str, Any]] = json.load(fh)
    return records


def summary(result: Any) -> dict[str, Any]:
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_real_records_ingest_idempotently_with_a_json_summary(
    instance: Instance, codp_dir: Path
) -> None:
    first = summary(instance.run("ingest", str(codp_dir), "--json", check=True))
    assert first["records"] == first["created"] == 7535
    assert (first["rejected"], first["files"]) == (0, len(list(codp_dir.glob("*.json"))))
    again = summary(instance.run("ingest", str(codp_dir), "--json", check=True))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 7535)

    stats = json.loads(instance.run("stats", "--json", check=True).stdout)
    assert list(stats) == ["total", "embargoed", "experiment", "type", "subtype"]
    assert stats["total"] == 7535
    assert stats["experiment"]["CMS"] == 6993


def test_gzipped_record_files_ingest_as_the_repository_carries_them(
    instance: Instance, anchors: Path, codp_dir: Path, tmp_path: Path
) -> None:
    packed = anchors / "codp-records"
    report = summary(instance.run("ingest", str(packed), "--json", check=True))
    assert (report["created"], report["rejected"]) == (7535, 0)
    assert report["files"] == len(list(packed.glob("*.json.gz")))
    again = summary(instance.run("ingest", str(codp_dir), "--json", check=True))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 7535)


def test_a_broken_or_inflating_gzip_file_is_refused_with_its_reason(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(b'[{"recid": "1"}]')[:-9])
    result = instance.run("ingest", str(broken))
    assert result.returncode != 0
    assert "not a readable gzip file" in result.stderr
    from openhep.catalog import _ingest

    monkeypatch.setattr(_ingest, "MAX_SOURCE_BYTES", 1000)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b"[" + b" " * 100_000 + b"]"))
    assert bomb.stat().st_size < 1000
    with pytest.raises(_ingest.IngestSourceError, match="more than the 1,000 bytes"):
        _ingest.read_source(bomb)


def broken_inputs(sample: list[dict[str, Any]]) -> dict[str, tuple[Any, list[str]]]:
    """Each kind of broken input with the words its error message must contain."""
    text = json.dumps(sample)
    wrong_types = copy.deepcopy(sample)
    wrong_types[1]["files"][0]["size"] = "a lot"
    # (a lone "CMS", CODP's shape before 2024, is repaired; an object is not)
    wrong_types[1]["experiment"] = {"name": "CMS"}
    missing = copy.deepcopy(sample)
    del missing[0]["title"]
    duplicate = copy.deepcopy(sample)
    duplicate.append(copy.deepcopy(sample[0]) | {"title": "another record, same recid"})
    checksum = copy.deepcopy(sample)
    checksum[0]["files"][0]["checksum"] = "adler32:not-hex"
    r0, r1 = sample[0]["recid"], sample[1]["recid"]
    return {
        "truncated": (text[: len(text) // 2], ["truncated.json", "not valid JSON", "line"]),
        "wrong_types": (
            wrong_types,
            [
                f"record {r1}",
                "files[0].size",
                "valid integer",
                "experiment: Input should be a valid list, got object",
            ],
        ),
        "missing": (missing, [f"record {r0}", "title: required field is missing"]),
        "duplicate": (duplicate, [f"record {r0}", "recid", f"recid {r0} appears 2 times"]),
        "checksum": (
            checksum,
            [f"record {r0}", "files[0].checksum", "expected 'adler32:' followed by 8 hex digits"],
        ),
    }


@pytest.mark.parametrize("kind", ["truncated", "wrong_types", "missing", "duplicate", "checksum"])
def test_broken_input_is_named_and_changes_nothing(
    instance: Instance,
    codp_dir: Path,
    write_json: Callable[[str, Any], Path],
    kind: str,
) -> None:
    sample = load(codp_dir / SAMPLE)
    instance.run("ingest", str(codp_dir / "cms-tools-ispy.json"), check=True)
    before = instance.snapshot()

    data, words = broken_inputs(sample)[kind]
    good = write_json("good.json", load(codp_dir / "cms-validated-runs.json"))
    bad = write_json(f"{kind}.json" if kind != "truncated" else "truncated.json", data)
    result = instance.run("ingest", str(good), str(bad))

    assert result.returncode == 1
    assert str(bad) in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert "nothing was written" in result.stderr
    assert instance.snapshot() == before


def test_skip_invalid_lands_the_valid_records_and_reports_the_rest(
    instance: Instance, codp_dir: Path, write_json: Callable[[str, Any], Path]
) -> None:
    sample = load(codp_dir / SAMPLE)
    sample[0]["files"][0]["checksum"] = "sha1:short"
    path = write_json("mixed.json", sample)
    result = instance.run("ingest", str(path), "--skip-invalid", "--json")
    assert result.returncode == 0, result.stderr
    report = summary(result)
    assert (report["created"], report["rejected"]) == (len(sample) - 1, 1)
    assert report["rejections"] == [
        {
            "file": str(path),
            "recid": sample[0]["recid"],
            "index": 0,
            "path": "files[0].checksum",
            "reason": "expected 'adler32:' followed by 8 hex digits "
            "(or 'sha1:' with 40, 'sha256:' with 64)",
        }
    ]
    assert instance.run("get", sample[0]["recid"]).returncode == 1
    assert instance.run("get", sample[1]["recid"], check=True).stdout


def test_a_doi_taken_by_another_record_is_refused(
    instance: Instance, codp_dir: Path, write_json: Callable[[str, Any], Path]
) -> None:
    sample = load(codp_dir / WITH_DOIS)
    instance.run("ingest", str(codp_dir / WITH_DOIS), check=True)
    before = instance.snapshot()
    thief = copy.deepcopy(sample[0]) | {"recid": "99999901"}
    result = instance.run("ingest", str(write_json("thief.json", [thief])))
    assert result.returncode == 1
    assert f"already belongs to record {sample[0]['recid']}" in result.stderr
    assert instance.snapshot() == before


def test_missing_paths_and_empty_directories_are_errors(instance: Instance, tmp_path: Path) -> None:
    result = instance.run("ingest", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr
    (tmp_path / "empty").mkdir()
    result = instance.run("ingest", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "no record files found" in result.stderr
    assert not (instance.home / "catalog.sqlite").exists()


def grown_batch(codp_records: list[dict[str, Any]], directory: Path, copies: int) -> int:
    """The real records repeated ``copies`` times under new recids (DOIs are unique, so dropped)."""
    directory.mkdir()
    total = 0
    for k in range(1, copies + 1):
        batch = []
        for raw in codp_records:
            clone = {key: value for key, value in raw.items() if key != "doi"}
            clone["recid"] = str(k * 1_000_000 + int(raw["recid"]))
            batch.append(clone)
        (directory / f"copy-{k}.json").write_text(json.dumps(batch), encoding="utf-8")
        total += len(batch)
    return total


@pytest.mark.slow
def test_sigkill_mid_batch_leaves_the_catalogue_as_before_and_a_rerun_completes(
    instance: Instance, codp_dir: Path, codp_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    instance.run("ingest", str(codp_dir / SAMPLE), check=True)
    before_rows = instance.dump()
    before_bytes = instance.file_digests() if not instance.database_url else None
    total = grown_batch(codp_records, tmp_path / "big", copies=6)

    with instance.popen("ingest", str(tmp_path / "big"), "--progress", "log") as process:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("ingest: written "), line
        written = int(line.split()[2].split("/")[0])
        assert 0 < written < total  # killed mid-batch: rows are written but not committed
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    if before_bytes is not None:
        # Uncommitted pages live only in the write-ahead log; the database file is untouched.
        assert instance.file_digests()["catalog.sqlite"] == before_bytes["catalog.sqlite"]
    deadline = time.monotonic() + 30
    while instance.dump() != before_rows:  # PostgreSQL may need a moment to end the backend
        assert time.monotonic() < deadline, "the killed batch left rows behind"
        time.sleep(0.5)

    rerun = summary(instance.run("ingest", str(tmp_path / "big"), "--json", check=True))
    assert rerun["created"] == total
    stats = json.loads(instance.run("stats", "--json", check=True).stdout)
    assert stats["total"] == total + len(load(codp_dir / SAMPLE))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_read_or_rejected_with_a_reason(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.json"
        path.write_bytes(content)
        _, rejections = prepare([path])
    assert all(r.reason and r.file == str(path) for r in rejections)
