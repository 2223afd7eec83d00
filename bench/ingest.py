"""Ingest throughput (records/s) of the real CODP records, against raw sqlite3 and COPY baselines.

What it measures, end to end from JSON files on disk through ``openhep.catalog._ingest.ingest``
(the path ``openhep ingest`` takes: read with orjson → validate with pydantic → write records,
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
import os
import platform
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import psycopg
import sqlalchemy
from psycopg import sql

from openhep.catalog import Catalog
from openhep.catalog._ingest import collect_paths, ingest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ANCHORS = REPO_ROOT.parent / "shared" / "anchors" / "codp-records"
# The real record that vouches for what the stubs lack: CMS simulation of the same 2016 UL
# campaign (its title, like every stub's, names ``UL16``), published in the same release.
REFERENCE_FILE = "cms-simulated-datasets-2016-pileup.json"
STUB_CAMPAIGN = "UL16"

TARGET_SQLITE = 5_000
GROW_TARGET = 200_000
GROW_BATCH = 10_000
RECID_STRIDE = 1_000_000
RAW_TABLE = "raw_records"


def note(message: str) -> None:
    print(f"[bench/ingest] {message}", file=sys.stderr, flush=True)


# -- building the inputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inputs:
    """The record files each measurement reads, and how many records they hold."""

    real: list[Path]
    real_records: int
    stub_records: int
    grow_dir: Path | None = None
    grow_records: int = 0
    grow_copies: int = 0
    at_200k_dirs: tuple[Path, ...] = ()
    completion: dict[str, Any] | None = None


def read_records(path: Path) -> list[dict[str, Any]]:
    data = orjson.loads(path.read_bytes())
    return [data] if isinstance(data, dict) else list(data)


def stub_completion(anchors: Path) -> dict[str, Any]:
    """The fields a 2016 CMS simulated-dataset stub lacks, as the real records state them.

    type, experiment and publisher are what the stubs' files say (``cms-simulated-datasets``
    of the CERN Open Data Portal); collision energy/type and the publication date are read from
    the real records of the same campaign and must agree among them, or the bench refuses.
    """
    source = anchors / REFERENCE_FILE
    if not source.is_file():
        raise SystemExit(
            f"bench/ingest: {source} not found; the stubs are completed from it (--anchors)"
        )
    stated: dict[str, Any] = {
        "type": {"primary": "Dataset", "secondary": ["Simulated"]},
        "experiment": ["CMS"],
        "publisher": "CERN Open Data Portal",
    }
    references = [
        r
        for r in read_records(source)
        if r.get("type") == stated["type"]
        and r.get("experiment") == stated["experiment"]
        and STUB_CAMPAIGN in r.get("title", "")
        and "2016" in (r.get("date_created") or [])
    ]
    if not references:
        raise SystemExit(f"bench/ingest: no CMS 2016 {STUB_CAMPAIGN} simulated record in {source}")
    for key in ("publisher", "collision_information", "date_published"):
        values = {orjson.dumps(r.get(key)) for r in references}
        if len(values) != 1 or references[0].get(key) is None:
            raise SystemExit(f"bench/ingest: {source}: records disagree on (or lack) {key}")
    if references[0]["publisher"] != stated["publisher"]:
        raise SystemExit(f"bench/ingest: {source}: unexpected publisher")
    return stated | {
        "collision_information": references[0]["collision_information"],
        "date_published": references[0]["date_published"],
    }


def shifted(record: dict[str, Any], copy: int) -> dict[str, Any]:
    """Copy ``copy`` of a record: recid + copy * 1,000,000, and no DOI (DOIs are unique)."""
    if copy == 0:
        return record
    moved = {k: v for k, v in record.items() if k != "doi"}
    moved["recid"] = str(int(record["recid"]) + copy * RECID_STRIDE)
    return moved


def write_copies(
    sources: Sequence[tuple[str, list[dict[str, Any]]]], copies: Sequence[int], out: Path
) -> int:
    """Write every source file's records once per copy (same file sizes as CODP's files)."""
    out.mkdir(parents=True)
    written = 0
    for copy in copies:
        for name, recs in sources:
            (out / f"copy{copy:02d}-{name}").write_bytes(
                orjson.dumps([shifted(r, copy) for r in recs])
            )
            written += len(recs)
    return written


def build_inputs(anchors: Path, work: Path, *, grow: bool, at_200k_runs: int) -> Inputs:
    real = collect_paths([anchors])
    real_sources = [(p.name, read_records(p)) for p in real]
    real_records = sum(len(recs) for _, recs in real_sources)
    stub_files = sorted((anchors / "_skeletons").glob("*.json"))
    stubs = [(p.name, read_records(p)) for p in stub_files]
    stub_records = sum(len(recs) for _, recs in stubs)
    if not grow:
        return Inputs(real, real_records, stub_records)

    completion = stub_completion(anchors)
    for name, recs in stubs:
        for stub in recs:
            if set(stub) != {"recid", "doi", "title"} or STUB_CAMPAIGN not in stub["title"]:
                raise SystemExit(f"bench/ingest: {name}: recid {stub.get('recid')} is no stub")
    completed = [(name, [s | completion for s in recs]) for name, recs in stubs]
    per_copy = real_records + stub_records
    copies = -(-GROW_TARGET // per_copy)
    note(f"writing {copies} copies of {per_copy:,} records (real + completed stubs)")
    grow_dir = work / "grow"
    grow_records = write_copies(real_sources + completed, range(copies), grow_dir)
    at_dirs = tuple(work / f"at200k-{i}" for i in range(at_200k_runs))
    for i, directory in enumerate(at_dirs):
        write_copies(real_sources, [copies + i], directory)
    return Inputs(
        real,
        real_records,
        stub_records,
        grow_dir,
        grow_records,
        copies,
        at_dirs,
        completion,
    )


def describe_volume(inputs: Inputs) -> str:
    """How the growth volume was built, in one sentence for the JSON line."""
    if inputs.grow_dir is None or inputs.completion is None:
        return "--quick: the real records only, no growth"
    files = sum(1 for _ in inputs.grow_dir.iterdir())
    return (
        f"{inputs.grow_copies} copies of the {inputs.real_records:,} real CODP records and the "
        f"{inputs.stub_records:,} CMS 2016 simulated-dataset skeleton stubs {{recid, doi, title}}, "
        f"completed with {', '.join(sorted(inputs.completion))} as their source files and the real "
        f"UL16 record in {REFERENCE_FILE} state them; copy k has recid + k*{RECID_STRIDE:,} and "
        f"no doi; {inputs.grow_records:,} records in {files:,} files, nothing invented"
    )


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
    for path in collect_paths(paths):
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


def machine(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024**2, 1)
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
        # Other work on the machine skews absolute figures (not the same-run ratios): say so.
        "load_average_1min": {
            "start": round(load_at_start[0], 2),
            "end": round(os.getloadavg()[0], 2),
        },
    }


def add_anchors_option(parser: argparse.ArgumentParser) -> None:
    """``--anchors DIR``: where the real CODP record files are (bench/search.py uses it too)."""
    parser.add_argument(
        "--anchors",
        type=Path,
        default=DEFAULT_ANCHORS,
        help="directory of the real CODP record files (default: ../shared/anchors/codp-records)",
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_anchors_option(parser)
    parser.add_argument("--quick", action="store_true", help="skip the growth to 200,000 records")
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per 7,535-record measurement (median reported)"
    )
    parser.add_argument(
        "--grow-repeat", type=int, default=3, help="runs of the growth to 200,000 (median reported)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.grow_repeat < 1:
        parser.error("--repeat and --grow-repeat must be at least 1")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the temporary files and the PostgreSQL server go too.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    anchors: Path = args.anchors.resolve()
    if not anchors.is_dir():
        raise SystemExit(f"bench/ingest: {anchors} is not a directory (--anchors)")
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    result: dict[str, Any] = {
        "bench": "ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
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
    result["machine"] = machine(load_at_start)
    # Linux reports kilobytes. The whole bench's peak: in a full run, mostly ingest holding
    # every validated record of the 200k growth before it writes the first batch.
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
