"""Orphans: bytes in the store that no record names, left by writes that never completed.

Two ways to find them:

* *Abandoned writes* (cheap, at the start of ``openhep serve`` and of every ``files`` command,
  and in ``openhep fixity``): the pending-writes journal rows whose writer is gone (a process
  of this machine that no longer runs) or silent for longer than the grace period (another
  machine's). Their final file, unless a record names it, and their partial writes are
  orphans. A row is removed *before* its bytes (and only if it did not change since it was
  read), so a slow writer taken for abandoned can no longer complete: its commit finds its
  rows gone and fails, and nothing names the bytes removed.
* *Unnamed files* (``openhep fixity`` only: it lists the store): files under the prefix this
  instance writes to (``eos/opendata/openhep/``) and partial writes that no replica row, no
  pending write and no version of any record names: what a crash left before the journal
  existed, or a recovery killed half-way. The store is listed *before* the catalogue is read:
  a writer commits its pending rows before its first byte, so every file the listing saw is
  known to the catalogue read after it, unless no one will ever name it. Files under other
  prefixes (copies of CODP's files, say) are the operator's and never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from openhep.catalog import Catalog, PendingWrite
from openhep.files._journal import describe_writer, writer_state
from openhep.storage import (
    ADDED_FILES_PREFIX,
    PARTIAL_DIR,
    PrefixRules,
    Store,
    StoredObject,
    UnsafePathError,
    partial_of,
    partial_stem,
)

OrphanReason = Literal["abandoned", "unnamed"]


@dataclass(frozen=True, slots=True)
class Orphan:
    """Bytes in the store no record names: a file, or a partial write (``.partial/<name>``)."""

    path: str
    size: int
    reason: OrphanReason  # abandoned: its write never completed; unnamed: nothing knows it
    removed: bool
    writer: str | None = None  # who wrote it, when the journal says
    since: datetime | None = None  # when that write started

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "reason": self.reason,
            "removed": self.removed,
            "writer": self.writer,
            "since": self.since.isoformat() if self.since else None,
        }


def _named(catalog: Catalog, rules: PrefixRules, paths: list[str]) -> set[str]:
    """Those of ``paths`` a replica row or a version of a record names."""
    known = set(catalog.replicas.get_many(paths))
    uris = {uri: path for path in paths if (uri := rules.to_uri(path)) is not None}
    known.update(uris[uri] for uri in catalog.named_uris(list(uris)))
    return known


def _abandoned(entry: PendingWrite, grace: float, now: datetime) -> bool:
    state = writer_state(entry.writer)
    if state == "unknown":
        return (now - entry.alive_at).total_seconds() >= grace
    return state == "gone"


def remove_abandoned(
    catalog: Catalog, store: Store, rules: PrefixRules, *, grace: float, remove: bool = True
) -> list[Orphan]:
    """The bytes of abandoned pending writes, removed (unless ``remove`` is False) along with
    their journal rows."""
    now = datetime.now(UTC)
    entries = [e for e in catalog.pending if _abandoned(e, grace, now)]
    named = _named(catalog, rules, [e.path for e in entries]) if entries else set()
    found: list[Orphan] = []
    for entry in entries:
        leftovers: list[StoredObject] = []
        try:
            final = store.stat(entry.path)
            leftovers = store.partials(entry.path)
        except UnsafePathError:
            final = None  # not a path this code writes: only the row goes
        if final is not None and entry.path not in named:
            leftovers.insert(0, final)
        if remove and not catalog.pending.forget(entry):
            continue  # it gave a sign of life or completed meanwhile
        writer = describe_writer(entry.writer)
        for obj in leftovers:
            outcome = _remove(store, obj) if remove else "kept"
            if outcome != "vanished":
                found.append(
                    Orphan(
                        obj.path,
                        obj.size,
                        "abandoned",
                        outcome == "removed",
                        writer,
                        entry.started_at,
                    )
                )
    return found


def _remove(store: Store, obj: StoredObject) -> Literal["removed", "kept", "vanished"]:
    """Remove ``obj``; ``vanished`` if it was gone already (a partial write renamed into place
    since the listing: not an orphan at all)."""
    try:
        if obj.path.startswith(PARTIAL_DIR + "/"):
            store.discard_partial(obj.path)
        else:
            store.remove(obj.path)
    except FileNotFoundError:
        return "vanished"
    except (OSError, UnsafePathError):
        return "kept"  # left for the next run: a listing of the store finds it
    return "removed"


def remove_unnamed(
    catalog: Catalog, store: Store, rules: PrefixRules, *, remove: bool = True
) -> list[Orphan]:
    """Files under :data:`ADDED_FILES_PREFIX` and partial writes that nothing names."""
    files = list(store.walk(ADDED_FILES_PREFIX))
    partials = store.partials()
    # Read only now (see the module's docstring): the pending rows, replicas, records.
    pending = catalog.pending.paths()
    pending_stems = {partial_stem(p) for p in pending}
    named = _named(catalog, rules, [f.path for f in files if f.path not in pending])
    unnamed = [f for f in files if f.path not in pending and f.path not in named]
    for obj in partials:
        stem = partial_of(obj.path.removeprefix(PARTIAL_DIR + "/"))
        if stem is None or stem not in pending_stems:
            unnamed.append(obj)
    found: list[Orphan] = []
    for obj in unnamed:
        outcome = _remove(store, obj) if remove else "kept"
        if outcome != "vanished":
            found.append(Orphan(obj.path, obj.size, "unnamed", outcome == "removed"))
    return found
