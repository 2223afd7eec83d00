"""``openhep ingest`` end to end: real records land, broken ones are named and change nothing."""

from __future__ import annotations

import copy
import json
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from _codp_shapes import pre_2024
from _records import any_json
from _services.instance import Instance
from openhep.catalog._ingest import prepare
from openhep.catalog._schema import records
from openhep.model import normalize_checksum

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
        assert line.startswith("ingest: writing "), line
        assert line.rstrip().endswith("(not yet committed; 0 committed)"), line
        sent = int(line.split()[2].split("/")[0])
        assert 0 < sent < total  # killed mid-batch: rows are sent but not committed
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


def committed_records(instance: Instance) -> int:
    """Records another reader of the catalogue sees now: those of committed transactions."""
    engine = create_engine(instance.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())
    finally:
        engine.dispose()


def test_ingest_says_written_only_for_records_whose_transaction_committed(
    instance: Instance, codp_dir: Path
) -> None:
    # Three transactions of 3,000 records, each sent in chunks of 500. The moment a line says
    # "written N", the ingest is frozen and another reader counts what the catalogue holds.
    lines: list[str] = []
    with instance.popen(
        "ingest", str(codp_dir), "--batch-size", "3000", "--progress", "log"
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip())
            if not line.startswith("ingest: written "):
                continue
            process.send_signal(signal.SIGSTOP)
            written, total = map(int, line.split()[2].split("/"))
            try:
                seen = committed_records(instance)
            except OperationalError as error:
                # After its last commit the ingest closes the catalogue: SQLite's last
                # connection checkpoints the WAL under an exclusive lock, and a process frozen
                # there locks every reader out. Only then may the count wait for its exit.
                if written != total or "locked" not in str(error):
                    raise
                process.send_signal(signal.SIGCONT)
                lines.extend(rest.rstrip() for rest in process.stderr)  # drain it: it may block
                assert process.wait(timeout=300) == 0
                seen = committed_records(instance)
            finally:
                process.send_signal(signal.SIGCONT)
            assert seen >= written, lines
        assert process.wait(timeout=300) == 0
    written_lines = [line for line in lines if line.startswith("ingest: written ")]
    assert written_lines == [
        f"ingest: written {n}/7535 records (committed)" for n in (3000, 6000, 7535)
    ], lines
    writing = [line for line in lines if line.startswith("ingest: writing ")]
    assert writing[0] == "ingest: writing 500/7535 records (not yet committed; 0 committed)"
    assert "ingest: writing 3500/7535 records (not yet committed; 3000 committed)" in writing
    assert lines.index(written_lines[0]) > lines.index(writing[0])
    assert committed_records(instance) == 7535


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_read_or_rejected_with_a_reason(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.json"
        path.write_bytes(content)
        rejections = prepare([path]).rejections
    assert all(r.reason and r.file == str(path) for r in rejections)


# -- records of any age of CODP's format -------------------------------------------------------


def without_timestamps(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, its times blanked: two catalogues loaded at different moments compare equal."""
    return {
        table: [tuple(None if isinstance(v, datetime) else v for v in row) for row in rows]
        for table, rows in dump.items()
    }


def second_instance(instance: Instance, request: pytest.FixtureRequest, tmp_path: Path) -> Instance:
    """Another, empty instance on the same kind of catalogue as ``instance``."""
    home = tmp_path / "second-home"
    home.mkdir()
    url = None
    if instance.database_url:
        url = request.getfixturevalue("postgres_cluster").create_database(
            f"t_second_{uuid.uuid4().hex[:12]}"
        )
    return Instance(home, url)


def test_every_record_in_pre_2024_shapes_gives_the_same_catalogue(
    instance: Instance,
    codp_dir: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    old_dir = tmp_path / "pre-2024"
    old_dir.mkdir()
    for path in sorted(codp_dir.glob("*.json")):
        (old_dir / path.name).write_text(json.dumps([pre_2024(r) for r in load(path)]))
    old = second_instance(instance, request, tmp_path)

    current = summary(instance.run("ingest", str(codp_dir), "--json", check=True))
    upgraded = summary(old.run("ingest", str(old_dir), "--json", check=True))
    assert current["created"] == upgraded["created"] == 7535
    assert current["rejected"] == upgraded["rejected"] == 0

    assert without_timestamps(old.dump()) == without_timestamps(instance.dump())
    assert old.run("stats", "--json", check=True).stdout == (
        instance.run("stats", "--json", check=True).stdout
    )
    for recid in ("12341", "28001"):
        assert old.run("get", recid, check=True).stdout == instance.run("get", recid).stdout

    # Every repair is counted and listed: the lone experiment of each single-experiment record.
    counts = upgraded["repair_counts"]
    assert list(counts) == [
        "scalar_to_list",
        "empty_string_to_absent",
        "null_to_absent",
        "unknown_field_kept",
    ]
    assert counts["scalar_to_list"] > 7535
    assert counts["null_to_absent"] == counts["unknown_field_kept"] == 0
    assert sum(counts.values()) == len(upgraded["repairs"])
    experiments = [r for r in upgraded["repairs"] if r["path"] == "experiment"]
    assert len(experiments) == 7534  # one record lists two experiments
    assert all(r["repair"] == "scalar_to_list" and r["recid"] for r in experiments)
    assert upgraded["repaired"] == 7535
    # The current records' own repairs: optional fields CODP leaves as "".
    assert current["repair_counts"] == {
        "scalar_to_list": 0,
        "empty_string_to_absent": 1598,
        "null_to_absent": 0,
        "unknown_field_kept": 0,
    }


def test_an_empty_doi_does_not_refuse_the_batch_and_the_repairs_are_listed(
    instance: Instance, codp_dir: Path, write_json: Callable[[str, Any], Path]
) -> None:
    sample = load(codp_dir / SAMPLE)
    sample[2]["doi"] = ""
    sample[4]["experiment"] = "CMS"
    path = write_json("old.json", sample)
    result = instance.run("ingest", str(path))
    assert result.returncode == 0, result.stderr
    r2, r4 = sample[2]["recid"], sample[4]["recid"]
    lines = result.stderr.splitlines()
    assert (
        f"repaired: {path}[2]: record {r2} doi: empty string in an optional field: "
        "taken as absent" in lines
    )
    assert (
        f"repaired: {path}[4]: record {r4} experiment: one value where the format has a list: "
        "made a one-item list" in lines
    )
    assert (
        "repaired 2 records read in older shapes: 1 scalar_to_list, 1 empty_string_to_absent"
        in lines
    )
    stored = json.loads(instance.run("get", r4, check=True).stdout)
    assert stored["experiment"] == ["CMS"]
    assert "doi" not in json.loads(instance.run("get", r2, check=True).stdout)

    report = summary(instance.run("ingest", str(path), "--json", check=True))
    assert report["unchanged"] == len(sample)
    assert report["repairs"] == [
        {
            "file": str(path),
            "recid": r2,
            "index": 2,
            "path": "doi",
            "repair": "empty_string_to_absent",
        },
        {
            "file": str(path),
            "recid": r4,
            "index": 4,
            "path": "experiment",
            "repair": "scalar_to_list",
        },
    ]


def test_unknown_fields_round_trip_through_the_catalogue_get_and_the_api(
    instance: Instance, codp_dir: Path, write_json: Callable[[str, Any], Path]
) -> None:
    sample = load(codp_dir / SAMPLE)
    record = copy.deepcopy(sample[0])
    record["_bucket"] = "2f9b1c"
    record["provenance"] = {"harvested": "2019-01-01", "sources": [1, 2.5, None, True]}
    record["files"][0]["version_id"] = "v-1"
    record["authors"][0]["ccid"] = "123456"
    path = write_json("extra.json", [record])
    report = summary(instance.run("ingest", str(path), "--json", check=True))
    assert [(r["path"], r["repair"]) for r in report["repairs"]] == [
        ("authors[0].ccid", "unknown_field_kept"),
        ("files[0].version_id", "unknown_field_kept"),
        ("_bucket", "unknown_field_kept"),
        ("provenance", "unknown_field_kept"),
    ]
    stored = json.loads(instance.run("get", record["recid"], check=True).stdout)
    expected = copy.deepcopy(record)
    for f in expected["files"]:
        f["checksum"] = normalize_checksum(f["checksum"])
    assert stored == expected

    from fastapi.testclient import TestClient

    from openhep.settings import Settings
    from openhep.web import create_app

    settings = Settings(home=instance.home, database_url=instance.database_url)
    with TestClient(create_app(settings)) as client:
        api = client.get(f"/api/records/{record['recid']}").json()["metadata"]
    assert api["_bucket"] == record["_bucket"]
    assert api["provenance"] == record["provenance"]
    assert api["authors"] == record["authors"]
    assert api["files"][0]["version_id"] == "v-1"


def test_a_draft_reusing_another_experiments_recid_needs_replace(
    instance: Instance, codp_dir: Path, write_json: Callable[[str, Any], Path]
) -> None:
    sample = load(codp_dir / SAMPLE)
    instance.run("ingest", str(codp_dir / SAMPLE), check=True)
    before = instance.snapshot()
    recid = sample[3]["recid"]
    draft = {
        "recid": recid,
        "title": "An ATLAS draft that reuses a CMS recid",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": "ATLAS",
        "date_published": "2026",
        "publisher": "CERN Open Data Portal",
    }
    new = {**draft, "recid": "99999902", "experiment": ["ATLAS"]}
    path = write_json("draft.json", [new, draft])

    result = instance.run("ingest", str(path))
    assert result.returncode == 1
    assert (
        f"rejected: {path}[1]: record {recid} experiment: record {recid} exists with experiment "
        "CMS, this record has ATLAS: pick another recid, or pass --replace to make this the "
        "record's next version" in result.stderr.splitlines()
    )
    assert "nothing was written" in result.stderr
    assert instance.snapshot() == before

    skipped = summary(instance.run("ingest", str(path), "--skip-invalid", "--json", check=True))
    assert (skipped["created"], skipped["updated"], skipped["rejected"]) == (1, 0, 1)
    assert skipped["rejections"][0]["path"] == "experiment"

    replaced = summary(instance.run("ingest", str(path), "--replace", "--json", check=True))
    assert (replaced["updated"], replaced["unchanged"], replaced["rejected"]) == (1, 1, 0)
    assert json.loads(instance.run("get", recid, check=True).stdout)["experiment"] == ["ATLAS"]
    versions = json.loads(instance.run("versions", recid, check=True).stdout)
    assert [v["version"] for v in versions] == [1, 2]
    cms = json.loads(instance.run("get", recid, "--version", "1", check=True).stdout)
    assert cms["experiment"] == ["CMS"]
    # Now an ATLAS record: the same draft again needs no --replace.
    again = summary(instance.run("ingest", str(path), "--json", check=True))
    assert again["unchanged"] == 2


# Numbers as large as the catalogue's JSON holds (orjson: 64 bits, signed or not).
json_values = any_json(st.integers(-(2**63), 2**64 - 1))


@st.composite
def damaged_batch(draw: st.DrawFn, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Real records, some in older shapes, with random repairs to make and garbage added."""
    batch = []
    for _ in range(draw(st.integers(1, 3))):
        record = copy.deepcopy(draw(st.sampled_from(records)))
        if draw(st.booleans()):
            record = pre_2024(record)
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from([*record, "experiment", "doi", "extra", "authors"]))
            holder: Any = record
            if isinstance(record.get(key), dict) and draw(st.booleans()):
                holder = record[key]
                key = draw(st.sampled_from([*holder, "links", "x"]))
            holder[key] = draw(
                st.sampled_from(["", None, "CMS", "ATLAS"])
                | json_values
                | st.just([holder.get(key)])
                | st.just(holder.get(key, ""))
            )
        batch.append(record)
    return batch


def test_damaged_batches_ingest_or_are_refused_with_paths_never_a_crash(
    catalog_url: str, codp_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    import tantivy

    from openhep.catalog import Catalog
    from openhep.catalog._ingest import ingest
    from openhep.search._schema import build_schema, to_document

    records = codp_records[::151]
    source = tmp_path / "batch.json"

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(damaged_batch(records), st.booleans())
    def check(batch: list[dict[str, Any]], replace: bool) -> None:
        source.write_bytes(json.dumps(batch).encode())
        report = ingest(
            [source], lambda: Catalog.open(url=catalog_url), skip_invalid=True, replace=replace
        )
        assert all(r.path and r.reason and r.index is not None for r in report.rejections)
        written = report.written
        landed = [*written.created, *written.updated, *written.unchanged]
        assert len(landed) + report.rejected_recids == len(batch)
        # What landed reads back and indexes.
        writer = tantivy.Index(build_schema()).writer()
        with Catalog.open(url=catalog_url) as catalog:
            for stored in catalog.iter_current(landed):
                writer.add_document(
                    to_document(
                        stored.metadata, stored.created, stored.updated, stored.visible_from
                    )
                )
        writer.commit()

    check()
