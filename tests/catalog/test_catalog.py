"""The catalogue on SQLite and PostgreSQL: versions, files, change log, embargo, invariants."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from openhep.catalog import (
    Catalog,
    CatalogConflictError,
    CatalogState,
    RecordNotFoundError,
    Replica,
)
from openhep.catalog._engine import (
    WRITE,
    _alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from openhep.catalog._ingest import ingest
from openhep.catalog._schema import metadata
from openhep.model import validate_record

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def record(recid: str = "900001", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "recid": recid,
        "title": f"Record {recid}",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": "2024",
        "publisher": "CERN Open Data Portal",
    }
    data.update(extra)
    return data


def without_empty_strings(value: Any) -> Any:
    if isinstance(value, list):
        return [without_empty_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: without_empty_strings(v) for k, v in value.items() if v != ""}
    return value


def write(catalog: Catalog, *records: dict[str, Any], now: datetime = NOW) -> Any:
    return catalog.write([validate_record(r) for r in records], now=now)


@pytest.fixture
def catalog(catalog_url: str) -> Any:
    with Catalog.open(url=catalog_url) as opened:
        yield opened


def test_all_real_records_ingest_with_counts_computed_from_the_json(
    catalog_url: str, codp_dir: Path, codp_records: list[dict[str, Any]]
) -> None:
    report = ingest([codp_dir], lambda: Catalog.open(url=catalog_url))
    assert report.rejections == []
    assert len(report.written.created) == 7535

    experiments: Counter[str] = Counter()
    types: Counter[str] = Counter()
    subtypes: Counter[str] = Counter()
    for raw in codp_records:
        experiments.update(set(raw["experiment"]))
        types[raw["type"]["primary"]] += 1
        subtypes.update({f"{raw['type']['primary']}::{s}" for s in raw["type"]["secondary"]})

    with Catalog.open(url=catalog_url) as catalog:
        stats = catalog.stats()
        assert stats.total == 7535
        assert stats.embargoed == 0
        assert stats.experiment == dict(experiments)
        assert stats.type == dict(types)
        assert stats.subtype == dict(subtypes)
        # Spot-check faithfulness: a record comes back as it went in (its empty optional
        # texts, such as 12341's relations' descriptions, taken as absent).
        by_recid = {r["recid"]: r for r in codp_records}
        for recid in ("1", "12341", "3901", "5200"):
            stored = catalog.get(recid).metadata
            raw = without_empty_strings(by_recid[recid])
            assert {k: v for k, v in stored.items() if k != "files"} == {
                k: v for k, v in raw.items() if k != "files"
            }
        assert catalog.files("3901")[0]["checksum"] == "adler32:c89abb9b"

    again = ingest([codp_dir], lambda: Catalog.open(url=catalog_url))
    assert len(again.written.unchanged) == 7535
    assert again.written.created == again.written.updated == []
    with Catalog.open(url=catalog_url) as catalog:
        assert catalog.last_change() == 7535


def test_an_update_adds_a_version_and_keeps_the_old_one(catalog: Catalog) -> None:
    first = write(catalog, record(title="First title"))
    assert first.created == ["900001"]
    second = write(catalog, record(title="Second title"), now=NOW + timedelta(days=1))
    assert second.updated == ["900001"]
    same = write(catalog, record(title="Second title"), now=NOW + timedelta(days=2))
    assert same.unchanged == ["900001"]

    assert catalog.get("900001", now=NOW + timedelta(days=3)).metadata["title"] == "Second title"
    old = catalog.get("900001", version=1, now=NOW + timedelta(days=3))
    assert old.metadata["title"] == "First title"
    assert [v.version for v in catalog.versions("900001")] == [1, 2]
    current = catalog.get("900001")
    assert current.version == 2
    assert current.created == NOW
    assert current.updated == NOW + timedelta(days=1)


def test_files_follow_the_current_version(catalog: Catalog) -> None:
    uri = "root://eospublic.cern.ch//eos/opendata/cms/a/{}.root"
    files = [
        {"uri": uri.format("one"), "size": 10, "checksum": "adler32:1"},
        {"uri": uri.format("index"), "size": 5, "checksum": "adler32:2", "type": "index.json"},
    ]
    write(catalog, record(files=files))
    stored = catalog.files("900001")
    assert [(f["key"], f["checksum"], f["type"]) for f in stored] == [
        ("one.root", "adler32:00000001", None),
        ("index.root", "adler32:00000002", "index.json"),
    ]
    write(catalog, record(files=files[:1]))
    assert [f["key"] for f in catalog.files("900001")] == ["one.root"]
    assert catalog.file_index_entries("900001", "index.root") == []


def test_change_log_is_monotonic_and_names_each_change(catalog: Catalog) -> None:
    write(catalog, record("1"), record("2"))
    write(catalog, record("1", title="changed"), record("2"))
    changes = catalog.changes()
    assert [(c.recid, c.version, c.operation) for c in changes] == [
        ("1", 1, "create"),
        ("2", 1, "create"),
        ("1", 2, "update"),
    ]
    seqs = [c.seq for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert catalog.changes(since=seqs[1]) == changes[2:]
    assert catalog.last_change() == seqs[-1]


def test_embargoed_records_are_invisible_until_released(catalog: Catalog) -> None:
    write(
        catalog,
        record("1"),
        record("2", date_published="2027"),
        record("3", release_date="2026-12-01"),
    )
    assert catalog.count(now=NOW) == 1
    stats = catalog.stats(now=NOW)
    assert (stats.total, stats.embargoed) == (1, 2)
    for recid in ("2", "3"):
        with pytest.raises(RecordNotFoundError):
            catalog.get(recid, now=NOW)
        with pytest.raises(RecordNotFoundError):
            catalog.versions(recid, now=NOW)
        assert catalog.get(recid, include_embargoed=True, now=NOW).recid == recid
    assert [r.recid for r in catalog.iter_public(now=NOW)] == ["1"]

    after = datetime(2026, 12, 1, tzinfo=UTC)
    assert catalog.get("3", now=after).recid == "3"
    assert catalog.stats(now=after).total == 2
    assert catalog.stats(now=datetime(2027, 1, 1, tzinfo=UTC)).embargoed == 0


def test_next_release_is_the_nearest_embargo_end(catalog: Catalog) -> None:
    assert catalog.next_release(NOW) is None
    write(
        catalog,
        record("1"),
        record("2", date_published="2027"),
        record("3", release_date="2026-12-01"),
    )
    assert catalog.next_release(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert catalog.next_release(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert catalog.next_release(datetime(2027, 1, 1, tzinfo=UTC)) is None


def test_the_state_changes_with_every_record_and_replica_change(catalog: Catalog) -> None:
    """What caches of answers compare: the change log's head and the replicas' generation."""
    assert catalog.state() == CatalogState(0, 0)
    write(catalog, record("1"))
    first = catalog.state()
    assert first.changes == catalog.last_change() > 0
    write(catalog, record("1"))  # unchanged content: no new version, the same state
    assert catalog.state() == first
    replica = Replica("eos/opendata/a.root", 10, "adler32:00000001", None, "available", NOW)
    catalog.replicas.put([replica])
    second = catalog.state()
    assert (second.changes, second.replicas) == (first.changes, first.replicas + 1)
    catalog.replicas.mark(replica.path, "available", checked_at=NOW)  # same state: no change
    assert catalog.state() == second
    catalog.replicas.mark(replica.path, "corrupt", checked_at=NOW, detail="checksum")
    third = catalog.state()
    assert third.replicas == second.replicas + 1
    assert catalog.replicas.get(replica.path).state == "corrupt"  # type: ignore[union-attr]
    catalog.replicas.remove(replica.path)
    assert catalog.state().replicas == third.replicas + 1
    catalog.replicas.remove(replica.path)  # nothing there: no change
    assert catalog.state().replicas == third.replicas + 1


def test_a_doi_belongs_to_one_record(catalog: Catalog) -> None:
    write(catalog, record("1", doi="10.7483/OPENDATA.CMS.TEST.0001"))
    before = catalog.changes()
    with pytest.raises(CatalogConflictError, match="already belongs to record 1"):
        write(catalog, record("5"), record("2", doi="10.7483/OPENDATA.CMS.TEST.0001"))
    # The whole batch rolled back, record 5 included.
    assert catalog.changes() == before
    with pytest.raises(RecordNotFoundError):
        catalog.get("5")


def test_migrations_build_exactly_the_declared_schema(catalog: Catalog) -> None:
    assert current_revision(catalog.engine) == head_revision()
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert set(inspect(catalog.engine).get_table_names()) >= {
        "records",
        "record_versions",
        "files",
        "file_index_entries",
        "changelog",
    }


def test_a_record_keeps_its_experiments_unless_the_writer_allows_a_change(
    catalog: Catalog,
) -> None:
    write(catalog, record("1"), record("2", release_date="2099-01-01"))
    assert catalog.experiments(["1", "2", "3", "1"]) == {"1": ["CMS"], "2": ["CMS"]}
    before = catalog.changes()
    atlas = validate_record(record("1", experiment=["ATLAS"]))
    with pytest.raises(
        CatalogConflictError, match="record 1 exists with experiment CMS, not ATLAS"
    ):
        catalog.write([validate_record(record("5")), atlas], now=NOW, keep_experiments=True)
    assert catalog.changes() == before  # the whole batch rolled back, record 5 included
    # Adding an experiment changes them (embargoed records are held too); listing the same
    # ones in another order does not.
    both = validate_record(record("2", experiment=["CMS", "TOTEM"]))
    with pytest.raises(CatalogConflictError, match="record 2 exists with experiment CMS, not"):
        catalog.write([both], now=NOW, keep_experiments=True)
    catalog.write([both], now=NOW)
    reordered = validate_record(record("2", experiment=["TOTEM", "CMS"], title="Renamed"))
    assert catalog.write([reordered], now=NOW, keep_experiments=True).updated == ["2"]
    assert catalog.write([atlas], now=NOW).updated == ["1"]
    assert catalog.get("1").metadata["experiment"] == ["ATLAS"]
    assert catalog.get("1", version=1).metadata["experiment"] == ["CMS"]


def _file(name: str, size: int = 10) -> dict[str, Any]:
    return {
        "uri": f"root://eospublic.cern.ch//eos/opendata/openhep/900001/x/{name}",
        "size": size,
        "checksum": "adler32:0000abcd",
        "key": name,
    }


def test_files_an_older_version_names_stay_public_and_named(catalog: Catalog) -> None:
    """Issue 11, item 7: whether a file may be served looked at the current version only."""
    a, b, c = _file("a.root"), _file("b.root"), _file("c.root")
    write(catalog, record(files=[a, b]))
    write(catalog, record(files=[b, c]))
    assert [f["uri"] for f in catalog.files("900001")] == [b["uri"], c["uri"]]
    assert all(catalog.uri_is_public(f["uri"], now=NOW) for f in (a, b, c))
    assert not catalog.uri_is_public(a["uri"] + ".other", now=NOW)
    assert catalog.named_uris([a["uri"], c["uri"], "root://x//y"]) == {a["uri"], c["uri"]}
    # Named again, then dropped again: still one former file, of the last version naming it.
    write(catalog, record(files=[a, c]))
    write(catalog, record(files=[c]))
    assert all(catalog.uri_is_public(f["uri"], now=NOW) for f in (a, b, c))
    with catalog.engine.connect() as conn:
        rows = conn.execute(text("SELECT uri, version FROM former_files ORDER BY uri")).all()
    assert [(r.uri.rsplit("/", 1)[1], r.version) for r in rows] == [("a.root", 3), ("b.root", 2)]
    # An embargoed record's files, former or current, are not public until its release.
    embargoed = {**record("900002", release_date="2999-01-01"), "files": [a]}
    write(catalog, embargoed)
    write(catalog, {**embargoed, "files": []})
    with catalog.engine.connect() as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM former_files WHERE recid = '900002'")
        ).scalar_one()
    assert count == 1


def test_the_migration_finds_the_former_files_of_versions_stored_before_it(
    catalog: Catalog,
) -> None:
    a, b = _file("a.root"), _file("b.root")
    write(catalog, record(files=[a, b]))
    write(catalog, record(files=[b]))
    write(catalog, record("900003", files=[a]))
    config = _alembic_config()
    with catalog.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    assert "former_files" not in inspect(catalog.engine).get_table_names()
    upgrade(catalog.engine)
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT recid, uri, size, checksum, version FROM former_files")
        ).all()
    assert [tuple(r) for r in rows] == [("900001", a["uri"], 10, "adler32:0000abcd", 1)]
    assert catalog.uri_is_public(a["uri"], now=NOW) and catalog.uri_is_public(b["uri"], now=NOW)
