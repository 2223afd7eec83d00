"""The ``openhep`` command: one sub-command per job, each a thin shell over a service."""

from __future__ import annotations

import typer

from openhep.cli import _analysis, _catalog, _demo, _docs, _files, _serve

app = typer.Typer(
    name="openhep",
    help="OpenHEP: an open data portal for particle physics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_analysis.register(app)
_catalog.register(app)
_demo.register(app)
_docs.register(app)
_files.register(app)
_serve.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
