"""The local backend: its directory, symlinks that lead out of it, and choosing it by setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openhep.settings import Settings
from openhep.storage import LocalStore, UnsafePathError, open_store


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_files_land_in_the_directory(local: LocalStore, tmp_path: Path) -> None:
    local.write("eos/opendata/a.txt", [b"abc"])
    assert (tmp_path / "store" / "eos" / "opendata" / "a.txt").read_bytes() == b"abc"
    assert local.url == (tmp_path / "store").resolve().as_uri()
    # The partial area is empty after a write and never listed.
    assert list((tmp_path / "store" / ".partial").iterdir()) == []


def test_symlinks_out_of_the_store_are_refused(local: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "store"
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    os.symlink("../outside/secret.txt", root / "relative.txt")
    for path in ("link.txt", "linkdir/secret.txt", "relative.txt", "linkdir/new.txt"):
        with pytest.raises(UnsafePathError, match="out of the store"):
            local.stat(path)
        with pytest.raises(UnsafePathError):
            local.open(path)
        with pytest.raises(UnsafePathError):
            local.write(path, [b"overwrite"])
        with pytest.raises(UnsafePathError):
            local.remove(path)
        with pytest.raises(UnsafePathError):
            local.local_path(path)
    with pytest.raises(UnsafePathError):
        list(local.walk("linkdir"))
    assert list(local.walk()) == []
    assert (outside / "secret.txt").read_text() == "secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_symlinks_into_the_partial_area_are_refused(local: LocalStore, tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / ".partial").mkdir()
    (root / ".partial" / "half").write_bytes(b"half")
    os.symlink(root / ".partial", root / "p")
    with pytest.raises(UnsafePathError):
        local.open("p/half")
    assert list(local.walk()) == []


def test_symlinks_inside_the_store_are_followed(local: LocalStore, tmp_path: Path) -> None:
    local.write("real/file.txt", [b"data"])
    os.symlink("real/file.txt", tmp_path / "store" / "alias.txt")
    with local.open("alias.txt") as reader:
        assert reader.read() == b"data"
    assert local.stat("alias.txt") is not None
    assert sorted(obj.path for obj in local.walk()) == ["alias.txt", "real/file.txt"]


def test_open_store_chooses_the_backend(tmp_path: Path) -> None:
    default = open_store(Settings(home=tmp_path / "home"))
    assert isinstance(default, LocalStore)
    assert default.root == tmp_path / "home" / "files"
    by_path = open_store(Settings(storage_url=str(tmp_path / "elsewhere")))
    assert isinstance(by_path, LocalStore) and by_path.root == tmp_path / "elsewhere"
    by_url = open_store(Settings(storage_url=(tmp_path / "third").as_uri()))
    assert isinstance(by_url, LocalStore) and by_url.root == tmp_path / "third"
    with pytest.raises(ValueError, match="OPENHEP_STORAGE_URL"):
        open_store(Settings(storage_url="s3://bucket/x"))
