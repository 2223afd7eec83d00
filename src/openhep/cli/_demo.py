"""``openhep demo``: load the real CODP records, the sample records with real bytes and CODP's
documentation pages."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

import typer

from openhep.catalog import DocumentSourceError, DocumentsResult, IngestSourceError
from openhep.cli._catalog import (
    ProgressMode,
    emit_json,
    err,
    print_report,
    progress_reporter,
)
from openhep.cli._docs import load_documents, report_line
from openhep.cli._samples import (
    SAMPLE_DIRS,
    SamplesReport,
    publish_samples,
    samples_from_wheel,
)
from openhep.services import Curator
from openhep.settings import Settings

#: The repository's folder of real data (records, docs, samples), see ``data/README.md``.
DEMO_DATA = "data"
#: The repository an editable install runs from (``src/openhep/cli/`` is three levels down).
SOURCE_TREE = Path(__file__).resolve().parents[3]


def find_demo_data(start: Path) -> Path | None:
    """The repository's ``data/`` (holding ``codp-records/``): seen from ``start`` or any of its
    parents, else beside the source tree of an editable install (``src/openhep/../../data``)."""
    for base in (start, *start.parents, SOURCE_TREE):
        candidate = base / DEMO_DATA
        if (candidate / "codp-records").is_dir():
            return candidate
    return None


def demo_command(
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="Directory of CODP record JSON, .json or .json.gz (default: the repository's"
            " data/codp-records).",
        ),
    ] = None,
    samples: Annotated[
        Path | None,
        typer.Option(
            "--samples",
            help="Directory holding cms-samples/ and ispy/ (default: the repository's data/), or a"
            " scikit-hep-testdata 0.3.12 wheel.",
        ),
    ] = None,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="Load the CODP records only.")
    ] = False,
    docs: Annotated[
        Path | None,
        typer.Option(
            "--docs",
            help="Folder of CODP documentation and news pages (default: the repository's"
            " data/codp-docs).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a one-line JSON summary on standard output.")
    ] = False,
) -> None:
    """Load the demo records (real CODP metadata) into the catalogue, then publish the sample
    records (real CMS ROOT and iSpy files with their true sizes and checksums) and CODP's
    documentation and news pages."""
    data = find_demo_data(Path.cwd())
    source = records or (data / "codp-records" if data is not None else None)
    if source is None:
        err.print(
            f"error: no demo records found: no {DEMO_DATA}/codp-records in this folder or its"
            " parents (run it from the OpenHEP repository); pass --records DIR with CODP record"
            " JSON files",
            markup=False,
        )
        raise typer.Exit(1)
    try:
        with (
            progress_reporter(ProgressMode.none if as_json else ProgressMode.auto) as tick,
            Curator() as curator,
        ):
            report = curator.ingest([source], progress=tick)
    except IngestSourceError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    if not as_json:
        print_report(report, as_json=False, list_repairs=False)
    sample_report = None if no_samples else load_samples(samples or data, quiet=as_json)
    docs_folder = docs or (data / "codp-docs" if data is not None else None)
    docs_result = load_docs(docs_folder, quiet=as_json)
    if as_json:
        summary = report.summary()
        if sample_report is not None:
            summary["samples"] = sample_report.summary()
        if docs_result is not None:
            summary["docs"] = docs_result.summary()
        emit_json(summary)
    if report.rejections:
        raise typer.Exit(1)


def load_docs(folder: Path | None, *, quiet: bool) -> DocumentsResult | None:
    """Load CODP's docs pages after the records (the records' links to them then stay here)."""
    if folder is None:
        err.print(
            f"skipped the docs pages: no {DEMO_DATA}/codp-docs here; pass --docs DIR",
            markup=False,
        )
        return None
    try:
        result = load_documents(folder)
    except DocumentSourceError as exc:
        err.print(f"error: {exc}; no docs page was written", markup=False)
        raise typer.Exit(1) from None
    if not quiet:
        err.print(report_line(folder, result), markup=False)
    return result


def load_samples(directory: Path | None, *, quiet: bool) -> SamplesReport:
    """Publish the sample records whose files are found; say what was skipped and why."""
    from openhep.cli._files import file_service

    anchors = directory
    if anchors is None:
        report = SamplesReport(skipped=[f"{d}/: not found" for d in SAMPLE_DIRS])
        err.print(
            f"skipped the sample records: no {DEMO_DATA}/cms-samples or ispy here; "
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
