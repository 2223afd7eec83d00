"""The store suite: every test runs against a local directory and against a real XRootD server."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from openhep.settings import Settings
from openhep.storage import (
    CHUNK_SIZE,
    FileTooLargeError,
    LocalStore,
    Store,
    StoredObject,
    UnsafePathError,
    open_store,
    read_chunks,
)

MiB = 1 << 20


def pieces(
    data: bytes, sizes: tuple[int, ...] = (1, 7, 4096, 65536, CHUNK_SIZE)
) -> Iterator[bytes]:
    """``data`` cut into chunks of uneven sizes (cycling through ``sizes``)."""
    offset, turn = 0, 0
    while offset < len(data):
        size = sizes[turn % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        turn += 1


def read_all(store: Store, path: str) -> bytes:
    with store.open(path) as reader:
        return b"".join(read_chunks(reader))


@pytest.fixture(scope="module")
def sample(anchors: Path) -> bytes:
    """A real CMS open-data file (2,304 dimuon events of 2010 data, ROOT format)."""
    return (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()


def test_write_read_stat_walk(store: Store, sample: bytes) -> None:
    written = {
        "eos/opendata/cms/Run2010B/Mu/Zmumu.root": sample,
        "eos/opendata/cms/Run2010B/Mu/index.txt": b"root://eospublic.cern.ch//eos/opendata/x\n",
        "eos/opendata/atlas/readme.txt": b"ATLAS\n",
        "top.txt": b"",
    }
    for path, data in written.items():
        stored, digests = store.write(path, pieces(data))
        assert stored == StoredObject(path, len(data), stored.mtime)
        assert digests.size == len(data)
        assert stored.mtime.tzinfo is not None
    for path, data in written.items():
        assert read_all(store, path) == data
        assert store.stat(path) == StoredObject(path, len(data), store.stat(path).mtime)  # type: ignore[union-attr]
    assert sorted(obj.path for obj in store.walk()) == sorted(written)
    assert {obj.path: obj.size for obj in store.walk()} == {p: len(d) for p, d in written.items()}
    assert sorted(obj.path for obj in store.walk("eos/opendata/cms")) == [
        "eos/opendata/cms/Run2010B/Mu/Zmumu.root",
        "eos/opendata/cms/Run2010B/Mu/index.txt",
    ]
    assert list(store.walk("eos/opendata/lhcb")) == []
    # A directory is not a file.
    assert store.stat("eos/opendata") is None
    with pytest.raises(FileNotFoundError):
        store.open("eos/opendata")


def test_remove(store: Store) -> None:
    store.write("a/b.txt", [b"one"])
    store.write("a/c.txt", [b"two"])
    store.remove("a/b.txt")
    assert store.stat("a/b.txt") is None
    assert [obj.path for obj in store.walk()] == ["a/c.txt"]
    with pytest.raises(FileNotFoundError):
        store.remove("a/b.txt")


def test_missing_files(store: Store) -> None:
    assert store.stat("no/such/file.root") is None
    with pytest.raises(FileNotFoundError):
        store.open("no/such/file.root")
    with pytest.raises(FileNotFoundError):
        store.remove("no/such/file.root")
    assert list(store.walk()) == []
    assert list(store.walk("no/such")) == []


def test_digests_equal_zlib_and_hashlib(store: Store, sample: bytes) -> None:
    for data in (b"", b"a", sample, sample[::-1] * 3):
        _, digests = store.write("f.bin", pieces(data))
        assert digests.size == len(data)
        assert digests.adler32 == f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"
        assert digests.sha256 == f"sha256:{hashlib.sha256(data).hexdigest()}"
        assert digests.checksum == digests.adler32
        assert read_all(store, "f.bin") == data


def test_overwrite_replaces_the_whole_file(store: Store, sample: bytes) -> None:
    store.write("f.root", [sample])
    store.write("f.root", [b"short"])
    assert read_all(store, "f.root") == b"short"
    assert store.stat("f.root").size == 5  # type: ignore[union-attr]


def test_a_write_in_progress_is_invisible_and_the_last_rename_wins(store: Store) -> None:
    seen: list[object] = []

    def slow() -> Iterator[bytes]:
        yield b"first " * 1000
        # Another writer stores the same path completely while this one is half done.
        store.write("f.txt", [b"second"])
        seen.append(store.stat("f.txt"))
        seen.append(sorted(obj.path for obj in store.walk()))
        yield b"end"

    stored, digests = store.write("f.txt", slow())
    assert stored.size == digests.size == 6003
    assert seen[0] == StoredObject("f.txt", 6, seen[0].mtime)  # type: ignore[attr-defined]
    assert seen[1] == ["f.txt"]
    assert read_all(store, "f.txt") == b"first " * 1000 + b"end"


def test_seek_and_partial_reads(store: Store, sample: bytes) -> None:
    store.write("f.root", pieces(sample))
    with store.open("f.root") as reader:
        assert reader.seekable()
        reader.seek(1000)
        assert reader.read(10) == sample[1000:1010]
        assert reader.tell() == 1010
        reader.seek(-16, os.SEEK_END)
        assert reader.read() == sample[-16:]
        assert reader.read(5) == b""
        reader.seek(4)
        reader.seek(100, os.SEEK_CUR)
        assert reader.read(3) == sample[104:107]
        assert b"".join(read_chunks(reader, 0, 4)) == b"root"  # ROOT files start with "root"
        middle = len(sample) // 2
        assert b"".join(read_chunks(reader, middle, 100_000)) == sample[middle : middle + 100_000]
        assert b"".join(read_chunks(reader, len(sample) - 5, 100)) == sample[-5:]
        assert b"".join(read_chunks(reader, len(sample) + 10, 100)) == b""


def test_an_exception_mid_write_leaves_nothing(store: Store) -> None:
    def failing() -> Iterator[bytes]:
        yield b"x" * (5 * MiB)
        yield b"y" * 10
        raise RuntimeError("the upload broke off")

    with pytest.raises(RuntimeError, match="broke off"):
        store.write("new/file.root", failing())
    assert store.stat("new/file.root") is None
    assert list(store.walk()) == []
    assert store.remove_partial(older_than_seconds=0) == 0  # nothing left behind

    store.write("old.root", [b"kept"])
    with pytest.raises(RuntimeError):
        store.write("old.root", failing())
    assert read_all(store, "old.root") == b"kept"
    assert [obj.path for obj in store.walk()] == ["old.root"]
    assert store.remove_partial(older_than_seconds=0) == 0


def test_max_bytes(store: Store) -> None:
    store.write("exact.bin", pieces(b"z" * 1000), max_bytes=1000)
    assert store.stat("exact.bin").size == 1000  # type: ignore[union-attr]
    with pytest.raises(FileTooLargeError, match="1000 bytes"):
        store.write("over.bin", pieces(b"z" * 1001), max_bytes=1000)
    assert store.stat("over.bin") is None
    # The bound stops the stream: chunks after the one that crossed it are never drawn.
    drawn: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            drawn.append(1)
            yield b"z" * 4096

    with pytest.raises(FileTooLargeError):
        store.write("endless.bin", endless(), max_bytes=10_000)
    assert len(drawn) == 3
    assert [obj.path for obj in store.walk()] == ["exact.bin"]
    assert store.remove_partial(older_than_seconds=0) == 0


WRITER = textwrap.dedent(
    """
    import sys, time
    from openhep.settings import Settings
    from openhep.storage import open_store

    store = open_store(Settings(storage_url=sys.argv[1]))

    def chunks():
        for _ in range(3):
            yield b"k" * (4 << 20)
        print("writing", flush=True)
        time.sleep(600)  # killed here, in the middle of the write
        yield b"never"

    store.write("killed/file.root", chunks())
    """
)


def test_a_killed_writer_leaves_no_visible_file(store: Store) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line == "writing\n", writer.stderr.read() if writer.stderr else ""
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert store.stat("killed/file.root") is None
    assert list(store.walk()) == []
    # The partial write stays out of sight, but can be found by the path it was for.
    [partial] = store.partials()
    assert partial.path.startswith(".partial/") and partial.size >= 4 << 20
    assert store.partials("killed/file.root") == [partial]
    assert store.partials("killed/other.root") == []
    for bad in ("../x", ".partial/../../x", "killed/file.root", ".partial/now-1"):
        with pytest.raises(UnsafePathError):
            store.discard_partial(bad)
    assert store.partials() == [partial]
    assert store.remove_partial(older_than_seconds=3600) == 0
    assert store.remove_partial(older_than_seconds=0) == 1
    assert store.remove_partial(older_than_seconds=0) == 0
    assert list(store.walk()) == []


UNSAFE = [
    "",
    "..",
    "../outside",
    "a/../../b",
    "a/./b",
    ".",
    "/etc/passwd",
    "a//b",
    "a/",
    "a\\..\\b",
    "a\x00b",
    "new\nline",
    ".partial/x",
    ".partial",
    "x" * 256,
    "a/" * 600,
]


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused(store: Store, path: str) -> None:
    with pytest.raises(UnsafePathError):
        store.stat(path)
    with pytest.raises(UnsafePathError):
        store.open(path)
    with pytest.raises(UnsafePathError):
        store.write(path, [b"x"])
    with pytest.raises(UnsafePathError):
        store.remove(path)
    with pytest.raises(UnsafePathError):
        store.local_path(path)
    if path:  # walk("") is the whole store
        with pytest.raises(UnsafePathError):
            list(store.walk(path))
    assert list(store.walk()) == []


def test_local_path(store: Store, sample: bytes) -> None:
    store.write("f.root", [sample])
    local = store.local_path("f.root")
    if isinstance(store, LocalStore):
        assert local is not None
        assert local.read_bytes() == sample
    else:
        assert local is None


def test_open_store_reopens_by_url(store: Store, sample: bytes) -> None:
    store.write("f.root", [sample])
    again = open_store(Settings(storage_url=store.url))
    try:
        assert type(again) is type(store)
        assert again.url == store.url
        assert read_all(again, "f.root") == sample
    finally:
        again.close()


def test_a_large_file_streams_in_constant_memory(store: Store, sample: bytes) -> None:
    size = 64 * MiB
    chunk = (sample * (CHUNK_SIZE // len(sample) + 1))[:CHUNK_SIZE]

    def chunks() -> Iterator[bytes]:
        for _ in range(size // CHUNK_SIZE):
            yield chunk

    expected = hashlib.sha256()
    adler = 1
    for piece in chunks():
        expected.update(piece)
        adler = zlib.adler32(piece, adler)

    tracemalloc.start()
    try:
        _, digests = store.write("big.root", chunks())
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_sha = hashlib.sha256()
        with store.open("big.root") as reader:
            for piece in read_chunks(reader):
                read_sha.update(piece)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digests.size == size
    assert digests.sha256 == f"sha256:{expected.hexdigest()}"
    assert digests.adler32 == f"adler32:{adler & 0xFFFFFFFF:08x}"
    assert read_sha.hexdigest() == expected.hexdigest()
    # A few chunks in flight, never the file: 64 MiB through at most 16 MiB of Python memory.
    assert write_peak < 16 * MiB, write_peak
    assert read_peak < 16 * MiB, read_peak


def test_a_partial_write_can_be_discarded_by_the_name_partials_gives(store: Store) -> None:
    def stalled() -> Iterator[bytes]:
        yield b"p" * 1000
        [partial] = store.partials("half/file.root")
        assert partial.size in (0, 1000)  # XRootD sends in pieces: maybe nothing yet
        store.discard_partial(partial.path)
        assert store.partials() == []
        yield b"q"

    # The writer whose partial write was removed under it fails, and nothing appears.
    with pytest.raises(OSError):
        store.write("half/file.root", stalled())
    assert store.stat("half/file.root") is None and store.partials() == []
