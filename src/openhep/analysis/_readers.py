"""Readers: a location (local path, ``root://``, ``http(s)://``) → its columns, its entry-range
chunks, and a chunk's arrays of only the branches asked (ROOT TTree and RNTuple with uproot,
CSV with pyarrow)."""

from __future__ import annotations

import bisect
import contextlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import awkward as ak

from openhep.analysis._errors import AnalysisError
from openhep.analysis._expression import Column

#: The longest location accepted.
MAX_LOCATION_LENGTH = 4096
#: The most entries a chunk holds by default (the opposite-charge dimuon mass over 500,000
#: NanoAOD events reads ~ 25 MB of branches): 40 chunks for 20 M events keep two workers busy
#: to the end and progress moving.
DEFAULT_CHUNK_ENTRIES = 500_000
#: The fewest entries a chunk is given to have at least four chunks per worker: below it the
#: cost of a chunk (a task sent, a file opened by a worker) outweighs balancing.
MIN_CHUNK_ENTRIES = 50_000
#: The largest CSV read (a CSV is parsed whole: education CSVs are a few MB).
MAX_CSV_BYTES = 1 << 30
#: Seconds a remote read (XRootD, HTTP) may wait on the network before it fails.
REMOTE_TIMEOUT = 60.0
#: uproot class names of the trees a file may hold.
_TREE_CLASSES = ("TTree", "ROOT::RNTuple", "ROOT::Experimental::RNTuple")

Kind = Literal["ttree", "rntuple", "csv"]


@dataclass(frozen=True)
class Location:
    """A parsed location: ``scheme`` is "" for a local path, else file/root/http/https."""

    text: str
    scheme: str
    path: str  # the local path, or the URL's path (for its suffix)

    @property
    def suffix(self) -> str:
        name = self.path.rsplit("/", 1)[-1].lower()
        return "." + name.rsplit(".", 1)[-1] if "." in name else ""

    @property
    def local(self) -> Path | None:
        return Path(self.path) if self.scheme in ("", "file") else None


def parse_location(location: object) -> Location:
    """A location as given by the service layer; anything else → AnalysisError."""
    if isinstance(location, Path):
        location = str(location)
    if not isinstance(location, str) or not location or len(location) > MAX_LOCATION_LENGTH:
        raise AnalysisError(
            "a file location must be a path, a root:// or an http(s):// URL (at most"
            f" {MAX_LOCATION_LENGTH} characters)"
        )
    if "\0" in location:
        raise AnalysisError("a file location may not hold a NUL character")
    if "://" not in location:
        return Location(location, "", location)
    try:
        parts = urlsplit(location)
    except ValueError as exc:
        raise AnalysisError(f"{location[:200]}: not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Location(location, "file", parts.path)
    if scheme not in ("root", "http", "https") or not parts.netloc:
        raise AnalysisError(
            f"{location[:200]}: only local paths, root:// and http(s):// URLs can be read"
        )
    return Location(location, scheme, parts.path)


@dataclass(frozen=True)
class Source:
    """One file's tree as the compiler and the planner need it: its columns (only those the
    expression language can use: numbers and booleans, one or a list per event), its entries
    and the entries where its clusters start."""

    location: str
    kind: Kind
    tree: str
    num_entries: int
    columns: Mapping[str, Column]
    #: Entry offsets where every column's baskets (TTree) or clusters (RNTuple) start anew.
    boundaries: tuple[int, ...]


@dataclass(frozen=True)
class Chunk:
    """Entries ``[entry_start, entry_stop)`` of one file's tree."""

    location: str
    kind: Kind
    tree: str
    entry_start: int
    entry_stop: int

    @property
    def entries(self) -> int:
        return self.entry_stop - self.entry_start


def open_source(location: str, tree: str = "Events") -> Source:
    """Read a file's metadata: which tree, which columns, how many entries. A missing or
    unreadable file, a file that is neither ROOT nor CSV, an unknown tree → AnalysisError."""
    where = parse_location(location)
    if where.suffix == ".csv":
        return _csv_source(where)
    if where.suffix != ".root":
        raise AnalysisError(
            f"{_shown(where)}: only ROOT (.root) and CSV (.csv) files can be analysed"
        )
    directory = _open_root(where)
    try:
        return _root_source(where, directory, tree)
    finally:
        with contextlib.suppress(Exception):
            directory.file.close()


def _root_source(where: Location, directory: Any, tree: str) -> Source:
    obj = _tree_object(directory, where, tree)
    kind = _tree_kind(obj)
    if kind is None:
        raise AnalysisError(f"{_shown(where)}: {tree!r} is not a TTree or an RNTuple")
    try:
        if kind == "ttree":
            columns = _ttree_columns(obj)
            boundaries = tuple(int(x) for x in obj.common_entry_offsets())
        else:
            columns = _rntuple_columns(obj)
            starts = [int(c.num_first_entry) for c in obj.cluster_summaries]
            boundaries = (*starts, int(obj.num_entries))
        num_entries = int(obj.num_entries)
    except AnalysisError:
        raise
    except Exception as exc:  # whatever a damaged file makes uproot raise
        raise AnalysisError(f"{_shown(where)}: cannot read {tree!r}: {_reason(exc)}") from None
    return Source(where.text, kind, tree, num_entries, columns, boundaries)


def plan_chunks(
    source: Source, chunk_entries: int | None = None, *, target: int = DEFAULT_CHUNK_ENTRIES
) -> list[Chunk]:
    """The file's entries cut into chunks. With ``chunk_entries`` exactly that many per
    chunk (the last fewer). By default into equal chunks of about ``target`` entries, each
    cut moved to the nearest cluster boundary when one is within a quarter of a chunk (a
    cut inside a cluster makes both chunks decompress its baskets; unequal chunks leave a
    worker idle at the end)."""
    n = source.num_entries
    if n == 0:
        return []
    if chunk_entries is not None:
        if chunk_entries < 1:
            raise AnalysisError("chunk_entries: give a whole number above 0")
        starts = list(range(0, n, chunk_entries))
        return [_chunk(source, a, min(a + chunk_entries, n)) for a in starts]
    if source.kind == "csv":
        return [_chunk(source, 0, n)]  # parsed whole anyway: one chunk
    pieces = max(1, round(n / max(1, target)))
    size = n / pieces
    boundaries = sorted({b for b in source.boundaries if 0 < b < n})
    cuts = [0]
    for k in range(1, pieces):
        ideal = round(k * size)
        at = bisect.bisect_left(boundaries, ideal)
        near = [b for b in boundaries[max(0, at - 1) : at + 1] if b > cuts[-1]]
        best = min(near, key=lambda b: abs(b - ideal), default=None)
        cut = best if best is not None and abs(best - ideal) <= size / 4 else ideal
        if cuts[-1] < cut < n:
            cuts.append(cut)
    cuts.append(n)
    return [_chunk(source, a, b) for a, b in itertools.pairwise(cuts)]


def chunk_target(entries: int, workers: int) -> int:
    """Entries per chunk for a job of ``entries`` on ``workers``: four chunks or more per
    worker, from MIN_CHUNK_ENTRIES to DEFAULT_CHUNK_ENTRIES."""
    return max(MIN_CHUNK_ENTRIES, min(DEFAULT_CHUNK_ENTRIES, entries // (4 * max(1, workers))))


def read_chunk(chunk: Chunk, branches: Iterable[str], *, job: str = "") -> ak.Array:
    """The chunk's events as an awkward record array with one field per branch asked (and
    only those read). ``job`` names the job: its files stay open in this thread until
    another job's are opened (opening a NanoAOD file costs more than reading a chunk)."""
    wanted = sorted(set(branches))
    where = parse_location(chunk.location)
    try:
        if chunk.kind == "csv":
            table = _csv_table(where, wanted)
            arrays = _csv_arrays(table.slice(chunk.entry_start, chunk.entries), wanted)
        elif job:
            arrays = _tree_arrays(_cached_root(where, job), where, chunk, wanted)
        else:
            directory = _open_root(where)
            try:
                arrays = _tree_arrays(directory, where, chunk, wanted)
            finally:
                with contextlib.suppress(Exception):
                    directory.file.close()
    except AnalysisError:
        raise
    except Exception as exc:  # a damaged basket, a server gone: the user's file, our message
        raise AnalysisError(
            f"{_shown(where)}: cannot read entries {chunk.entry_start}-{chunk.entry_stop}"
            f" of {chunk.tree!r}: {_reason(exc)}"
        ) from None
    if len(arrays) != chunk.entries:
        raise AnalysisError(
            f"{_shown(where)}: entries {chunk.entry_start}-{chunk.entry_stop} gave"
            f" {len(arrays)} events; the file changed while it was read"
        )
    return arrays


def _tree_arrays(directory: Any, where: Location, chunk: Chunk, wanted: list[str]) -> ak.Array:
    obj = _tree_object(directory, where, chunk.tree)
    if not wanted:
        return _empty_records(chunk.entries)
    arrays = obj.arrays(
        filter_name=wanted.__contains__,
        entry_start=chunk.entry_start,
        entry_stop=chunk.entry_stop,
        library="ak",
        array_cache=None,
    )
    return arrays[wanted]


# -- ROOT ---------------------------------------------------------------------------------


def _uproot_options(where: Location) -> dict[str, Any]:
    """Each scheme's own uproot source: no fsspec/aiohttp layer between uproot and the bytes
    (memory map locally, the XRootD client for root://, http.client with range requests)."""
    import uproot.source.file
    import uproot.source.http
    import uproot.source.xrootd

    if where.scheme in ("", "file"):
        return {"handler": uproot.source.file.MemmapSource}
    if where.scheme == "root":
        return {"handler": uproot.source.xrootd.XRootDSource, "timeout": REMOTE_TIMEOUT}
    return {"handler": uproot.source.http.HTTPSource, "timeout": REMOTE_TIMEOUT}


def _open_root(where: Location) -> Any:
    import uproot

    local = where.local
    if local is not None and not local.is_file():
        raise AnalysisError(f"{_shown(where)}: no such file")
    try:
        return uproot.open(
            {str(local) if local is not None else where.text: None},
            array_cache=None,
            **_uproot_options(where),
        )
    except Exception as exc:  # not ROOT, truncated, refused by the server…
        raise AnalysisError(f"{_shown(where)}: not a readable ROOT file: {_reason(exc)}") from None


def _trees(directory: Any) -> list[str]:
    names: list[str] = []
    with contextlib.suppress(Exception):
        for name, classname in directory.classnames().items():
            if classname in _TREE_CLASSES:
                bare = name.rsplit(";", 1)[0]
                if bare not in names:
                    names.append(bare)
    return names


def _tree_object(directory: Any, where: Location, tree: str) -> Any:
    try:
        return directory[tree]
    except Exception:
        trees = _trees(directory)
        has = f"its trees: {', '.join(repr(t) for t in trees[:50])}" if trees else "it has none"
        raise AnalysisError(f"{_shown(where)}: no tree {tree!r}; {has}") from None


def _tree_kind(obj: Any) -> Kind | None:
    import uproot.behaviors.RNTuple
    import uproot.behaviors.TTree

    if isinstance(obj, uproot.behaviors.TTree.TTree):
        return "ttree"
    if isinstance(obj, uproot.behaviors.RNTuple.RNTuple):
        return "rntuple"
    return None


def _ttree_columns(tree: Any) -> dict[str, Column]:
    columns: dict[str, Column] = {}
    for name, branch in tree.iteritems(recursive=True):
        if branch.branches or not name.isidentifier():
            continue  # a split parent, or a name the expression language cannot write
        try:
            form = branch.interpretation.awkward_form(tree.file)
        except Exception:  # noqa: S112 - a type uproot cannot read is no column of ours
            continue
        column = _column(name, form)
        if column is not None:
            columns[name] = column
    return columns


def _rntuple_columns(ntuple: Any) -> dict[str, Column]:
    form = ntuple.to_akform()
    if isinstance(form, tuple):  # (form, relative path) in uproot >= 5.4
        form = form[0]
    columns: dict[str, Column] = {}
    for name, content in zip(form.fields, form.contents, strict=True):
        if name.isidentifier():
            column = _column(name, content)
            if column is not None:
                columns[name] = column
    return columns


def _column(name: str, form: Any) -> Column | None:
    """A column from an awkward form: numbers or booleans, one or a list per event."""
    jagged = False
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm):
        if form.parameter("__array__") is not None:
            return None  # a string
        jagged, form = True, form.content
    if not isinstance(form, ak.forms.NumpyForm) or form.inner_shape != ():
        return None
    if form.parameter("__array__") is not None:
        return None  # characters of a string
    kind = _kind(form.primitive)
    return Column(name, jagged, kind) if kind is not None else None


def _kind(primitive: str) -> str | None:
    if primitive == "bool":
        return "bool"
    if primitive.startswith(("int", "uint")):
        return "int"
    if primitive.startswith("float"):
        return "float"
    return None


# Open ROOT files kept per (job, location, thread): a job's chunks of one file reuse the
# metadata read once; another job's files are opened afresh (the bytes may have changed), and
# a thread never shares an uproot file with another (Dask workers run chunks in threads).
_OPEN_FILES: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
_OPEN_LOCK = threading.Lock()
_MAX_OPEN_FILES = 8


def _cached_root(where: Location, job: str) -> Any:
    if not job:
        return _open_root(where)
    thread = threading.get_ident()
    key = (job, where.text, thread)
    with _OPEN_LOCK:
        found = _OPEN_FILES.get(key)
        if found is not None:
            _OPEN_FILES.move_to_end(key)
            return found
    opened = _open_root(where)
    with _OPEN_LOCK:
        _OPEN_FILES[key] = opened
        # This thread has moved on to this job: its files of earlier jobs are done with.
        stale = [k for k in _OPEN_FILES if k[2] == thread and k[0] != job]
        while len(_OPEN_FILES) - len(stale) > _MAX_OPEN_FILES:
            oldest = next(k for k in _OPEN_FILES if k not in stale and k != key)
            stale.append(oldest)
        closing = [_OPEN_FILES.pop(k) for k in stale]
    for directory in closing:
        with contextlib.suppress(Exception):
            directory.file.close()
    return opened


def close_job_files(job: str) -> None:
    """Close the ROOT files this process keeps open for ``job`` (it has finished)."""
    with _OPEN_LOCK:
        closing = [_OPEN_FILES.pop(k) for k in [k for k in _OPEN_FILES if k[0] == job]]
    for directory in closing:
        with contextlib.suppress(Exception):
            directory.file.close()


def close_open_files() -> None:
    """Close every ROOT file this process keeps open for jobs (tests, shutdown)."""
    with _OPEN_LOCK:
        closing = list(_OPEN_FILES.values())
        _OPEN_FILES.clear()
    for directory in closing:
        with contextlib.suppress(Exception):
            directory.file.close()


# -- CSV ----------------------------------------------------------------------------------


def _csv_source(where: Location) -> Source:
    table = _csv_table(where, None)
    columns: dict[str, Column] = {}
    for name, column_type in zip(table.column_names, table.schema.types, strict=True):
        kind = _arrow_kind(column_type)
        if kind is not None and name.isidentifier() and name not in columns:
            columns[name] = Column(name, False, kind)
    return Source(where.text, "csv", "", table.num_rows, columns, ())


def _arrow_kind(column_type: Any) -> str | None:
    import pyarrow as pa

    if pa.types.is_boolean(column_type):
        return "bool"
    if pa.types.is_integer(column_type):
        return "int"
    if pa.types.is_floating(column_type):
        return "float"
    return None


def _csv_table(where: Location, include: Sequence[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.csv

    data = _csv_bytes(where)
    options = pyarrow.csv.ConvertOptions(include_columns=list(include) if include else None)
    # One block: column types are inferred from the whole file, not its first MiB (a column
    # of integers with a 1.5 far down would otherwise fail to convert).
    # No reader threads either: the file is one block, and Arrow's pool threads still alive
    # when a short-lived process (openhep hist) exits could abort it ("terminate called").
    reading = pyarrow.csv.ReadOptions(block_size=max(1 << 20, len(data) + 1), use_threads=False)
    try:
        table = pyarrow.csv.read_csv(
            pa.BufferReader(data), read_options=reading, convert_options=options
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError) as exc:
        raise AnalysisError(f"{_shown(where)}: not a readable CSV table: {_reason(exc)}") from None
    if include is not None and not include:
        return table.select([])
    return table


def _csv_arrays(table: Any, wanted: Sequence[str]) -> ak.Array:
    if not wanted:
        return _empty_records(table.num_rows)
    fields: dict[str, Any] = {}
    for name in wanted:
        column = table.column(name)
        if column.null_count == 0:
            fields[name] = column.to_numpy()
        else:  # empty cells: None, which the expression treats as "cannot be evaluated"
            fields[name] = ak.from_arrow(column, generate_bitmasks=True)
    return ak.zip(fields, depth_limit=1)


def _csv_bytes(where: Location) -> bytes:
    local = where.local
    if local is not None:
        try:
            size = local.stat().st_size
            if size > MAX_CSV_BYTES:
                raise _csv_too_large(where)
            return local.read_bytes()
        except FileNotFoundError:
            raise AnalysisError(f"{_shown(where)}: no such file") from None
        except IsADirectoryError:
            raise AnalysisError(f"{_shown(where)}: a directory, not a file") from None
        except OSError as exc:
            raise AnalysisError(f"{_shown(where)}: cannot read: {_reason(exc)}") from None
    if where.scheme == "root":
        return _read_xrootd(where)
    return _read_http(where)


def _read_http(where: Location) -> bytes:
    import httpx

    try:
        with (
            httpx.Client(timeout=REMOTE_TIMEOUT, follow_redirects=True, trust_env=False) as http,
            http.stream("GET", where.text) as response,
        ):
            if response.status_code != 200:
                raise AnalysisError(f"{_shown(where)}: the server answered {response.status_code}")
            return _bounded(where, response.iter_bytes())
    except httpx.HTTPError as exc:
        raise AnalysisError(f"{_shown(where)}: cannot read: {_reason(exc)}") from None


def _read_xrootd(where: Location) -> bytes:
    import fsspec

    try:
        with fsspec.open(where.text, "rb") as handle:
            return _bounded(where, iter(lambda: handle.read(1 << 20), b""))
    except AnalysisError:
        raise
    except Exception as exc:  # the XRootD client's errors are plain OSError/ValueError
        raise AnalysisError(f"{_shown(where)}: cannot read: {_reason(exc)}") from None


def _bounded(where: Location, blocks: Iterator[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    for block in blocks:
        size += len(block)
        if size > MAX_CSV_BYTES:
            raise _csv_too_large(where)
        parts.append(block)
    return b"".join(parts)


def _csv_too_large(where: Location) -> AnalysisError:
    return AnalysisError(
        f"{_shown(where)}: a CSV larger than {MAX_CSV_BYTES >> 20} MiB; convert it to ROOT"
        " (or Parquet) to analyse it in chunks"
    )


# -- shared -------------------------------------------------------------------------------


def _empty_records(length: int) -> ak.Array:
    return ak.Array(ak.contents.RecordArray([], [], length=length))


def _chunk(source: Source, start: int, stop: int) -> Chunk:
    return Chunk(source.location, source.kind, source.tree, start, stop)


def _shown(where: Location) -> str:
    """The location as a message shows it: a URL without credentials, the file's name for a
    local path (a message must not reveal where the portal keeps its files)."""
    if where.scheme in ("", "file"):
        return where.path.rsplit("/", 1)[-1][:200]
    parts = urlsplit(where.text)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is no number: shown as nothing
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"[:300]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:300]
