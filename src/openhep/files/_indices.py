"""File indices: a directory of files stored, listed in a record's index files and expanded.

CODP publishes large datasets as a few *index files* in the record's ``files[]`` (``type:
index.json`` and ``index.txt``, named ``<name>_file_index.json``/``.txt``) that list the data
files: the ``.json`` one as a list of ``{"checksum", "size", "type", "uri"}``, the ``.txt`` one
with one URI per line. The API expands them into ``_file_indices``, and the portal serves them
at ``/record/<recid>/file_index/<name>_file_index.json`` (and ``.txt``). Here the catalogue keeps
the listed files (``file_index_entries``, by index key ``<name>_file_index``), written in the
same transaction as the record that names the index files.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from openhep.catalog import StoredRecord
from openhep.files._attach import AddedFile, Revision, attach
from openhep.files._journal import JournaledWrite
from openhep.files._service import (
    CorruptFileError,
    FileNotServedError,
    FileService,
    UnpublishedPathError,
    file_type_for,
    upload_prefix,
)
from openhep.model import (
    INDEX_SUFFIX,
    INDEX_TYPES,
    FileKeyError,
    check_file_key,
    file_key,
    index_key_of,
    normalize_checksum,
    validate_record,
)
from openhep.storage import CHUNK_SIZE, UnsafePathError, digest_chunks, store_path

#: Letters an index name may use: it becomes a file name and part of a URL.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
#: What a listed file's URI looks like (as in a record's ``files[]``).
_FILE_URI = re.compile(r"^(root|https?|file|s3)://\S+$")


class FileIndexError(ValueError):
    """A directory or index name that cannot become a file index; says what to change."""


@dataclass(frozen=True, slots=True)
class FileIndexResult:
    """A file index added to a record: its key, its two index files and the files it lists."""

    recid: str
    version: int
    key: str
    index_files: list[AddedFile]
    files: list[AddedFile]

    def as_dict(self) -> dict[str, Any]:
        return {
            "recid": self.recid,
            "version": self.version,
            "key": self.key,
            "number_files": len(self.files),
            "size": sum(f.digests.size for f in self.files),
            "index_files": [
                {**f.entry, "sha256": f.digests.sha256, "path": f.path} for f in self.index_files
            ],
            "files": [{**f.entry, "path": f.path} for f in self.files],
        }


def index_json(listed: Sequence[Mapping[str, Any]]) -> bytes:
    """The ``.json`` index: a JSON list of files, each ``checksum``, ``size``, ``type``, ``uri``."""
    rows = [
        {k: f[k] for k in ("checksum", "size", "type", "uri") if f.get(k) is not None}
        for f in listed
    ]
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n"


def index_txt(listed: Sequence[Mapping[str, Any]]) -> bytes:
    """The ``.txt`` index: one URI per line."""
    return "".join(f"{f['uri']}\n" for f in listed).encode()


def check_index_name(name: str) -> str:
    if not _NAME.match(name):
        raise FileIndexError(
            f"index name {name!r}: use 1 to 200 letters, digits, '.', '_', '+' or '-', "
            "starting with a letter or digit"
        )
    return name.removesuffix(INDEX_SUFFIX)


def files_under(directory: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``directory``, recursively, as (relative path, path), sorted.

    A symlink whose target lies outside ``directory`` is refused (:class:`UnsafePathError`);
    one that stays inside is followed for a file and not descended for a directory (its files
    are listed under their own path). Sockets, FIFOs and devices are left out.
    """
    if not directory.is_dir():
        raise FileIndexError(f"{directory}: not a directory")
    root = Path(os.path.realpath(directory))
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                _inside(root, here / name)
                dirnames.remove(name)
        for name in filenames:
            full = here / name
            target = _inside(root, full) if full.is_symlink() else full
            try:
                mode = target.stat().st_mode
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(mode):
                continue
            relative = full.relative_to(root).as_posix()
            found.append((_listed_path(relative), target))
    found.sort(key=lambda item: item[0])
    return found


def _listed_path(relative: str) -> str:
    """A listed file's path below the directory: each of its names a good file key."""
    for name in relative.split("/"):
        try:
            check_file_key(name)
        except FileKeyError as exc:
            raise UnsafePathError(f"{relative!a}: {exc}") from None
    return store_path(relative)


def _inside(root: Path, link: Path) -> Path:
    real = Path(os.path.realpath(link))
    if not real.is_relative_to(root) or real == root:
        raise UnsafePathError(
            f"{link}: a symlink leading outside {root}; copy the file into the directory instead"
        )
    return real


def _chunks_of(path: Path) -> Iterator[bytes]:
    # O_NOFOLLOW: a file swapped for a symlink after the walk checked it is not read.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            yield chunk


def add_file_index(
    service: FileService,
    recid: str,
    directory: Path,
    *,
    name: str | None = None,
    description: str | None = None,
) -> FileIndexResult:
    """Store every file under ``directory`` and add a file index listing them to ``recid``.

    The files keep their relative paths under ``eos/opendata/openhep/<recid>/<id>/files/``;
    size, adler32 and sha256 are measured while they are stored. The two index files
    (``<name>_file_index.json``/``.txt``, ``name`` defaulting to the directory's name) are
    stored beside them and added to the record's ``files[]`` as one new version (an index of
    the same name is replaced); the listed files go to the catalogue in the same transaction.
    Any failure removes every stored byte and leaves the record and its indices as they were;
    a crash leaves them journaled (``FileService.journal``), for the next start to remove.
    """
    base = check_index_name(name if name is not None else directory.resolve().name)
    key = base + INDEX_SUFFIX
    listed_paths = files_under(directory)
    if not listed_paths:
        raise FileIndexError(f"{directory}: holds no files to index")
    service.catalog.get(recid, include_embargoed=True)  # RecordNotFoundError before any write
    prefix = upload_prefix(recid)
    index_paths = {ext: f"{prefix}/file-indexes/{key}.{ext}" for ext in INDEX_TYPES}
    paths = [f"{prefix}/files/{relative}" for relative, _ in listed_paths]
    with service.journal([*paths, *index_paths.values()]) as journal:
        listed: list[AddedFile] = []
        for (relative, path), target in zip(listed_paths, paths, strict=True):
            listed.append(
                _store(service, journal, target, _chunks_of(path), file_type_for(relative))
            )
        entries = [f.entry for f in listed]
        count = f"{len(entries)} file" + ("" if len(entries) == 1 else "s")
        text = description or f"{base} file index ({count}) for access to data"
        index_files: list[AddedFile] = []
        for extension, content in (("json", index_json(entries)), ("txt", index_txt(entries))):
            index_files.append(
                _store(
                    service,
                    journal,
                    index_paths[extension],
                    [content],
                    INDEX_TYPES[extension],
                    text,
                )
            )
        result = _write(service, journal, recid, key, index_files, listed)
    return result


def _store(
    service: FileService,
    journal: JournaledWrite,
    path: str,
    chunks: Iterator[bytes] | list[bytes],
    file_type: str | None,
    description: str | None = None,
) -> AddedFile:
    try:
        return service.store_file(
            path,
            chunks,
            file_type=file_type,
            infer_type=False,
            description=description,
            journal=journal,
        )
    except UnpublishedPathError as exc:
        raise FileIndexError(str(exc)) from None


def _write(
    service: FileService,
    journal: JournaledWrite,
    recid: str,
    key: str,
    index_files: list[AddedFile],
    listed: list[AddedFile],
) -> FileIndexResult:
    rows = [{k: f.entry[k] for k in ("uri", "size", "checksum")} for f in listed]
    version = service.attach(
        recid,
        [f.entry for f in index_files],
        [*listed, *index_files],
        file_index_entries={key: rows},
        pending=journal.paths,
    )
    return FileIndexResult(recid, version, key, index_files, listed)


#: The largest index file read when expanding one (CODP's largest are a few MB).
MAX_INDEX_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class ExpandedIndex:
    """One index file of a record read back: its key and the files it lists (or why not)."""

    key: str
    number_files: int
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "number_files": self.number_files, "problem": self.problem}


def parse_index_json(name: str, content: bytes) -> list[dict[str, Any]]:
    """The files a ``.json`` index lists, each ``uri``, ``size``, ``checksum`` (canonical)."""
    try:
        rows = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise FileIndexError(f"{name}: not JSON ({exc})") from None
    if not isinstance(rows, list):
        raise FileIndexError(f"{name}: expected a JSON list of files")
    listed: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        where = f"{name}[{i}]"
        if not isinstance(row, dict):
            raise FileIndexError(f"{where}: expected an object with uri, size and checksum")
        uri, size, checksum = row.get("uri"), row.get("size"), row.get("checksum")
        if not isinstance(uri, str) or not _FILE_URI.match(uri) or len(uri) > 4096:
            raise FileIndexError(f"{where}.uri: expected a URI such as 'root://…/file.root'")
        try:
            check_file_key(uri.rsplit("/", 1)[-1])  # the name the index shows the file by
        except FileKeyError as exc:
            raise FileIndexError(f"{where}.uri: the file's name: {exc}") from None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
            raise FileIndexError(f"{where}.size: expected a number of bytes")
        try:
            canonical = normalize_checksum(checksum if isinstance(checksum, str) else "")
        except ValueError as exc:
            raise FileIndexError(f"{where}.checksum: {exc}") from None
        listed.append({"uri": uri, "size": size, "checksum": canonical})
    return listed


def expand_file_indices(service: FileService, recid: str) -> list[ExpandedIndex]:
    """Read the record's ``.json`` index files held here and list their files in the catalogue.

    For records whose index files were stored or registered here (ingested with their bytes
    copied into the store, uploaded, restored) rather than built by :func:`add_file_index`.
    An index file must be held here, good, and have the size and checksum the record says;
    one that is not is reported with its problem and left as it was. All the indices read are
    written in one transaction, on condition that the record has not changed meanwhile (else
    they are read again from its new version: ``_attach``).
    """
    found: list[ExpandedIndex] = []

    def revise(stored: StoredRecord | None) -> Revision | None:
        assert stored is not None  # attach reads an existing record (RecordNotFoundError)
        found.clear()
        contents: dict[str, list[dict[str, Any]]] = {}
        for entry in stored.metadata.get("files", []):
            name = file_key(entry)
            key = index_key_of(name)
            if entry.get("type") != "index.json" or key is None:
                continue
            try:
                contents[key] = _read_index(service, name, entry)
                found.append(ExpandedIndex(key, len(contents[key])))
            except (FileIndexError, FileNotServedError, CorruptFileError, UnsafePathError) as exc:
                found.append(ExpandedIndex(key, 0, str(exc)))
        if not contents:
            return None
        return Revision(validate_record(stored.metadata), contents)

    attach(service.catalog, recid, revise)
    return found


def _read_index(service: FileService, name: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    path = service.path_of(str(entry["uri"]))
    if path is None:
        raise FileIndexError(f"{name} is not held here; it is at {entry['uri']}")
    try:
        served = service.servable(path)
    except FileNotServedError:
        raise FileIndexError(f"{name} is not held here; it is at {entry['uri']}") from None
    if served.size > MAX_INDEX_BYTES:
        raise FileIndexError(f"{name}: larger than {MAX_INDEX_BYTES} bytes")
    with service.reader(served) as reader:
        content = reader.read(MAX_INDEX_BYTES + 1)
    digests = digest_chunks([content], sha256=False)
    if (digests.size, digests.adler32) != (entry["size"], entry["checksum"]):
        raise FileIndexError(
            f"{name}: the bytes held here ({digests.size} bytes, {digests.adler32}) are not"
            f" the ones the record names ({entry['size']} bytes, {entry['checksum']})"
        )
    return parse_index_json(name, content)
