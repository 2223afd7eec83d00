"""No orphan bytes after a crash (issue 11, item 6): ``kill -9`` of ``openhep files add`` and
``openhep files index`` while they run, then what is left, what ``openhep fixity`` says and
removes, and that the add runs again.

The processes are real ``openhep`` commands killed with SIGKILL at a stage seen from outside
(a file in its final place while the next one is written; a partial write growing): no hook
fakes the crash. The bytes are real CMS samples, repeated into files of about 100 MB. Every
test runs on a local store and on an XRootD server, the first on SQLite and PostgreSQL too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _services import instance as _instance
from _services.serve import serving
from openhep.storage import Store

pytestmark = pytest.mark.slow

PARENT = "12341"
RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
OWNED = "eos/opendata/openhep"
#: About 100 MB each, made by repeating a real sample (the trials of the issue: 200 MB).
BIG_BYTES = 100 << 20
POLL_SECONDS = 0.01
DEADLINE_SECONDS = 120.0


def repeated(source: Path, target: Path, size: int) -> Path:
    data = source.read_bytes()
    with target.open("wb") as out:
        for _ in range(size // len(data) + 1):
            out.write(data)
    return target


@pytest.fixture(scope="module")
def big_files(anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("big")
    samples = anchors / "cms-samples"
    return [
        repeated(samples / "nano_dimuon.root", folder / "dimuon_big.root", BIG_BYTES),
        repeated(samples / "uproot-HZZ.root", folder / "hzz_big.root", BIG_BYTES),
    ]


class Instance(_instance.Instance):
    """An ``openhep`` instance (home, catalogue, store) driven as a user would, from outside."""

    def __init__(self, home: Path, store: Store, database_url: str | None) -> None:
        super().__init__(home, database_url, store.url)
        self.store = store

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``openhep *args``; unless ``check`` is false, it must succeed."""
        return super().run(*args, check=check)

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.run("get", PARENT).stdout)
        return found

    def versions(self) -> list[int]:
        return [v["version"] for v in json.loads(self.run("versions", PARENT).stdout)]

    def fixity(self, *options: str) -> tuple[int, dict[str, Any]]:
        result = self.run("fixity", "--json", *options, check=False)
        assert result.returncode in (0, 3), result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return result.returncode, report

    def final_files(self) -> dict[str, int]:
        return {o.path: o.size for o in self.store.walk(OWNED)}

    def partials(self) -> dict[str, int]:
        return {o.path: o.size for o in self.store.partials()}

    def everything(self) -> dict[str, int]:
        """Every file in the store, partial writes included."""
        return {o.path: o.size for o in self.store.walk()} | self.partials()

    def named(self) -> set[str]:
        """The store paths under the owned prefix the record's versions list in ``files[]``."""
        prefix = "root://eospublic.cern.ch//"
        paths: set[str] = set()
        for version in self.versions():
            metadata = json.loads(self.run("get", PARENT, "--version", str(version)).stdout)
            paths.update(str(f["uri"]).removeprefix(prefix) for f in metadata.get("files", []))
        return {p for p in paths if p.startswith(OWNED)}


@pytest.fixture
def instance(tmp_path: Path, store: Store, catalog_url: str, codp_dir: Path) -> Instance:
    home = tmp_path / "instance"
    made = Instance(home, store, catalog_url)
    made.run("ingest", str(codp_dir / RECORDS_FILE))
    return made


def kill_when(process: subprocess.Popen[str], stage: Callable[[], bool], what: str) -> None:
    """SIGKILL ``process`` as soon as ``stage()`` holds (it must not have finished before)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while not stage():
            if process.poll() is not None:
                _, stderr = process.communicate()
                pytest.fail(f"the process ended before {what}: {process.returncode}\n{stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen within {DEADLINE_SECONDS:.0f} s")
            time.sleep(POLL_SECONDS)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def test_files_add_killed_with_a_file_in_its_final_place(
    instance: Instance, big_files: list[Path]
) -> None:
    before = instance.record()
    assert instance.versions() == [1]
    adding = instance.popen("files", "add", PARENT, *map(str, big_files))
    # The first file is in its final place; the second is being written.
    kill_when(adding, lambda: bool(instance.final_files()), "the first file landed")
    # The catalogue is as it was; the store holds the bytes the issue found (the first file in
    # its final place, and what was written of the second): no record names them.
    assert instance.record() == before and instance.versions() == [1]
    [(left, size)] = instance.final_files().items()
    assert size == big_files[0].stat().st_size
    assert left.endswith("/dimuon_big.root")
    # ``openhep fixity`` says so (its exit status too), lists them with their sizes and removes
    # them: the store holds nothing no record names.
    code, report = instance.fixity()
    assert (code, report["ok"]) == (3, False), report
    orphans = {o["path"]: o for o in report["orphans"]}
    assert left in orphans and orphans[left]["size"] == size
    assert all(o["removed"] and o["reason"] == "abandoned" for o in orphans.values())
    assert "openhep files add" in orphans[left]["writer"]
    assert report["orphan_bytes"] >= size
    assert instance.everything() == {}
    # Each partial write of the second file was one of them.
    assert all(p == left or p.startswith(".partial/") for p in orphans)
    code, report = instance.fixity()
    assert (code, report["ok"], report["orphans"]) == (0, True, [])
    # The same add runs again, whole.
    added = json.loads(instance.run("files", "add", PARENT, *map(str, big_files), "--json").stdout)
    assert added["version"] == 2 == instance.versions()[-1]
    code, report = instance.fixity()
    assert (code, report["checked"], report["orphans"]) == (0, 2, [])
    assert set(instance.everything()) == instance.named() == {f["path"] for f in added["files"]}


def test_files_add_killed_while_writing_is_cleaned_by_the_next_files_command(
    instance: Instance, big_files: list[Path], anchors: Path
) -> None:
    before = instance.record()
    adding = instance.popen("files", "add", PARENT, str(big_files[0]))
    kill_when(
        adding,
        lambda: any(size > 0 for size in instance.partials().values()),
        "the partial write began",
    )
    assert instance.record() == before
    assert instance.final_files() == {} and len(instance.partials()) == 1
    # The next files command starts by removing what the killed one left.
    small = anchors / "cms-samples" / "uproot-Zmumu.root"
    result = instance.run("files", "add", PARENT, str(small), "--json")
    assert "removed 1 orphaned file(s)" in result.stderr
    assert "openhep files add" in result.stderr
    assert instance.partials() == {}
    [added] = json.loads(result.stdout)["files"]
    assert instance.everything() == {added["path"]: small.stat().st_size}
    assert instance.fixity()[0] == 0


def test_files_index_killed_half_way_is_cleaned_when_the_server_starts(
    instance: Instance, anchors: Path, tmp_path: Path
) -> None:
    """Many files, stored one after the other: the process is killed with some of them in
    their final place and the index not written; ``openhep serve`` removes them at start."""
    folder = tmp_path / "Run2012_big"
    folder.mkdir()
    samples = anchors / "cms-samples"
    for i in range(8):
        source = samples / ("nano_dimuon.root" if i % 2 else "uproot-HZZ.root")
        repeated(source, folder / f"part_{i}.root", BIG_BYTES // 4)
    before = instance.record()
    indexing = instance.popen("files", "index", PARENT, "--from-dir", str(folder))
    kill_when(indexing, lambda: len(instance.final_files()) >= 2, "two files landed")
    assert instance.record() == before
    left = instance.everything()
    assert 2 <= len(instance.final_files()) < 8
    # fixity --keep-orphans lists them with their sizes and says so by its exit status, but
    # leaves them.
    code, report = instance.fixity("--keep-orphans")
    assert (code, report["ok"]) == (3, False)
    assert {o["path"]: o["size"] for o in report["orphans"]} == left
    assert not any(o["removed"] for o in report["orphans"])
    assert all("openhep files index" in o["writer"] for o in report["orphans"])
    assert instance.everything() == left
    with serving(instance.home, tmp_path / "serve.log", env=instance.env) as _url:
        pass
    log = (tmp_path / "serve.log").read_text()
    assert instance.everything() == {}, log
    assert all(path in log for path in left)
    assert instance.record() == before
    # The index is built again, whole, and nothing but what it names is stored.
    added = json.loads(
        instance.run("files", "index", PARENT, "--from-dir", str(folder), "--json").stdout
    )
    assert added["number_files"] == 8
    stored = {f["path"] for f in [*added["files"], *added["index_files"]]}
    assert set(instance.everything()) == stored
    assert {f["path"] for f in added["index_files"]} == instance.named()
    assert instance.fixity()[0] == 0
