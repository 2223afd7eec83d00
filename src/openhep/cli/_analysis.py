"""``openhep hist``: a histogram of a public record's ROOT or CSV files, through the same
service as the API (:class:`openhep.services.Analyst`), with a progress bar on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from openhep.analysis import AnalysisCancelled, AnalysisError, ExpressionError
from openhep.analysis import Progress as JobProgress
from openhep.catalog import RecordNotFoundError
from openhep.cli._catalog import emit_json, err
from openhep.files import CorruptFileError, FileNotServedError
from openhep.services import (
    Analyst,
    HistogramAnswer,
    HistogramQuery,
    HistogramQueryError,
    Portal,
    histogram_png,
)
from openhep.settings import Settings

#: The largest validated-runs file read (CMS's golden JSON of a whole year is about 100 kB).
MAX_VALIDATED_RUNS_BYTES = 16 << 20


@contextmanager
def progress_bar(show: bool) -> Iterator[Callable[[JobProgress], None] | None]:
    """A callback drawing the job's progress in events read (a bar on stderr), or None."""
    if not show:
        yield None
        return
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("events", total=None)

        def update(at: JobProgress) -> None:
            bar.update(task, completed=at.events_read, total=at.events_total or None)

        yield update


def _caret(text: str, position: int) -> str:
    return f"  {text}\n  {' ' * max(0, min(position, len(text)))}^"


def _explain(exc: Exception, query: HistogramQuery | None) -> str:
    """What went wrong, with the expression and a caret under the place it goes wrong."""
    if isinstance(exc, ExpressionError):
        field = getattr(exc, "field", None) or "expression"
        text = (query.selection if field == "selection" else query.expression) if query else ""
        lines = [f"error: {field}: {exc.message}"]
        if text:
            lines.append(_caret(text, exc.position))
        if exc.names:
            lines.append(f"names you can use: {', '.join(exc.names)}")
        return "\n".join(lines)
    return f"error: {exc}"


def _summary(answer: HistogramAnswer) -> str:
    result = answer.result
    lines = [
        f"record {answer.job.query.recid} ({', '.join(answer.job.keys)}): "
        f"{result.entries:,} entries from {result.events_read:,} events, "
        f"{result.skipped:,} skipped, underflow {result.underflow:g}, "
        f"overflow {result.overflow:g}"
        + (" (cached)" if answer.cached else f" ({result.seconds:.2f} s)"),
        f"{'low':>12} {'high':>12} {'count':>10}",
    ]
    for i, count in enumerate(result.counts):
        lines.append(f"{result.edges[i]:>12.6g} {result.edges[i + 1]:>12.6g} {count:>10g}")
    return "\n".join(lines)


def _validated_runs(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        with path.open("rb") as source:
            data = source.read(MAX_VALIDATED_RUNS_BYTES + 1)
    except OSError as exc:
        raise _fail(f"error: --validated-runs {path}: {exc.strerror or exc}", 2) from None
    if len(data) > MAX_VALIDATED_RUNS_BYTES:
        raise _fail(
            f"error: --validated-runs {path}: larger than {MAX_VALIDATED_RUNS_BYTES:,} bytes", 2
        )
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"error: --validated-runs {path}: not JSON: {exc}", 2) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


def hist_command(
    recid: Annotated[str, typer.Argument(help="The record whose files are read.")],
    expression: Annotated[
        str, typer.Argument(help="What to histogram, e.g. M or 'mass(Muon[0], Muon[1])'.")
    ],
    bins: Annotated[int, typer.Option("--bins", help="Number of bins (1 to 10,000).")],
    span: Annotated[
        tuple[float, float],
        typer.Option("--range", help="The histogram's range: LO HI.", metavar="LO HI"),
    ],
    file: Annotated[
        str | None,
        typer.Option("--file", help="One file's key (default: all the record's ROOT/CSV files)."),
    ] = None,
    tree: Annotated[
        str | None,
        typer.Option("--tree", help="The TTree or RNTuple (default: Events, else events)."),
    ] = None,
    selection: Annotated[
        str | None,
        typer.Option("--selection", help="Keep the events where this is true, e.g. 'Q1 != Q2'."),
    ] = None,
    validated_runs: Annotated[
        Path | None,
        typer.Option(
            "--validated-runs",
            help='A CMS validated-runs JSON file ({"run": [[ls_from, ls_to], ...]}).',
        ),
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Also draw the histogram to this PNG file.")
    ] = None,
    log: Annotated[bool, typer.Option("--log", help="A log scale in the PNG.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON answer on standard output.")
    ] = False,
) -> None:
    """A histogram of EXPRESSION over a public record's ROOT or CSV files, as the API and the
    histogram page make it: counts per bin on standard output (or JSON), a PNG with --png."""
    query: HistogramQuery | None = None
    try:
        query = HistogramQuery.build(
            recid=recid,
            expression=expression,
            bins=bins,
            lo=span[0],
            hi=span[1],
            file=file,
            selection=selection,
            tree=tree,
            validated_runs=_validated_runs(validated_runs),
        )
    except HistogramQueryError as exc:
        raise _fail(f"error: {exc}", 2) from None
    settings = Settings.from_env()
    portal = Portal.open(settings)
    analyst = Analyst(portal, settings)
    try:
        with progress_bar(sys.stderr.isatty() and not as_json) as tick:
            answer = analyst.histogram(query, progress=tick)
        image = histogram_png(answer, log=log) if png is not None else None
    except (RecordNotFoundError, FileNotServedError, CorruptFileError) as exc:
        raise _fail(f"error: {exc}") from None
    except (ExpressionError, AnalysisError, HistogramQueryError, AnalysisCancelled) as exc:
        raise _fail(_explain(exc, query)) from None
    finally:
        analyst.close()
        portal.close()
    if png is not None and image is not None:
        try:
            png.write_bytes(image)
        except OSError as exc:
            raise _fail(f"error: --png {png}: {exc.strerror or exc}") from None
    if as_json:
        emit_json(answer.to_json())
    else:
        typer.echo(_summary(answer))
    if png is not None:
        err.print(f"wrote {png}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("hist")(hist_command)
