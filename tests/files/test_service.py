"""FileService over a real catalogue (SQLite and PostgreSQL) and a real store (local, XRootD).

Bytes are real CMS samples from the repository's data/cms-samples; records are real CODP records.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openhep.catalog import Catalog, PendingWriteLostError, RecordNotFoundError
from openhep.files import (
    ChecksumMismatchError,
    CorruptFileError,
    FileKeyError,
    FileNotServedError,
    FileService,
    RemoteFile,
    ServedFile,
)
from openhep.model import file_key, validate_record
from openhep.storage import (
    FileTooLargeError,
    OriginRules,
    PrefixRules,
    Store,
    UnsafePathError,
)

PARENT = "12341"  # CODP's DoubleMuParked NanoAOD outreach record


@pytest.fixture
def samples(anchors: Path) -> dict[str, bytes]:
    folder = anchors / "cms-samples"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.root"))}


# The conftest's service with a 2 MiB upload limit: the real samples fit, a larger upload is
# refused.
@pytest.fixture
def service(catalog: Catalog, store: Store) -> FileService:
    return FileService(catalog, store, max_upload_bytes=2 << 20)


def chunked(data: bytes, size: int = 7919) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def visible_paths(store: Store) -> list[str]:
    return [o.path for o in store.walk()]


def test_added_files_get_true_size_and_checksums_and_a_new_version(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    before = catalog.get(PARENT)
    result = service.add(PARENT, [(name, chunked(data))])
    after = catalog.get(PARENT)
    assert (result.version, after.version) == (before.version + 1, before.version + 1)
    entry = next(f for f in after.metadata["files"] if file_key(f) == name)
    assert entry["size"] == len(data)
    assert entry["checksum"] == adler32(data)
    assert entry["type"] == "root"
    assert entry["uri"].startswith("root://eospublic.cern.ch//eos/opendata/openhep/12341/")
    assert result.files[0].digests.sha256 == "sha256:" + hashlib.sha256(data).hexdigest()
    # The record's earlier files are kept, the version before is still readable.
    assert len(after.metadata["files"]) == len(before.metadata.get("files", [])) + 1
    assert catalog.get(PARENT, before.version).metadata == before.metadata
    with service.store.open(result.files[0].path) as reader:
        assert reader.read() == data


def test_availability_online_remote_and_corrupt(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    service.add(PARENT, [(name, chunked(data))])
    files = catalog.get(PARENT).metadata["files"]
    availability = service.availability([f["uri"] for f in files])
    states = dict(zip([file_key(f) for f in files], availability, strict=True))
    assert states.pop(name) == "online"
    assert set(states.values()) == {"remote"}  # CODP's own files are on EOS, not here
    path = service.path_of(next(f["uri"] for f in files if file_key(f) == name))
    assert path is not None
    service.catalog.replicas.mark(path, "corrupt", checked_at=catalog.get(PARENT).updated)
    assert service.availability([files[-1]["uri"]]) == ["corrupt"]


def test_a_file_with_an_existing_key_replaces_it_without_touching_the_old_bytes(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    (_, first), (_, second) = list(samples.items())[:2]
    old = service.add(PARENT, [("sample.root", chunked(first))])
    new = service.add(PARENT, [("sample.root", chunked(second))])
    entries = [f for f in catalog.get(PARENT).metadata["files"] if file_key(f) == "sample.root"]
    assert [e["checksum"] for e in entries] == [adler32(second)]
    assert old.files[0].path != new.files[0].path
    # The previous version still names bytes that are still there, unchanged.
    with service.store.open(old.files[0].path) as reader:
        assert reader.read() == first


def test_failures_store_nothing_and_change_nothing(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    before = catalog.get(PARENT)

    def broken() -> Any:
        yield data[:1000]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        service.add(PARENT, [(name, broken())])
    with pytest.raises(ChecksumMismatchError, match="nothing was changed"):
        service.add(PARENT, [(name, chunked(data))], expected={name: "adler32:00000000"})
    with pytest.raises(FileTooLargeError):
        service.add(PARENT, [(name, chunked(b"x" * (3 << 20)))])
    with pytest.raises(FileKeyError):
        service.add(PARENT, [(name, [data]), (name, [data])])
    for key in ("../escape.root", "a/b.root", "", ".", "..", "bad\x00name"):
        with pytest.raises(UnsafePathError):
            service.add(PARENT, [(key, [data])])
    with pytest.raises(RecordNotFoundError):
        service.add("999999999", [(name, [data])])
    assert catalog.get(PARENT).version == before.version
    assert visible_paths(service.store) == []
    assert service.catalog.replicas.count() == 0


def test_concurrent_adds_to_one_record_all_land(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    items = list(samples.items())[:4]
    errors: list[BaseException] = []

    def add(key: str, data: bytes) -> None:
        try:
            service.add(PARENT, [(key, chunked(data))])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=item) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = {file_key(f) for f in catalog.get(PARENT).metadata["files"]}
    assert {k for k, _ in items} <= keys


def test_fixity_catches_a_flipped_byte_and_the_file_is_no_longer_served(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    added = service.add(PARENT, [(name, chunked(data))]).files[0]
    assert service.fixity().ok
    served = service.record_file(catalog.get(PARENT), name)
    assert (served.size, served.checksum) == (len(data), adler32(data))

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    service.store.write(added.path, [bytes(flipped)])
    report = service.fixity()
    assert not report.ok
    [problem] = report.problems
    assert (problem.path, problem.problem, problem.recids) == (added.path, "checksum", [PARENT])
    assert problem.expected == adler32(data)
    with pytest.raises(CorruptFileError, match="fixity"):
        service.record_file(catalog.get(PARENT), name)
    with pytest.raises(CorruptFileError):
        service.servable(added.path)

    # Good bytes back: the next check restores the file.
    service.store.write(added.path, [data])
    report = service.fixity()
    assert report.ok and report.restored == 1
    assert service.servable(added.path).checksum == adler32(data)


def test_fixity_reports_missing_and_truncated_files(
    service: FileService, samples: dict[str, bytes]
) -> None:
    (a, first), (b, second) = list(samples.items())[:2]
    gone = service.add(PARENT, [(a, [first])]).files[0]
    cut = service.add(PARENT, [(b, [second])]).files[0]
    service.store.remove(gone.path)
    service.store.write(cut.path, [second[:-1]])
    report = service.fixity()
    problems = {p.path: p.problem for p in report.problems}
    assert problems == {gone.path: "missing", cut.path: "size"}
    with pytest.raises((FileNotServedError, CorruptFileError)):
        service.servable(cut.path)


def test_fixity_registers_store_files_a_record_references(
    catalog: Catalog, store: Store, anchors: Path, samples: dict[str, bytes]
) -> None:
    """A curator copies files into the store at their URI's path; fixity verifies and registers
    them (a record built here from a real sample, since CODP's own files are not at hand)."""
    name, data = next(iter(samples.items()))
    uri = f"root://eospublic.cern.ch//eos/opendata/cms/derived/{name}"
    record = catalog.get(PARENT).metadata | {
        "files": [{"uri": uri, "size": len(data), "checksum": adler32(data)}]
    }
    catalog.write([validate_record(record)])
    service = FileService(catalog, store)
    assert service.availability([uri]) == ["remote"]
    store.write(f"eos/opendata/cms/derived/{name}", [data])
    report = service.fixity()
    assert (report.registered, report.ok) == (1, True)
    assert service.availability([uri]) == ["online"]


def test_fixity_sample_checks_that_many(service: FileService, samples: dict[str, bytes]) -> None:
    for name, data in samples.items():
        service.add(PARENT, [(name, [data])])
    assert service.fixity(sample=2, seed=1).checked == 2
    assert service.fixity().checked == len(samples)


def test_prefix_rules_map_both_ways() -> None:
    rules = PrefixRules.parse(
        "root://eospublic.cern.ch//eos/opendata/=eos/opendata/,root://xrootd.example//data/=mirror/"
    )
    assert rules.to_store_path("root://xrootd.example//data/run/a.root") == "mirror/run/a.root"
    assert rules.to_store_path("https://elsewhere/a.root") is None
    assert rules.to_store_path("root://eospublic.cern.ch//eos/opendata/../../etc") is None
    assert rules.to_uri("eos/opendata/x.root") == "root://eospublic.cern.ch//eos/opendata/x.root"
    with pytest.raises(ValueError, match="uri-prefix=store-prefix"):
        PrefixRules.parse("no-equals-sign")


def test_files_of_embargoed_records_are_not_served_by_their_path(
    catalog: Catalog, store: Store, samples: dict[str, bytes]
) -> None:
    """A curator may add files to a record before its release date; until then its files are
    not served at /eos/opendata/<path> (nor listed: the record itself is not public)."""
    service = FileService(catalog, store)
    embargoed = catalog.get(PARENT).metadata | {
        "recid": "990500",
        "doi": None,
        "release_date": "2999-01-01",
    }
    embargoed.pop("doi")
    embargoed.pop("files", None)
    catalog.write([validate_record(embargoed)])
    name, data = next(iter(samples.items()))
    hidden = service.add("990500", [(name, [data])]).files[0]
    shown = service.add(PARENT, [(name, [data])]).files[0]
    assert service.servable(hidden.path).checksum == adler32(data)  # held and good...
    with pytest.raises(FileNotServedError):
        service.public_file(hidden.path)  # ...but not published yet
    shown_file = service.public_file(shown.path)
    assert isinstance(shown_file, ServedFile) and shown_file.checksum == adler32(data)
    with pytest.raises(FileNotServedError):
        service.public_file("eos/opendata/openhep/not/held.root")


# -- files not held here: their origin ----------------------------------------------------------

#: Record 12341's one file, 2.2 GB on CERN's EOS: not held here.
EOS_FILE = "cms/derived-data/AOD2NanoAODOutreachTool/Run2012BC_DoubleMuParked_Muons.root"
MIRROR = "https://mirror.example.org/opendata/"


def test_a_public_file_not_held_here_is_at_its_origin(catalog: Catalog, store: Store) -> None:
    service = FileService(catalog, store)  # the default origin rules
    key = EOS_FILE.rsplit("/", 1)[-1]
    expected = RemoteFile(
        f"root://eospublic.cern.ch//eos/opendata/{EOS_FILE}",
        f"https://opendata.cern.ch/eos/opendata/{EOS_FILE}",
    )
    assert service.public_file(f"eos/opendata/{EOS_FILE}") == expected
    assert service.record_file(catalog.get(PARENT), key) == expected
    # What no public record lists has no origin to send anyone to.
    with pytest.raises(FileNotServedError):
        service.public_file("eos/opendata/cms/derived-data/AOD2NanoAODOutreachTool/none.root")
    with pytest.raises(FileNotServedError, match="has no file"):
        service.record_file(catalog.get(PARENT), "none.root")
    # With redirects turned off (OPENHEP_FILE_ORIGINS=""), not held here is not found here.
    off = FileService(catalog, store, origins=OriginRules.parse(""))
    with pytest.raises(FileNotServedError):
        off.public_file(f"eos/opendata/{EOS_FILE}")
    with pytest.raises(FileNotServedError, match="not held here"):
        off.record_file(catalog.get(PARENT), key)


def test_an_embargoed_records_file_is_not_sent_to_its_origin(
    catalog: Catalog, store: Store
) -> None:
    record = catalog.get(PARENT).metadata | {"recid": "990500", "release_date": "2999-01-01"}
    record.pop("doi")
    uri = record["files"][0]["uri"].replace("Muons.root", "Muons-embargoed.root")
    record["files"] = [record["files"][0] | {"uri": uri}]
    catalog.write([validate_record(record)])
    service = FileService(catalog, store)
    assert service.origin_urls([uri]) == [
        uri.replace("root://eospublic.cern.ch/", "https://opendata.cern.ch")
    ]
    with pytest.raises(FileNotServedError):
        service.public_file(uri.removeprefix("root://eospublic.cern.ch//"))


def test_bad_or_missing_bytes_here_send_to_the_origin_when_there_is_one(
    catalog: Catalog, store: Store, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    held = FileService(catalog, store)
    added = held.add(PARENT, [(name, [data])]).files[0]
    # Files added here are published under .../eos/opendata/openhep/: by default they have no
    # origin but this instance, so bad bytes are a 503 (CorruptFileError), never a redirect.
    held.report_corrupt(added.path, "a flipped byte")
    with pytest.raises(CorruptFileError):
        held.public_file(added.path)
    mirrored = FileService(
        catalog,
        store,
        origins=OriginRules.parse(f"root://eospublic.cern.ch//eos/opendata/={MIRROR}"),
    )
    origin = RemoteFile(added.entry["uri"], MIRROR + added.path.removeprefix("eos/opendata/"))
    assert mirrored.public_file(added.path) == origin
    assert mirrored.record_file(catalog.get(PARENT), name) == origin
    # Good again, it is served from here; gone, it is at the origin again.
    assert mirrored.fixity().restored == 1
    assert isinstance(mirrored.public_file(added.path), ServedFile)
    store.remove(added.path)
    assert mirrored.public_file(added.path) == origin


# -- every version keeps serving the bytes it names --------------------------------------------


def test_an_older_versions_replaced_file_is_still_served_with_its_own_bytes(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    """Issue 11, item 7: the public-file check looked at the current version only, so the file
    an older version names (and its page links, and its API calls ``online``) answered 404."""
    (_, first), (_, second) = list(samples.items())[:2]
    old = service.add(PARENT, [("sample.root", chunked(first))])
    new = service.add(PARENT, [("sample.root", chunked(second))])
    assert new.version == old.version + 1
    old_uri = old.files[0].entry["uri"]
    before = catalog.get(PARENT, old.version)
    assert [f["uri"] for f in before.metadata["files"] if file_key(f) == "sample.root"] == [old_uri]
    assert catalog.uri_is_public(old_uri)
    served = service.public_file(old.files[0].path)
    assert isinstance(served, ServedFile)
    assert (served.size, served.checksum) == (len(first), adler32(first))
    with service.reader(served) as reader:
        assert reader.read() == first
    # What the older version says of its files is what is served.
    uris = [str(f["uri"]) for f in before.metadata["files"]]
    assert service.availability(uris)[uris.index(old_uri)] == "online"
    # ...and the current version serves its own bytes under the same key.
    current = service.record_file(catalog.get(PARENT), "sample.root")
    assert isinstance(current, ServedFile) and current.checksum == adler32(second)
    older = service.record_file(before, "sample.root")
    assert isinstance(older, ServedFile) and older.checksum == adler32(first)
    # Neither the old bytes nor the new are orphans: fixity keeps both.
    report = service.fixity()
    assert report.ok and report.orphans == [] and report.checked == 2
    assert sorted(o.path for o in service.store.walk()) == sorted(
        [old.files[0].path, new.files[0].path]
    )


def test_a_file_of_an_older_version_stays_hidden_while_the_record_is_embargoed(
    catalog: Catalog, store: Store, samples: dict[str, bytes]
) -> None:
    service = FileService(catalog, store)
    embargoed = catalog.get(PARENT).metadata | {"recid": "990501", "release_date": "2999-01-01"}
    embargoed.pop("doi")
    embargoed.pop("files", None)
    catalog.write([validate_record(embargoed)])
    (_, first), (_, second) = list(samples.items())[:2]
    old = service.add("990501", [("sample.root", [first])]).files[0]
    service.add("990501", [("sample.root", [second])])
    assert not catalog.uri_is_public(old.entry["uri"])
    with pytest.raises(FileNotServedError):
        service.public_file(old.path)
    # A record's URI is named by it, embargoed or not: its bytes are never orphans.
    assert catalog.named_uris([old.entry["uri"], "root://x//nowhere"]) == {old.entry["uri"]}
    assert service.orphans() == []


# -- orphans: bytes no record names ---------------------------------------------------------------


def test_bytes_nothing_names_under_our_prefix_are_orphans_and_others_are_left(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    """Bytes from before the journal (written straight to the store) are found by listing the
    prefix this instance writes to; files elsewhere are the operator's and never touched."""
    (name, first), (_, second) = list(samples.items())[:2]
    named = service.add(PARENT, [(name, [first])]).files[0]
    stray = f"eos/opendata/openhep/{PARENT}/0123456789ab/{name}"
    service.store.write(stray, [second])
    elsewhere = f"eos/opendata/cms/staging/{name}"
    service.store.write(elsewhere, [second])
    kept = service.fixity(keep_orphans=True)
    assert not kept.ok and kept.problems == []
    assert [(o.path, o.size, o.reason, o.removed) for o in kept.orphans] == [
        (stray, len(second), "unnamed", False)
    ]
    assert kept.as_dict()["orphans"][0]["path"] == stray
    assert kept.as_dict()["orphan_bytes"] == len(second)
    assert service.store.stat(stray) is not None
    removed = service.fixity()
    assert [(o.path, o.removed) for o in removed.orphans] == [(stray, True)]
    assert sorted(o.path for o in service.store.walk()) == sorted([named.path, elsewhere])
    assert service.fixity().ok


def test_a_running_add_is_never_an_orphan_and_a_failed_one_leaves_nothing(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    name, data = next(iter(samples.items()))
    path = f"eos/opendata/openhep/{PARENT}/fedcba987654/{name}"
    with pytest.raises(RuntimeError, match="stop"), service.journal([path]) as journal:
        service.store_file(path, chunked(data), journal=journal)
        assert [p.path for p in catalog.pending] == [path]
        # This process writes it and runs: whatever the grace, nothing of it is an orphan.
        assert service.orphans(grace=0) == [] and service.fixity(grace=0).ok
        assert service.store.stat(path) is not None
        raise RuntimeError("stop")
    assert service.store.stat(path) is None
    assert list(catalog.pending) == [] and service.store.partials() == []


def test_an_add_taken_for_abandoned_cannot_complete(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    """The recovery removes a pending row before its bytes: a slow writer that comes back
    finds its rows gone and changes nothing (the bytes are not named by anyone)."""
    name, data = next(iter(samples.items()))
    before = catalog.get(PARENT)
    path = f"eos/opendata/openhep/{PARENT}/00aa11bb22cc/{name}"
    with (
        pytest.raises(PendingWriteLostError, match="taken for abandoned"),
        service.journal([path]) as journal,
    ):
        added = service.store_file(path, [data], key=name, journal=journal)
        [entry] = list(catalog.pending)
        assert catalog.pending.forget(entry)
        assert not catalog.pending.forget(entry)  # once
        service.attach(PARENT, [added.entry], [added], pending=journal.paths)
    assert catalog.get(PARENT) == before
    assert catalog.replicas.get(path) is None
    assert service.store.stat(path) is None


def test_another_machines_write_is_abandoned_after_the_grace_period(
    service: FileService, catalog: Catalog, samples: dict[str, bytes]
) -> None:
    """A writer on another node cannot be asked whether it runs: its last sign of life and
    the grace period decide."""
    name, data = next(iter(samples.items()))
    path = f"eos/opendata/openhep/{PARENT}/99aa11bb22cc/{name}"
    writer = json.dumps(
        {
            "host": "node-2.example.org",
            "boot": "x",
            "pidns": "y",
            "pid": 1,
            "start": "1",
            "command": "openhep serve",
        }
    )
    silent_since = datetime.now(UTC) - timedelta(minutes=20)
    catalog.pending.begin([path], operation="op", writer=writer, now=silent_since)
    service.store.write(path, [data])
    assert service.remove_abandoned(grace=3600) == []
    assert service.fixity(grace=3600).orphans == []  # pending: not unnamed either
    [orphan] = service.remove_abandoned()  # the default grace, 15 minutes
    assert (orphan.path, orphan.size, orphan.reason, orphan.removed) == (
        path,
        len(data),
        "abandoned",
        True,
    )
    assert orphan.writer == "openhep serve (pid 1 on node-2.example.org)"
    assert orphan.since is not None and abs(orphan.since - silent_since) < timedelta(seconds=1)
    assert service.store.stat(path) is None and list(catalog.pending) == []


def test_a_writer_says_it_is_alive_and_stops_once_taken_for_abandoned(
    service: FileService,
    catalog: Catalog,
    samples: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While bytes stream, the journal hears from the writer (here at every chunk); a writer
    whose rows were removed by a recovery elsewhere stops at its next sign of life."""
    from openhep.files import _journal

    monkeypatch.setattr(_journal, "HEARTBEAT_SECONDS", 0.0)
    name, data = max(samples.items(), key=lambda item: len(item[1]))
    assert len(data) > 5 * 50_000
    before = catalog.get(PARENT)
    heard: list[int] = []

    def chunks(forget_after: int | None) -> Iterator[bytes]:
        for i, piece in enumerate(chunked(data, 50_000)):
            if i and forget_after is None:
                [entry] = list(catalog.pending)
                heard.append(entry.written)
            if forget_after is not None and i == forget_after:
                [entry] = list(catalog.pending)
                assert catalog.pending.forget(entry)
            yield piece

    with pytest.raises(PendingWriteLostError):
        service.add(PARENT, [(name, chunks(forget_after=2))])
    assert catalog.get(PARENT) == before
    assert list(service.store.walk()) == [] and service.store.partials() == []
    assert list(catalog.pending) == []
    service.add(PARENT, [(name, chunks(forget_after=None))])
    assert heard == sorted(heard) and heard[-1] >= len(data) - 2 * 50_000 > 0
    assert list(catalog.pending) == []
