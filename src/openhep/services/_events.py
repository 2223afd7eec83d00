"""Event displays of a public record's files: which files show events (iSpy ``.ig``, NanoAOD
ROOT), where their bytes are, the files opened lately (kept open, bounded) and the three
questions the display asks of them — a page of event ids, one event, the mass of objects.

Requests reach :class:`EventViewer` as values a client sent; the ``parse_*`` functions read
and bound them (:class:`EventQueryError`, a 400 with the field to change). The record is the
one :meth:`Portal.record` gives (public, released: an embargoed record is not found), the
file one of its ``files[]`` (``FileNotServedError`` otherwise), read with
:func:`openhep.events.open_events` (``EventFileError`` for bytes that are not events).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from openhep.events import (
    EventFileError,
    EventId,
    EventSource,
    invariant_mass,
    open_events,
)
from openhep.files import FileNotServedError, RemoteFile
from openhep.model import RECID, RecordData, RecordFile, is_index_file
from openhep.services._errors import QueryError
from openhep.services._portal import Portal

#: The most event ids one page lists, and the default.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
#: The highest page number asked for (beyond any file's events; keeps the arithmetic small).
MAX_PAGE = 1_000_000
#: The most objects whose mass one request sums, and the longest id.
MAX_IDS = 50
MAX_ID_LENGTH = 100
#: The longest file key a request may give (keys are bounded by the model too).
MAX_KEY_LENGTH = 1024
#: Files kept open between requests (per server process): a class looks at one or two files,
#: event after event, and opening an ``.ig`` reads its zip directory, a ROOT file its header.
MAX_OPEN_FILES = 8
#: The file kinds the display reads: ``ig`` by extension or CODP ``type``; ROOT files of
#: NanoAOD records (their ``distribution.formats`` say so).
IG_KIND = "ig"
ROOT_KIND = "root"


class EventQueryError(QueryError):
    """A request of the event display that cannot be answered as given; ``field`` names the
    parameter to change."""


# -- which files show events -------------------------------------------------------------------


def _extension(key: str) -> str:
    return key.rsplit(".", 1)[-1].lower() if "." in key else ""


def is_nanoaod_record(record: RecordData | Mapping[str, Any]) -> bool:
    """Whether the record says its ROOT files are NanoAOD (``distribution.formats`` such as
    ``nanoaod``, ``nanoaod-run1``, ``nanoaodsim-reduced``; POET ntuples are another layout)."""
    formats = RecordData.of(record).distribution.formats
    return any("nanoaod" in f.lower() and "poet" not in f.lower() for f in formats)


def event_kind(file: RecordFile, *, nanoaod: bool) -> str | None:
    """``"ig"`` or ``"nanoaod"`` if the display reads ``file`` (of a record that is NanoAOD
    when ``nanoaod``), else None. File indices never are."""
    if is_index_file(file.json):
        return None
    kind, extension = file.type.lower(), _extension(file.key)
    if IG_KIND in (kind, extension):
        return "ig"
    if nanoaod and ROOT_KIND in (kind, extension):
        return "nanoaod"
    return None


def displayable_files(record: RecordData | Mapping[str, Any]) -> list[RecordFile]:
    """The files of ``record`` the event display shows, in the record's order (what the record
    page links to: read from the record alone, no file opened)."""
    data = RecordData.of(record)
    nanoaod = is_nanoaod_record(data)
    return [f for f in data.files if event_kind(f, nanoaod=nanoaod) is not None]


# -- reading a request -------------------------------------------------------------------------


def _whole(value: object, name: str, *, low: int, high: int, default: int | None = None) -> int:
    if value is None or value == "":
        if default is not None:
            return default
        raise EventQueryError(f"{name}: give a whole number from {low:,} to {high:,}", name)
    if isinstance(value, str):
        text = value.strip()
        ok = text.isascii() and text.isdigit() and len(text) <= 9
        value = int(text) if ok else value
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EventQueryError(f"{name}: give a whole number from {low:,} to {high:,}", name)
    return value


def parse_recid(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 40 or not RECID.match(value):
        raise EventQueryError(f"recid: {str(value)[:40]!r} is not a recid", "recid")
    return value


def parse_file(value: object) -> str | None:
    """A file key, or None (the record's first file the display reads)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventQueryError("file: expected a file key", "file")
    if len(value) > MAX_KEY_LENGTH:
        raise EventQueryError(f"file: longer than {MAX_KEY_LENGTH:,} characters", "file")
    if any(ord(c) < 0x20 for c in value):
        raise EventQueryError("file: has control characters; give the file's key", "file")
    return value


def parse_page(value: object) -> int:
    return _whole(value, "page", low=1, high=MAX_PAGE, default=1)


def parse_size(value: object) -> int:
    return _whole(value, "size", low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)


def parse_index(value: object) -> int:
    """An event's index in its file, from 0 (its end is checked against the file)."""
    return _whole(value, "index", low=0, high=999_999_999)


def parse_ids(value: object) -> list[str]:
    """``ids=<id>,<id>,…``: 1 to :data:`MAX_IDS` object ids, each given once."""
    if not isinstance(value, str) or not value.strip():
        raise EventQueryError("ids: give the ids of the objects, such as Muon:0,Muon:1", "ids")
    if len(value) > MAX_IDS * (MAX_ID_LENGTH + 1):
        raise EventQueryError(f"ids: give at most {MAX_IDS} ids", "ids")
    ids = [part.strip() for part in value.split(",")]
    if len(ids) > MAX_IDS:
        raise EventQueryError(f"ids: give at most {MAX_IDS} ids, not {len(ids):,}", "ids")
    seen: set[str] = set()
    for one in ids:
        if not one:
            raise EventQueryError("ids: an empty id; separate ids with single commas", "ids")
        if len(one) > MAX_ID_LENGTH:
            raise EventQueryError(f"ids: {one[:40]!r}… is longer than {MAX_ID_LENGTH}", "ids")
        if any(ord(c) < 0x21 for c in one):
            raise EventQueryError(f"ids: {one[:40]!r} has spaces or control characters", "ids")
        if one in seen:
            raise EventQueryError(f"ids: {one!r} is given twice", "ids")
        seen.add(one)
    return ids


# -- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisplayableRecord:
    """What the event display page shows of a record: its title and the files it reads."""

    recid: str
    title: str
    files: list[RecordFile]


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of a file's event ids."""

    file: str
    kind: str
    total: int
    page: int
    size: int
    events: list[EventId]

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "events": [e.to_json() for e in self.events],
        }


def _named(exc: EventFileError, location: str, key: str) -> EventFileError:
    """``exc`` with the file named by its key, as the record names it: the reader names a
    local file by the store's name for it, which means nothing to a client."""
    stored = location.rsplit("/", 1)[-1]
    if "://" not in location and stored != key and exc.message.startswith(stored):
        return EventFileError(key + exc.message[len(stored) :])
    return exc


def _finite(number: float) -> float | None:
    return number if math.isfinite(number) else None


class _Opened:
    """One opened file and the requests reading it (closed once evicted and unread)."""

    __slots__ = ("evicted", "readers", "source")

    def __init__(self, source: EventSource) -> None:
        self.source = source
        self.readers = 0
        self.evicted = False


class EventViewer:
    """Events of the files of this instance's public records, as the event display asks."""

    def __init__(self, portal: Portal, *, max_open: int = MAX_OPEN_FILES) -> None:
        self.portal = portal
        self.max_open = max(1, max_open)
        self._open: OrderedDict[tuple[str, str], _Opened] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every file kept open (those being read close when their reads end)."""
        with self._lock:
            opened = list(self._open.values())
            self._open.clear()
            for entry in opened:
                entry.evicted = True
            idle = [entry for entry in opened if entry.readers == 0]
        for entry in idle:
            entry.source.close()

    def __enter__(self) -> EventViewer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def open_files(self) -> int:
        """How many files are kept open (bounded by ``max_open``)."""
        with self._lock:
            return len(self._open)

    # -- the record and its files --------------------------------------------------------------

    def displayable(self, recid: str) -> DisplayableRecord:
        """The public record ``recid`` (RecordNotFoundError otherwise) as the event display
        page shows it."""
        record = RecordData(self.portal.record(parse_recid(recid)).stored.metadata)
        return DisplayableRecord(record.recid, record.title, displayable_files(record))

    def _choose(self, recid: str, key: str | None) -> tuple[RecordFile, str]:
        """The file ``key`` of the record (its first displayable one when None) and the kind
        to read it as."""
        record = RecordData(self.portal.record(parse_recid(recid)).stored.metadata)
        nanoaod = is_nanoaod_record(record)
        if key is None:
            shown = displayable_files(record)
            if not shown:
                raise EventQueryError(
                    f"record {recid} has no iSpy (.ig) or NanoAOD file to show events of",
                    "recid",
                )
            file = shown[0]
        else:
            chosen = [f for f in record.files if f.key == key]
            if not chosen:
                raise FileNotServedError(f"record {recid} has no file {key!r}")
            file = chosen[0]
        kind = event_kind(file, nanoaod=nanoaod)
        if kind is None and not is_index_file(file.json) and _extension(file.key) == ROOT_KIND:
            # A ROOT file of a record that does not say NanoAOD: read as NanoAOD if it is one
            # (its Events tree is opened; a file that is not one is refused, below).
            kind = "nanoaod-probe"
        if kind is None:
            names = ", ".join(f.key for f in displayable_files(record)) or "none"
            raise EventQueryError(
                f"file: {file.key!r} is not an iSpy (.ig) or NanoAOD file; the record's "
                f"event files are {names}",
                "file",
            )
        return file, kind

    def _location(self, recid: str, key: str) -> str:
        """Where the file's bytes are read: a local path, the XRootD store's ``root://`` URL,
        or its origin's http(s) URL when it is not held here (read by range requests)."""
        found = self.portal.record_file(recid, key)
        if isinstance(found, RemoteFile):
            return found.url
        return self.portal.files.location(found)

    @contextmanager
    def _source(self, recid: str, key: str | None) -> Iterator[tuple[RecordFile, EventSource]]:
        """The opened file (from those kept open, or opened now and kept), held open while
        the caller reads it."""
        file, kind = self._choose(recid, key)
        location = self._location(recid, file.key)
        # The same bytes wherever they are read from: a new version's file is another entry.
        cache_key = (location, f"{file.checksum}/{file.size}")
        with self._lock:
            entry = self._open.get(cache_key)
            if entry is not None:
                self._open.move_to_end(cache_key)
                entry.readers += 1
        try:
            if entry is None:
                entry = self._opened(cache_key, location, file, kind)
            yield file, entry.source
        except EventFileError as exc:
            raise _named(exc, location, file.key) from None
        finally:
            if entry is not None:
                with self._lock:
                    entry.readers -= 1
                    done = entry.evicted and entry.readers == 0
                if done:
                    entry.source.close()

    def _opened(
        self, cache_key: tuple[str, str], location: str, file: RecordFile, kind: str
    ) -> _Opened:
        """Open the file (outside the lock: it reads bytes) and keep it, one reader counted;
        another request may have opened it meanwhile, then theirs is used."""
        if kind == "nanoaod-probe":
            try:
                source = open_events(location, kind="nanoaod")
            except EventFileError as exc:
                raise EventQueryError(
                    f"file: {file.key!r} is not an iSpy (.ig) or NanoAOD file: {exc.message}",
                    "file",
                ) from None
        else:
            source = open_events(location, kind=kind)
        evicted: list[_Opened] = []
        with self._lock:
            entry = self._open.get(cache_key)
            kept = entry is None
            if entry is None:
                entry = _Opened(source)
                self._open[cache_key] = entry
                while len(self._open) > self.max_open:
                    _, old = self._open.popitem(last=False)
                    old.evicted = True
                    if old.readers == 0:
                        evicted.append(old)
            else:
                self._open.move_to_end(cache_key)
            entry.readers += 1
        if not kept:
            source.close()  # another request's is kept
        for old in evicted:
            old.source.close()
        return entry

    # -- the three questions -------------------------------------------------------------------

    def events(self, recid: str, key: str | None, *, page: int, size: int) -> EventPage:
        """Page ``page`` (from 1) of ``size`` event ids of the file (an empty list past the
        end; ``total`` says how many there are)."""
        with self._source(recid, key) as (file, source):
            total = len(source)
            start = min((page - 1) * size, total)
            stop = min(start + size, total)
            ids = source.ids(start, stop) if stop > start else []
            return EventPage(file.key, source.kind, total, page, size, ids)

    def event(self, recid: str, key: str | None, index: int) -> dict[str, Any]:
        """Event ``index`` of the file as the API answers it: the event's JSON (run, lumi,
        event, collections, draw) with its ``index``, the file's ``total`` and ``file``
        (EventNotFound past the end)."""
        with self._source(recid, key) as (file, source):
            found = source.event(index)
            total = len(source)
        return {**found.to_json(), "index": index, "total": total, "file": file.key}

    def mass(self, recid: str, key: str | None, index: int, ids: list[str]) -> dict[str, Any]:
        """The invariant mass and pt of the four-vector sum of the objects ``ids`` of event
        ``index`` (UnknownObjects names those it does not have)."""
        with self._source(recid, key) as (_, source):
            found = source.event(index)
        mass, pt = invariant_mass(found.select(ids))  # UnknownObjects names the others
        return {"mass": _finite(mass), "pt": _finite(pt), "ids": ids, "index": index}
