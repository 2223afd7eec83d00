"""``openhep demo``: load the real CODP records and the sample records with real bytes."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

import typer

from openhep.catalog._ingest import IngestSourceError, ingest
from openhep.cli._catalog import (
    ProgressMode,
    emit_json,
    err,
    open_catalog,
    print_report,
    progress_reporter,
)
from openhep.cli._samples import (
    SAMPLE_DIRS,
    SamplesReport,
    find_samples,
    publish_samples,
    samples_from_wheel,
)
from openhep.settings import Settings


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
    samples: Annotated[
        Path | None,
        typer.Option(
            "--samples",
            help="Directory holding cms-samples/ and ispy/ (default: ../shared/anchors), or a"
            " scikit-hep-testdata 0.3.12 wheel.",
        ),
    ] = None,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="Load the CODP records only.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a one-line JSON summary on standard output.")
    ] = False,
) -> None:
    """Load the demo records (real CODP metadata) into the catalogue, then publish the sample
    records: real CMS ROOT and iSpy files with their true sizes and checksums."""
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
    if not as_json:
        print_report(report, as_json=False)
    sample_report = None if no_samples else load_samples(samples, quiet=as_json)
    if as_json:
        summary = report.summary()
        if sample_report is not None:
            summary["samples"] = sample_report.summary()
        emit_json(summary)
    if report.rejections:
        raise typer.Exit(1)


def load_samples(directory: Path | None, *, quiet: bool) -> SamplesReport:
    """Publish the sample records whose files are found; say what was skipped and why."""
    from openhep.cli._files import file_service

    anchors = directory or find_samples(Path.cwd())
    if anchors is None:
        report = SamplesReport(skipped=[f"{d}/: not found" for d in SAMPLE_DIRS])
        err.print(
            "skipped the sample records: no ../shared/anchors/cms-samples or ispy here; "
            "pass --samples DIR to publish them (or --samples WHEEL with the wheel that "
            "`pip download --no-deps scikit-hep-testdata==0.3.12` fetches)",
            markup=False,
        )
        return report
    if anchors.is_file():
        try:
            anchors = samples_from_wheel(anchors, Settings.from_env().home / "cache" / "samples")
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            err.print(f"error: --samples {anchors}: not a usable wheel: {exc}", markup=False)
            raise typer.Exit(1) from None
    with file_service() as service:
        report = publish_samples(service, anchors)
    for skipped in report.skipped:
        err.print(f"skipped sample {skipped}", markup=False)
    if not quiet:
        summary = report.summary()
        err.print(
            f"sample records {', '.join(summary['recids']) or 'none'}: "
            f"{summary['created']} created, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {len(report.skipped)} skipped",
            markup=False,
        )
    return report


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
