"""Ingest throughput (records/s) of the real CODP records, against raw sqlite3 and COPY baselines.

What it measures, end to end from JSON files on disk through ``openhep.catalog.ingest`` (the
path ``openhep ingest`` takes: read with orjson → validate with pydantic → write records,
versions, files and change log in transactions), on SQLite and on PostgreSQL:

* ``real_7535``: the 7,535 real CODP records into an empty catalogue, one transaction;
* ``reingest_7535``: the same files again into that catalogue (idempotent: all unchanged);
* ``grow_200k``: ≥ 200,000 records into an empty catalogue with ``batch_size=10_000``;
* ``at_200k``: one more batch of the 7,535 real records (fresh recids) into the grown catalogue.

Volume is built from real data only: the 43,602 skeleton stubs ``{recid, doi, title}`` of CMS
2016 simulated datasets are completed with the fields their source states (type, experiment,
publisher; collision energy and publication date read from the real 2016 UL simulated record
in the anchors), then real records + completed stubs are repeated with recids offset by
multiples of 1,000,000 (copies drop ``doi``, which must be unique) until there are ≥ 200,000.

Named baselines, measured in the same run on the same files: ``sqlite3_raw_executemany``
(Python's sqlite3, one table ``(recid TEXT PRIMARY KEY, json TEXT)``, executemany in one
transaction, same orjson parser, same pragmas as the catalogue) and ``postgres_raw_copy``
(psycopg 3 ``COPY`` of the same rows into a one-table database on the same server): the floor
cost of storing the records with no validation, no versions, no files and no change log.

Prints one JSON line on stdout; progress goes to stderr. ``--quick`` skips the growth to 200k,
``--skip-postgres`` the PostgreSQL half.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

from bench.harness import (
    REPO_ROOT,
    Inputs,
    Run,
    add_anchors_option,
    add_record_option,
    build_inputs,
    describe_volume,
    first_paragraph,
    progress,
    read_records,
    record_files,
    source_tree,
)
from openhep.catalog import Catalog, ingest

TARGET_SQLITE = 5_000
GROW_BATCH = 10_000
RAW_TABLE = "raw_records"


note = progress("ingest")


# -- measuring ------------------------------------------------------------------------------


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def run_ingest(
    paths: Sequence[Path],
    url: str,
    *,
    expect_created: int = 0,
    expect_unchanged: int = 0,
    batch_size: int | None = None,
) -> float:
    """Seconds one ``ingest`` call takes (the whole call, as ``openhep ingest`` would)."""
    seconds, report = timed(
        lambda: ingest(paths, lambda: Catalog.open(url=url), batch_size=batch_size)
    )
    summary = report.summary()
    if (
        summary["rejected"]
        or summary["created"] != expect_created
        or summary["unchanged"] != expect_unchanged
    ):
        del summary["rejections"][5:]
        raise SystemExit(f"bench/ingest: ingest did not do what was expected: {summary}")
    return float(seconds)


def figure(records: int, seconds: Sequence[float]) -> dict[str, Any]:
    """records/s of the median run, and every run's, for one measurement."""
    rates = sorted(records / s for s in seconds)
    return {
        "records": records,
        "records_per_second": round(statistics.median(rates)),
        "runs_records_per_second": [round(r) for r in rates],
    }


def against(ours: dict[str, Any], baseline: dict[str, Any], name: str) -> dict[str, Any]:
    return ours | {
        "baseline": name,
        "baseline_records_per_second": baseline["records_per_second"],
        "ratio_to_baseline": round(ours["records_per_second"] / baseline["records_per_second"], 3),
    }


def raw_rows(paths: Sequence[Path]) -> Iterator[tuple[str, str]]:
    """(recid, JSON text) of every record of ``paths``, parsed with orjson as ingest does."""
    for path in record_files(paths):
        for record in read_records(path):
            yield str(record["recid"]), orjson.dumps(record).decode()


def sqlite_connect(path: Path) -> sqlite3.Connection:
    # The catalogue's own pragmas: the baseline differs in the work it does, not in durability.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def sqlite_raw(paths: Sequence[Path], db: Path) -> float:
    """Seconds for sqlite3 executemany of the raw rows into the one-table database ``db``."""
    if not db.exists():
        with contextlib.closing(sqlite_connect(db)) as conn:
            conn.execute(f"CREATE TABLE {RAW_TABLE} (recid TEXT PRIMARY KEY, json TEXT NOT NULL)")

    def run() -> None:
        with contextlib.closing(sqlite_connect(db)) as conn:
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO {RAW_TABLE} VALUES (?, ?)", raw_rows(paths))
            conn.execute("COMMIT")

    return float(timed(run)[0])


def postgres_raw(paths: Sequence[Path], conninfo: str, *, fresh: bool) -> float:
    """Seconds for a psycopg 3 COPY of the raw rows into a one-table database."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if fresh:
            conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            conn.execute(f"CREATE TABLE {RAW_TABLE} (recid TEXT PRIMARY KEY, json TEXT NOT NULL)")

    def run() -> None:
        with psycopg.connect(conninfo) as conn:
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {RAW_TABLE} (recid, json) FROM STDIN") as copy,
            ):
                for row in raw_rows(paths):
                    copy.write_row(row)
            conn.commit()

    return float(timed(run)[0])


class Backend:
    """Where catalogues and baseline tables live: files in a directory, or one PG server."""

    name: str

    def catalogue(self, label: str) -> str:
        """URL of a new, empty (migrated) catalogue."""
        raise NotImplementedError

    def drop(self, url: str) -> None:
        """Free a catalogue that is no longer needed."""

    def raw(self, paths: Sequence[Path], label: str, *, fresh: bool) -> float:
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.work = work

    def catalogue(self, label: str) -> str:
        url = f"sqlite:///{self.work / f'{label}.sqlite'}"
        Catalog.open(url=url).close()
        return url

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def raw(self, paths: Sequence[Path], label: str, *, fresh: bool) -> float:
        db = self.work / f"raw-{label}.sqlite"
        if fresh:
            self.drop(f"sqlite:///{db}")
        return sqlite_raw(paths, db)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def catalogue(self, label: str) -> str:
        url: str = self.cluster.create_database(label.replace("-", "_"))
        with Catalog.open(url=url):
            pass
        return url

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.cluster.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def raw(self, paths: Sequence[Path], label: str, *, fresh: bool) -> float:
        name = "raw_" + label.replace("-", "_")
        if fresh:
            with psycopg.connect(self.cluster.conninfo(), autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
            if not exists:
                self.cluster.create_database(name)
        return postgres_raw(paths, self.cluster.conninfo(name), fresh=fresh)

    def describe(self) -> str:
        """The server's version and the durability settings its figures were measured with."""
        shown = []
        with psycopg.connect(self.cluster.conninfo()) as conn:
            for setting in ("server_version", "fsync", "synchronous_commit", "full_page_writes"):
                row = conn.execute(f"SHOW {setting}").fetchone()
                shown.append(f"{setting}={row[0] if row else '?'}")
        return "throwaway cluster on the same host (tests/_services/postgres.py): " + ", ".join(
            shown
        )


def measure(
    backend: Backend, inputs: Inputs, repeat: int, grow_repeat: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our figures and the raw baseline's on one backend."""
    n = inputs.real_records
    ours: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    note(f"{backend.name}: warm-up ingest of {n:,} real records")
    warm = backend.catalogue("warmup")
    run_ingest(inputs.real, warm, expect_created=n)
    backend.drop(warm)

    fresh: list[float] = []
    last = ""
    for i in range(repeat):
        if last:
            backend.drop(last)
        last = backend.catalogue(f"real-{i}")
        fresh.append(run_ingest(inputs.real, last, expect_created=n))
        note(f"{backend.name}: real_7535 run {i + 1}: {n / fresh[-1]:,.0f} records/s")
    again = [run_ingest(inputs.real, last, expect_unchanged=n) for _ in range(repeat)]
    backend.drop(last)
    raw["real_7535"] = figure(
        n, [backend.raw(inputs.real, "real", fresh=True) for _ in range(repeat)]
    )
    ours["real_7535"] = figure(n, fresh)
    ours["reingest_7535"] = figure(n, again)
    note(f"{backend.name}: reingest_7535 {ours['reingest_7535']['records_per_second']:,} records/s")

    if inputs.grow_dir is not None:
        total = inputs.grow_records
        grow: list[float] = []
        grown = ""
        for i in range(grow_repeat):
            if grown:
                backend.drop(grown)
            grown = backend.catalogue(f"grow-{i}")
            grow.append(
                run_ingest([inputs.grow_dir], grown, expect_created=total, batch_size=GROW_BATCH)
            )
            note(f"{backend.name}: grow_200k run {i + 1}: {total / grow[-1]:,.0f} records/s")
        ours["grow_200k"] = figure(total, grow) | {"batch_size": GROW_BATCH}
        # Each run adds its own 7,535 records (fresh recids): the catalogue grows as it goes.
        at = [run_ingest([d], grown, expect_created=n) for d in inputs.at_200k_dirs]
        ours["at_200k"] = figure(n, at) | {"catalogue_records_before_first_run": total}
        note(f"{backend.name}: at_200k {ours['at_200k']['records_per_second']:,} records/s")
        backend.drop(grown)
        raw["grow_200k"] = figure(
            total, [backend.raw([inputs.grow_dir], "grow", fresh=True) for _ in range(grow_repeat)]
        )
        raw["at_200k"] = figure(
            n, [backend.raw([d], "grow", fresh=False) for d in inputs.at_200k_dirs]
        )
    return ours, raw


# -- the run --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    add_anchors_option(parser)
    parser.add_argument("--quick", action="store_true", help="skip the growth to 200,000 records")
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per 7,535-record measurement (median reported)"
    )
    parser.add_argument(
        "--grow-repeat", type=int, default=3, help="runs of the growth to 200,000 (median reported)"
    )
    add_record_option(parser, "ingest")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.grow_repeat < 1:
        parser.error("--repeat and --grow-repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors: Path = args.anchors.resolve()
    run = Run("ingest", code=source_tree(None))
    result = run.result
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="openhep-bench-")))
        inputs = build_inputs(anchors, work, grow=not args.quick, at_200k_runs=args.repeat)
        result["records"] = {
            "real": inputs.real_records,
            "real_files": len(inputs.real),
            "skeleton_stubs": inputs.stub_records,
            "grown": inputs.grow_records or None,
        }
        result["volume"] = describe_volume(inputs)
        if inputs.completion is not None:
            result["stub_completion"] = inputs.completion
        result["repeats"] = {"7535": args.repeat, "grow_200k": args.grow_repeat}

        sqlite_ours, sqlite_raw_figures = measure(
            SqliteBackend(work), inputs, args.repeat, args.grow_repeat
        )
        result["sqlite"] = {
            k: against(v, sqlite_raw_figures[k], "sqlite3_raw_executemany")
            if k in sqlite_raw_figures
            else v
            for k, v in sqlite_ours.items()
        }
        result["settings"] = {
            "sqlite": "journal_mode=WAL, synchronous=FULL (catalogue and baseline alike)"
        }
        result["baselines"] = {"sqlite3_raw_executemany": sqlite_raw_figures}

        if not args.skip_postgres:
            sys.path.insert(0, str(REPO_ROOT / "tests"))
            from _services.postgres import PostgresCluster, PostgresUnavailable

            note("starting a throwaway PostgreSQL server")
            try:
                cluster = stack.enter_context(PostgresCluster())
            except PostgresUnavailable as exc:
                raise SystemExit(f"bench/ingest: {exc} (or pass --skip-postgres)") from None
            backend = PostgresBackend(cluster)
            pg_ours, pg_raw = measure(backend, inputs, args.repeat, args.grow_repeat)
            result["postgres"] = {
                k: against(v, pg_raw[k], "postgres_raw_copy") if k in pg_raw else v
                for k, v in pg_ours.items()
            }
            result["settings"]["postgres"] = backend.describe()
            result["baselines"]["postgres_raw_copy"] = pg_raw
        note("cleaning up")

    checked = {
        k: v for k, v in result["sqlite"].items() if k in ("real_7535", "grow_200k", "at_200k")
    }
    result["target_sqlite_records_per_second"] = TARGET_SQLITE
    result["target_checked_on"] = sorted(checked)
    result["target_met"] = all(v["records_per_second"] >= TARGET_SQLITE for v in checked.values())
    # peak_rss_mib is the whole bench's peak: in a full run, mostly ingest holding every
    # validated record of the 200k growth before it writes the first batch.
    run.finish(save=not args.no_record, process_cpu=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
