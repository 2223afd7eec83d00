"""The search index: tantivy, derived from the catalogue and kept up to date from its change log."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
import tantivy

from openhep.catalog import Catalog, StoredRecord
from openhep.search._schema import SCHEMA_VERSION, build_schema, to_document

_STATE = "openhep-index.json"
#: The writer's memory budget, taken as needed (a small sync uses little). A rebuild writes a
#: segment each time it fills; every search and facet count pays per segment, and one
#: segment for 200k records answers a free-text search in 1.70 ms of CPU rather than the
#: 2.74 ms of four (docs/performance.md), for ~600 MB resident during that rebuild.
_WRITER_HEAP = 512 * 1024 * 1024
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class IndexState:
    """How far the index has followed the change log (written after each commit)."""

    schema_version: int
    seq: int


class SearchIndex:
    """A tantivy index of every record's current version, embargoed ones included.

    The catalogue is the truth: ``sync`` applies the change-log entries the index has not seen
    (idempotently, so a crash between a commit and the state file only repeats work), and
    ``rebuild`` starts from scratch. An index of another schema version is rebuilt.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = build_schema()
        self._lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        if self._read_state().schema_version not in (SCHEMA_VERSION, 0):
            self._wipe()
        try:
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        except ValueError:
            # Fields that differ under the same schema version (a development build): the
            # index is derived, so it is rebuilt from the catalogue like any stale one.
            self._wipe()
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self._loaded_seq = -1  # the state this process's reader last reloaded at

    # -- state ---------------------------------------------------------------------------

    def _read_state(self) -> IndexState:
        try:
            data = orjson.loads((self.path / _STATE).read_bytes())
            return IndexState(int(data["schema_version"]), int(data["seq"]))
        except (OSError, ValueError, KeyError, TypeError):
            return IndexState(0, 0)

    def _write_state(self, seq: int) -> None:
        tmp = self.path / f".{_STATE}.tmp"
        tmp.write_bytes(orjson.dumps({"schema_version": SCHEMA_VERSION, "seq": seq}))
        tmp.replace(self.path / _STATE)

    def _wipe(self) -> None:
        for child in self.path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    @property
    def generation(self) -> int:
        """Changes whenever this process's reader sees a new commit (caches key on it)."""
        return self._loaded_seq

    @property
    def seq(self) -> int:
        """The last change-log entry this index reflects."""
        return self._read_state().seq

    # -- keeping up with the catalogue -----------------------------------------------------

    def sync(self, catalog: Catalog, *, wait: float = 5.0) -> int:
        """Apply the catalogue's changes since the last sync; return how many records changed.

        A catalogue whose change log is behind the index (replaced or restored) is indexed
        from scratch. Only one process writes at a time: one that finds the writer taken
        waits up to ``wait`` seconds for its holder, then reads the holder's commits.
        """
        last = catalog.last_change()
        if last == self._loaded_seq:
            return 0  # the common case, before every search: no file to read
        with self._lock:
            state = self._read_state()
            if last == state.seq:
                if self._loaded_seq != state.seq:
                    # Another process (a sibling worker) committed: see its work.
                    self.index.reload()
                    self._loaded_seq = state.seq
                return 0
            writer = self._writer(wait)
            if writer is None:
                # A sibling holds the writer and is doing this very work.
                self.index.reload()
                self._loaded_seq = self._read_state().seq
                return 0
            state = self._read_state()  # the previous holder may have moved it on
            last = catalog.last_change()
            if last < state.seq or state.schema_version != SCHEMA_VERSION:
                return self._rebuild_with(writer, catalog)
            changed = 0
            seq = state.seq
            while True:
                changes = catalog.changes(since=seq, limit=_BATCH)
                if not changes:
                    break
                recids = sorted({c.recid for c in changes})
                self._replace(writer, recids, catalog.iter_current(recids))
                changed += len(recids)
                seq = changes[-1].seq
                writer.commit()
                self._write_state(seq)
            writer.wait_merging_threads()
            self.index.reload()
            self._loaded_seq = seq
            return changed

    def _writer(self, wait: float) -> tantivy.IndexWriter | None:
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.index.writer(heap_size=_WRITER_HEAP, num_threads=1)
            except ValueError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.05)

    def rebuild(self, catalog: Catalog, *, wait: float = 600.0) -> int:
        """Index every record of the catalogue from scratch; return how many."""
        with self._lock:
            writer = self._writer(wait)
            if writer is None:
                raise TimeoutError("another process holds the search index's writer")
            return self._rebuild_with(writer, catalog)

    def _rebuild_with(self, writer: tantivy.IndexWriter, catalog: Catalog) -> int:
        last = catalog.last_change()
        writer.delete_all_documents()
        count = 0
        for stored in catalog.iter_current():
            writer.add_document(_document(stored))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        self._write_state(last)
        self.index.reload()
        self._loaded_seq = last
        return count

    @staticmethod
    def _replace(
        writer: tantivy.IndexWriter, recids: list[str], current: Iterable[StoredRecord]
    ) -> None:
        # Delete then add: a record removed from the catalogue simply does not come back.
        for recid in recids:
            writer.delete_documents_by_term("recid", recid)
        for stored in current:
            writer.add_document(_document(stored))

    # -- reading ----------------------------------------------------------------------------

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def num_docs(self) -> int:
        return int(self.index.searcher().num_docs)


def _document(stored: StoredRecord) -> tantivy.Document:
    return to_document(stored.metadata, stored.created, stored.updated, stored.visible_from)


def open_index(home: Path) -> SearchIndex:
    """The index of the instance whose data directory is ``home`` (``home/index``)."""
    return SearchIndex(home / "index")
