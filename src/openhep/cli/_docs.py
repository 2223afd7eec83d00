"""``openhep docs``: load CODP's documentation and news pages into the catalogue, list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openhep.catalog import DocumentSourceError, DocumentsResult
from openhep.cli._catalog import emit_json, err
from openhep.services import Curator

docs_app = typer.Typer(
    help="CODP's documentation and news pages, served at /docs/<slug>.", no_args_is_help=True
)


def load_documents(folder: Path) -> DocumentsResult:
    """Read every document of ``folder`` (all checked first) and write them in one
    transaction: a broken one means nothing is written. DocumentSourceError says which."""
    with Curator() as curator:
        return curator.load_documents(folder)


def report_line(folder: Path, result: DocumentsResult) -> str:
    summary = result.summary()
    return (
        f"loaded {summary['documents']:,} documents from {folder}: {summary['created']:,}"
        f" created, {summary['updated']:,} updated, {summary['unchanged']:,} unchanged"
    )


@docs_app.command("load")
def load_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="A folder of CODP documents: each <slug>.json (a list of one document) beside"
            " the Markdown file its body.content names, in any sub-folder."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a one-line JSON summary on standard output.")
    ] = False,
) -> None:
    """Load documentation and news pages: all of them, or none if one is broken. Loading the
    same folder again changes nothing."""
    try:
        result = load_documents(folder)
    except DocumentSourceError as exc:
        err.print(f"error: {exc}; nothing was written", markup=False)
        raise typer.Exit(1) from None
    if as_json:
        emit_json(result.summary())
    else:
        err.print(report_line(folder, result), markup=False)


@docs_app.command("list")
def list_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the documents as JSON (one list).")
    ] = False,
) -> None:
    """List the documents held in the catalogue (slug, type, experiments, title)."""
    with Curator() as curator:
        found = curator.documents()
    if as_json:
        emit_json([d.as_json() for d in found])
        return
    for d in found:
        typer.echo(f"{d.slug:<60} {d.type:<5} {','.join(d.experiment):<12} {d.title}")


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
