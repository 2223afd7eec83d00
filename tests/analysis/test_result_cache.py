"""The result cache: keys by content, atomic writes, a bounded directory."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from openhep.analysis import (
    ANALYSIS_FORMAT_VERSION,
    HistogramRequest,
    ResultCache,
    cache_key,
)

REQUEST = HistogramRequest("MET_pt", 10, (0, 100))
SUMS = ["adler32:0a1b2c3d", "adler32:11111111"]


def test_key_is_the_sha256_of_the_canonical_request_and_checksums() -> None:
    import hashlib

    key = cache_key(SUMS, REQUEST)
    document = {
        "checksums": sorted(SUMS),
        "format": ANALYSIS_FORMAT_VERSION,
        "request": REQUEST.to_json(),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert key == hashlib.sha256(text.encode()).hexdigest()
    # The order of the files does not matter; anything else in the request does.
    assert cache_key(list(reversed(SUMS)), REQUEST) == key
    same = HistogramRequest("MET_pt", 10, (0.0, 100.0), selection="", tree="Events")
    assert cache_key(SUMS, same) == key
    others = [
        HistogramRequest("MET_pt", 11, (0, 100)),
        HistogramRequest("MET_pt", 10, (0, 101)),
        HistogramRequest("MET_pt ", 10, (0, 100)),
        HistogramRequest("MET_pt", 10, (0, 100), selection="nMuon > 0"),
        HistogramRequest("MET_pt", 10, (0, 100), tree="Other"),
        HistogramRequest("MET_pt", 10, (0, 100), validated_runs={"1": [[1, 2]]}),
    ]
    keys = {cache_key(SUMS, r) for r in others} | {cache_key(SUMS[:1], REQUEST), key}
    assert len(keys) == len(others) + 2
    with pytest.raises(TypeError):
        cache_key("adler32:0a1b2c3d", REQUEST)


def test_put_then_get(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    key = cache_key(SUMS, REQUEST)
    assert cache.get(key) is None
    assert cache.put(key, {"counts": [1.0, 2.0], "seconds": 0.5})
    assert cache.get(key) == {"counts": [1.0, 2.0], "seconds": 0.5}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"{key}.json"]


@pytest.mark.parametrize("key", ["", "../../etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/x"])
def test_keys_are_checked(tmp_path: Path, key: str) -> None:
    cache = ResultCache(tmp_path)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        cache.get(key)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        cache.put(key, {})


def test_a_damaged_entry_is_a_miss_and_is_dropped(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = cache_key(SUMS, REQUEST)
    (tmp_path / f"{key}.json").write_bytes(b'{"counts": [1, 2')
    assert cache.get(key) is None
    assert not (tmp_path / f"{key}.json").exists()


def test_size_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    value = {"counts": [0.0] * 100}
    one = len(json.dumps(value, separators=(",", ":")))
    cache = ResultCache(tmp_path, max_bytes=3 * one)
    keys = [cache_key([f"adler32:{i:08x}"], REQUEST) for i in range(5)]
    for i, key in enumerate(keys[:3]):
        cache.put(key, value)
        os.utime(tmp_path / f"{key}.json", (1000 + i, 1000 + i))
    assert cache.get(keys[0]) == value  # used: now the most recent
    cache.put(keys[3], value)
    assert cache.get(keys[1]) is None  # the least recently used went
    assert cache.get(keys[0]) == value and cache.get(keys[2]) == value
    assert cache.get(keys[3]) == value
    assert cache.size() <= 3 * one
    assert not cache.put(keys[4], {"counts": [0.0] * 1000})  # alone larger than the bound
    cache.clear()
    assert cache.size() == 0


def test_concurrent_writers_never_leave_half_an_answer(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = cache_key(SUMS, REQUEST)
    value = {"counts": list(range(5000))}
    seen: list[object] = []

    def write() -> None:
        for _ in range(20):
            cache.put(key, value)

    def read() -> None:
        for _ in range(200):
            got = cache.get(key)
            if got is not None:
                seen.append(got)

    threads = [threading.Thread(target=write) for _ in range(3)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v == value for v in seen)
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.json"]  # no temporary left
    assert cache.get(key) == value


def test_an_unwritable_directory_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ResultCache(blocker / "cache")
    key = cache_key(SUMS, REQUEST)
    assert cache.put(key, {"counts": []}) is False
    assert cache.get(key) is None
