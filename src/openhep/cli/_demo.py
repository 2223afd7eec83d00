"""``openhep demo``: load the real CODP sample records into this instance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openhep.catalog._ingest import IngestSourceError, ingest
from openhep.cli._catalog import ProgressMode, err, open_catalog, print_report, progress_reporter


def find_demo_records(start: Path) -> Path | None:
    """``../shared/anchors/codp-records`` seen from ``start`` or any of its parents."""
    for base in (start, *start.parents):
        candidate = base.parent / "shared" / "anchors" / "codp-records"
        if candidate.is_dir():
            return candidate
    return None


def demo_command(
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="Directory of CODP record JSON (default: ../shared/anchors/codp-records).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a one-line JSON summary on standard output.")
    ] = False,
) -> None:
    """Load the demo records (real CODP metadata) into the catalogue."""
    source = records or find_demo_records(Path.cwd())
    if source is None:
        err.print(
            "error: no demo records found: ../shared/anchors/codp-records is not here; "
            "pass --records DIR with CODP record JSON files",
            markup=False,
        )
        raise typer.Exit(1)
    try:
        with progress_reporter(ProgressMode.none if as_json else ProgressMode.auto) as tick:
            report = ingest([source], open_catalog, progress=tick)
    except IngestSourceError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    print_report(report, as_json=as_json)
    if report.rejections:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
