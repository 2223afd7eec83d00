"""File commands: ``files add``, ``fixity`` and ``token create/list/revoke``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from openhep.catalog import CatalogConflictError, RecordNotFoundError
from openhep.cli._catalog import emit_json, err
from openhep.files import DEFAULT_GRACE_SECONDS, FileIndexError, Orphan
from openhep.model import RecordValidationError
from openhep.services import Curator
from openhep.storage import CHUNK_SIZE

files_app = typer.Typer(
    name="files",
    help="Add files to records, build file indices.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    name="token",
    help="Bearer tokens for the write API (PUT /api/records/<recid>/files/<key>).",
    no_args_is_help=True,
)


#: What adding files can run into, each leaving the store and the record as they were: bad
#: keys or paths, size bounds, checksum mismatches, conflicts, invalid records (all
#: ValueErrors) and I/O errors of the store.
NOTHING_ADDED = (ValueError, OSError)


@contextmanager
def file_service(*, recover: bool = True) -> Iterator[Curator]:
    """The curation services of this instance, for a files command; with ``recover``, what
    adds killed before they completed left in the store is removed first (it reads the
    journal only: cheap)."""
    with Curator() as curator:
        if recover:
            report_removed(curator.recover())
        yield curator


def report_removed(orphans: list[Orphan]) -> None:
    removed = [o for o in orphans if o.removed]
    if removed:
        err.print(
            f"removed {len(removed):,} orphaned file(s), {sum(o.size for o in removed):,} bytes,"
            f" left by an add that never completed ({removed[0].writer})",
            markup=False,
        )


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            yield chunk


@files_app.command("add")
def add_command(
    recid: Annotated[str, typer.Argument(help="The record the files belong to.")],
    paths: Annotated[list[Path], typer.Argument(help="Files to store and add to the record.")],
    key: Annotated[
        str | None,
        typer.Option(help="The file's key in the record (default: its file name; one file only)."),
    ] = None,
    file_type: Annotated[
        str | None,
        typer.Option("--type", help="CODP file type (default: from the extension, e.g. root)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Store files with their size, adler32 and sha256, and add them to a record (one new
    version). A file with the key of an existing one replaces it."""
    if key is not None and len(paths) != 1:
        raise fail("--key names one file: give a single PATH with it", 2)
    for path in paths:
        if not path.is_file():
            raise fail(f"{path}: not a readable file", 2)
    items = [(key or path.name, file_chunks(path)) for path in paths]
    with file_service() as service:
        try:
            result = service.add_files(recid, items, file_type=file_type)
        except RecordNotFoundError as exc:
            raise fail(f"{exc}: ingest the record first") from None
        except NOTHING_ADDED as exc:
            raise fail(f"nothing was added: {exc}") from None
    if as_json:
        emit_json(result.as_dict())
        return
    for added in result.files:
        err.print(
            f"added {added.entry['key']} to record {recid} (version {result.version}): "
            f"{added.digests.size:,} bytes, {added.digests.adler32}, {added.entry['uri']}",
            markup=False,
        )


def fixity_command(
    sample: Annotated[
        int | None,
        typer.Option(min=1, help="Check this many files chosen at random instead of all."),
    ] = None,
    keep_orphans: Annotated[
        bool,
        typer.Option(
            "--keep-orphans", help="Only report orphans (files no record names); do not remove."
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds an add on another machine may go without a sign of life before its"
            " files count as orphans (an add of this machine counts once its process is gone).",
        ),
    ] = DEFAULT_GRACE_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-read stored files, compare size and adler32 with the catalogue, mark mismatches
    corrupt (no longer served) and exit 1 if there is any. Orphans (files in the store no
    record names: left by adds killed before they completed) are listed and removed; exit 3
    if there were some and nothing was corrupt."""
    with file_service(recover=False) as service:
        report = service.fixity(sample=sample, grace=grace, keep_orphans=keep_orphans)
    if as_json:
        emit_json(report.as_dict())
    else:
        for orphan in report.orphans:
            err.print(
                f"orphan ({'removed' if orphan.removed else 'kept'}): {orphan.path},"
                f" {orphan.size:,} bytes"
                + (f"; written by {orphan.writer}" if orphan.writer else "")
                + (f" from {orphan.since:%Y-%m-%d %H:%M:%S}" if orphan.since else ""),
                markup=False,
            )
        for problem in report.problems:
            err.print(
                f"corrupt: {problem.path} ({problem.problem}): expected {problem.expected},"
                f" found {problem.found}"
                + (f"; records {', '.join(problem.recids)}" if problem.recids else ""),
                markup=False,
            )
        err.print(
            f"checked {report.checked:,} files ({report.bytes_read:,} bytes in "
            f"{report.seconds:.1f} s): {len(report.problems):,} corrupt, "
            f"{report.registered:,} newly registered, {report.restored:,} restored; "
            f"{len(report.orphans):,} orphans ({sum(o.size for o in report.orphans):,} bytes)",
            markup=False,
        )
    if report.problems:
        raise typer.Exit(1)
    if report.orphans:
        raise typer.Exit(3)


@token_app.command("create")
def token_create_command(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the token as JSON.")] = False,
) -> None:
    """Create a token; its secret is printed once (only a digest of it is stored)."""
    with Curator() as curator:
        try:
            info, secret = curator.create_token(name)
        except ValueError as exc:
            raise fail(str(exc), 2) from None
    if as_json:
        emit_json({**info.as_dict(), "token": secret})
        return
    err.print(f"token {info.id} ({info.name}); keep it, it is not shown again:", markup=False)
    typer.echo(secret)


@token_app.command("list")
def token_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the tokens as JSON.")] = False,
) -> None:
    """The tokens: id, name, when created and last used, whether revoked (never secrets)."""
    with Curator() as curator:
        infos = curator.tokens()
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
    for i in infos:
        state = f"revoked {i.revoked:%Y-%m-%d}" if i.revoked else "active"
        used = f"last used {i.last_used:%Y-%m-%d %H:%M}" if i.last_used else "never used"
        typer.echo(f"{i.id}\t{i.name}\tcreated {i.created:%Y-%m-%d}\t{used}\t{state}")


@token_app.command("revoke")
def token_revoke_command(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `openhep token list`).")],
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with Curator() as curator:
        try:
            info = curator.revoke_token(token_id)
        except LookupError as exc:
            raise fail(str(exc)) from None
    err.print(f"revoked token {info.id} ({info.name})", markup=False)


@files_app.command("index")
def index_command(
    recid: Annotated[str, typer.Argument(help="The record the file index belongs to.")],
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from-dir",
            help="Directory whose files (recursively, sorted, relative paths kept) are indexed.",
        ),
    ] = None,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand",
            help="Instead: read the record's .json index files held here into _file_indices.",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            help="The index's name: files NAME_file_index.json/.txt (default: the directory's)."
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="The index files' description in the record.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Store every file under a directory and add a file index listing them to a record (one
    new version): NAME_file_index.json and .txt, expanded in the API's _file_indices. With
    --expand, read the record's .json index files held here into _file_indices instead."""
    if (from_dir is None) == (not expand):
        raise fail("give either --from-dir DIR (build an index) or --expand", 2)
    if expand:
        expand_indices(recid, as_json=as_json)
        return
    assert from_dir is not None
    with file_service() as service:
        try:
            result = service.add_file_index(recid, from_dir, name=name, description=description)
        except RecordNotFoundError as exc:
            raise fail(f"{exc}: ingest the record first") from None
        except FileIndexError as exc:
            raise fail(f"nothing was added: {exc}", 2) from None
        except NOTHING_ADDED as exc:
            raise fail(f"nothing was added: {exc}") from None
    if as_json:
        emit_json(result.as_dict())
        return
    summary = result.as_dict()
    err.print(
        f"added file index {result.key} to record {recid} (version {result.version}): "
        f"{summary['number_files']:,} files, {summary['size']:,} bytes; "
        + ", ".join(f.entry["key"] for f in result.index_files),
        markup=False,
    )


def expand_indices(recid: str, *, as_json: bool) -> None:
    with file_service() as service:
        try:
            found = service.expand_file_indices(recid)
        except RecordNotFoundError as exc:
            raise fail(f"{exc}: ingest the record first") from None
        except (CatalogConflictError, RecordValidationError) as exc:
            raise fail(f"nothing was expanded: {exc}") from None
    if as_json:
        emit_json({"recid": recid, "indices": [i.as_dict() for i in found]})
    else:
        for index in found:
            if index.problem is None:
                err.print(f"{index.key}: {index.number_files:,} files", markup=False)
            else:
                err.print(f"{index.key}: not expanded: {index.problem}", markup=False)
        if not found:
            err.print(f"record {recid} has no .json index files", markup=False)
    if any(i.problem is not None for i in found):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(files_app)
    app.add_typer(token_app)
    app.command("fixity")(fixity_command)
