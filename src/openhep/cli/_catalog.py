"""Catalogue commands: ingest, stats, get, versions, schema, migrate."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from openhep.catalog import (
    CatalogConflictError,
    IngestProgress,
    IngestReport,
    IngestSourceError,
    RecordNotFoundError,
)
from openhep.model import record_json_schema
from openhep.services import Curator

err = Console(stderr=True, highlight=False, soft_wrap=True)


class ProgressMode(StrEnum):
    auto = "auto"
    bar = "bar"
    log = "log"
    none = "none"


def emit_json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


@contextmanager
def progress_reporter(mode: ProgressMode) -> Iterator[Callable[[IngestProgress], None] | None]:
    """A callback showing ingest progress: a bar on a terminal, log lines on request.

    A log line says "written" only for records whose transaction has committed; records sent
    inside a transaction that is still open are "writing" (a crash then loses them).
    """
    if mode is ProgressMode.auto:
        mode = ProgressMode.bar if sys.stderr.isatty() else ProgressMode.none
    if mode is ProgressMode.none:
        yield None
    elif mode is ProgressMode.log:

        def log(at: IngestProgress) -> None:
            if at.in_transaction:
                line = (
                    f"ingest: writing {at.sent}/{at.total} records "
                    f"(not yet committed; {at.committed} committed)"
                )
            else:
                line = f"ingest: written {at.committed}/{at.total} records (committed)"
            print(line, file=sys.stderr, flush=True)

        yield log
    else:
        columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task("writing records", total=None)

            def update(at: IngestProgress) -> None:
                bar.update(task, completed=at.sent, total=at.total)

            yield update


def print_report(report: IngestReport, *, as_json: bool, list_repairs: bool = True) -> None:
    """The rejections, then (unless ``as_json``) the repairs and a summary line, on stderr;
    with ``as_json`` the summary is one JSON line on stdout, listing the repairs too."""
    for rejection in report.rejections:
        err.print(f"rejected: {rejection}", markup=False)
    summary = report.summary()
    if as_json:
        emit_json(summary)
        return
    if list_repairs:
        for repair in report.repairs:
            err.print(f"repaired: {repair}", markup=False)
    verb = "ingested" if report.committed or not report.rejections else "ingested nothing:"
    err.print(
        f"{verb} {summary['records']:,} records from {summary['files']:,} files: "
        f"{summary['created']:,} created, {summary['updated']:,} updated, "
        f"{summary['unchanged']:,} unchanged, {summary['rejected']:,} rejected "
        f"({summary['seconds']:.1f} s)",
        markup=False,
    )
    if report.repairs:
        counts = ", ".join(f"{n:,} {kind}" for kind, n in summary["repair_counts"].items() if n)
        err.print(
            f"repaired {summary['repaired']:,} records read in older shapes: {counts}",
            markup=False,
        )


def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Record JSON files, or directories of them (*.json).")
    ],
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Ingest the valid records and report the rejected ones."
        ),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Let a record replace the one holding its recid even if their experiments "
            "differ (it becomes that record's next version).",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Records per transaction (default: all of them in one transaction).",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into sub-directories.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a one-line JSON summary on standard output.")
    ] = False,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            "--progress",
            help="auto: a bar on a terminal; bar; log: a line per chunk sent ('writing') and "
            "per committed transaction ('written'); none.",
        ),
    ] = ProgressMode.auto,
) -> None:
    """Ingest CODP record JSON of any age of the format: a batch lands whole or not at all."""
    try:
        with (
            progress_reporter(ProgressMode.none if as_json else progress) as tick,
            Curator() as curator,
        ):
            report = curator.ingest(
                paths,
                skip_invalid=skip_invalid,
                replace=replace,
                batch_size=batch_size,
                recursive=recursive,
                progress=tick,
            )
    except IngestSourceError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    except CatalogConflictError as exc:
        err.print(f"error: {exc}; nothing was written", markup=False)
        raise typer.Exit(1) from None
    print_report(report, as_json=as_json)
    if report.rejections and not skip_invalid:
        err.print(
            "nothing was written: fix the records above, or pass --skip-invalid to ingest the rest",
            markup=False,
        )
        raise typer.Exit(1)


def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
) -> None:
    """Counts of public records per experiment, type and subtype, and of embargoed ones."""
    with Curator() as curator:
        stats = curator.stats().as_dict()
    if as_json:
        emit_json(stats)
        return
    typer.echo(f"public records: {stats['total']:,}   embargoed: {stats['embargoed']:,}")
    for facet in ("experiment", "type", "subtype"):
        typer.echo(f"\n{facet}:")
        for name, count in sorted(stats[facet].items(), key=lambda kv: (-kv[1], kv[0])):
            typer.echo(f"  {count:>8,}  {name}")


def get_command(
    recid: Annotated[str, typer.Argument(help="The record's recid.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="A given version (default: current).")
    ] = None,
) -> None:
    """Print a public record's JSON."""
    with Curator() as curator:
        try:
            stored = curator.record(recid, version)
        except RecordNotFoundError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from None
    emit_json(stored.metadata)


def versions_command(recid: Annotated[str, typer.Argument(help="The record's recid.")]) -> None:
    """List a public record's versions, oldest first."""
    with Curator() as curator:
        try:
            versions = curator.versions(recid)
        except RecordNotFoundError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from None
    emit_json(
        [
            {"version": v.version, "created": v.created.isoformat(), "hash": v.content_hash}
            for v in versions
        ]
    )


def schema_command() -> None:
    """Print the JSON Schema of the record format."""
    sys.stdout.write(orjson.dumps(record_json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")


def migrate_command() -> None:
    """Create the catalogue or bring its schema up to date (also done on every open)."""
    with Curator() as curator:
        url = curator.migrate()
    err.print(f"catalogue at head: {url}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("stats")(stats_command)
    app.command("get")(get_command)
    app.command("versions")(versions_command)
    app.command("schema")(schema_command)
    app.command("migrate")(migrate_command)
