"""File indices built from a directory: stored bytes, index files, catalogue entries, atomicity.

Runs over a real catalogue (SQLite and PostgreSQL) and a real store (local and XRootD); the
bytes are real CMS samples from ../shared/anchors, the record is CODP's 12341.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openhep.catalog import Catalog, CatalogConflictError, RecordNotFoundError, file_key
from openhep.cli import app
from openhep.model import validate_record
from openhep.storage import (
    FileIndexError,
    FileService,
    FileTooLargeError,
    LocalStore,
    Store,
    UnsafePathError,
    add_file_index,
)

PARENT = "12341"


@pytest.fixture
def catalog(catalog_url: str, codp_dir: Path) -> Iterator[Catalog]:
    opened = Catalog.open(url=catalog_url)
    records = json.loads(
        (codp_dir / "cms-derived-nanoaod-outreach-DoubleMuParked.json").read_text()
    )
    opened.write([validate_record(r) for r in records])
    yield opened
    opened.close()


@pytest.fixture
def service(catalog: Catalog, store: Store) -> FileService:
    return FileService(catalog, store)


@pytest.fixture
def sample_dir(anchors: Path, tmp_path: Path) -> Path:
    """Real sample files, nested: ``root/…`` and ``ispy/…`` plus one at the top."""
    folder = tmp_path / "Run2012_samples"
    (folder / "root").mkdir(parents=True)
    (folder / "ispy").mkdir()
    for name in (
        "uproot-Zmumu.root",
        "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
    ):
        shutil.copy(anchors / "cms-samples" / name, folder / "root" / name)
    shutil.copy(anchors / "ispy" / "Hto4l_120-130GeV.ig", folder / "ispy" / "Hto4l_120-130GeV.ig")
    (folder / "README.txt").write_text("Three real CMS samples.\n")
    return folder


def adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def relative_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def stored_paths(store: Store) -> list[str]:
    return [o.path for o in store.walk()]


def read(store: Store, path: str) -> bytes:
    with store.open(path) as reader:
        return reader.read()


def test_a_directory_becomes_a_file_index_of_the_record(
    service: FileService, catalog: Catalog, sample_dir: Path
) -> None:
    before = catalog.get(PARENT)
    result = add_file_index(service, PARENT, sample_dir, name="samples")
    after = catalog.get(PARENT)
    assert (result.version, after.version) == (before.version + 1, before.version + 1)
    assert result.key == "samples_file_index"

    # Only the two index files join the record's files, typed as CODP types them.
    added = after.metadata["files"][len(before.metadata["files"]) :]
    assert [(file_key(f), f["type"]) for f in added] == [
        ("samples_file_index.json", "index.json"),
        ("samples_file_index.txt", "index.txt"),
    ]
    assert after.metadata["files"][: len(before.metadata["files"])] == before.metadata["files"]

    # The listed files: sorted, relative paths kept, true sizes and checksums.
    relatives = relative_files(sample_dir)
    assert len(result.files) == len(relatives) == 4
    for listed, relative in zip(result.files, relatives, strict=True):
        data = (sample_dir / relative).read_bytes()
        assert listed.path.endswith(f"/files/{relative}")
        assert (listed.entry["size"], listed.entry["checksum"]) == (len(data), adler32(data))
        assert listed.entry["uri"] == "root://eospublic.cern.ch//" + listed.path
        assert read(service.store, listed.path) == data

    # The index files hold what CODP's do, and their own entries match their bytes.
    by_type = {f.entry["type"]: f for f in result.index_files}
    as_json = json.loads(read(service.store, by_type["index.json"].path))
    assert [(e["uri"], e["size"], e["checksum"]) for e in as_json] == [
        (f.entry["uri"], f.entry["size"], f.entry["checksum"]) for f in result.files
    ]
    assert {e.get("type") for e in as_json} == {"root", "ig", "txt"}
    as_txt = read(service.store, by_type["index.txt"].path).decode()
    assert as_txt.splitlines() == [f.entry["uri"] for f in result.files]
    for index_file in result.index_files:
        data = read(service.store, index_file.path)
        assert index_file.entry["checksum"] == adler32(data)
        assert index_file.entry["size"] == len(data)

    # The catalogue lists the files under the index's key, and every byte is served.
    entries = catalog.file_index_entries(PARENT, "samples_file_index")
    assert [(e["uri"], e["size"], e["checksum"]) for e in entries] == [
        (f.entry["uri"], f.entry["size"], f.entry["checksum"]) for f in result.files
    ]
    uris = [f.entry["uri"] for f in (*result.files, *result.index_files)]
    assert service.availability(uris) == ["online"] * len(uris)


def test_the_default_name_is_the_directorys_and_a_second_index_is_added_beside_it(
    service: FileService, catalog: Catalog, sample_dir: Path
) -> None:
    first = add_file_index(service, PARENT, sample_dir)
    assert first.key == "Run2012_samples_file_index"
    # A name already ending in _file_index is not doubled.
    second = add_file_index(service, PARENT, sample_dir / "root", name="muons_file_index")
    assert second.key == "muons_file_index"
    keys = [file_key(f) for f in catalog.get(PARENT).metadata["files"]]
    assert keys[-4:] == [
        "Run2012_samples_file_index.json",
        "Run2012_samples_file_index.txt",
        "muons_file_index.json",
        "muons_file_index.txt",
    ]
    assert len(catalog.file_index_entries(PARENT, first.key)) == 4
    assert len(catalog.file_index_entries(PARENT, second.key)) == 2


def test_an_index_of_the_same_name_is_replaced(
    service: FileService, catalog: Catalog, sample_dir: Path
) -> None:
    add_file_index(service, PARENT, sample_dir, name="samples")
    (sample_dir / "README.txt").unlink()
    again = add_file_index(service, PARENT, sample_dir, name="samples")
    files = catalog.get(PARENT).metadata["files"]
    assert [file_key(f) for f in files].count("samples_file_index.json") == 1
    entries = catalog.file_index_entries(PARENT, "samples_file_index")
    assert [e["uri"] for e in entries] == [f.entry["uri"] for f in again.files]
    assert len(entries) == 3


def test_failures_store_nothing_and_change_nothing(
    catalog: Catalog, store: Store, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = catalog.get(PARENT)

    def unchanged() -> None:
        assert catalog.get(PARENT).version == before.version
        assert catalog.file_index_entries(PARENT) == []
        assert stored_paths(store) == []

    # A file over the upload bound, after others were stored.
    small = FileService(catalog, store, max_upload_bytes=200_000)
    with pytest.raises(FileTooLargeError):
        add_file_index(small, PARENT, sample_dir, name="samples")
    unchanged()

    # The catalogue write fails after every byte (index files too) was stored.
    service = FileService(catalog, store)
    real_write = catalog.write

    def failing_write(*args: Any, **kwargs: Any) -> Any:
        assert kwargs["file_index_entries"]
        raise CatalogConflictError("record 12341 changed meanwhile")

    monkeypatch.setattr(catalog, "write", failing_write)
    with pytest.raises(CatalogConflictError):
        add_file_index(service, PARENT, sample_dir, name="samples")
    monkeypatch.setattr(catalog, "write", real_write)
    unchanged()

    # An unknown record, an empty directory, a name no URL should carry.
    with pytest.raises(RecordNotFoundError):
        add_file_index(service, "999999", sample_dir)
    empty = sample_dir.parent / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(FileIndexError, match="holds no files"):
        add_file_index(service, PARENT, empty)
    for name in ("../x", "a/b", "", "x y", ".hidden", "é"):
        with pytest.raises(FileIndexError, match="index name"):
            add_file_index(service, PARENT, sample_dir, name=name)
    with pytest.raises(FileIndexError, match="not a directory"):
        add_file_index(service, PARENT, sample_dir / "README.txt")
    unchanged()


def test_the_catalogue_write_is_atomic_with_the_record(catalog: Catalog) -> None:
    stored = catalog.get(PARENT)
    entry = {
        "uri": "root://eospublic.cern.ch//eos/opendata/x/a.root",
        "size": 1,
        "checksum": "adler32:00000001",
    }
    record = validate_record({**stored.metadata, "title": "changed"})
    with pytest.raises(CatalogConflictError):
        catalog.write(
            [record],
            expect_versions={PARENT: stored.version + 7},
            file_index_entries={PARENT: {"x_file_index": [entry]}},
        )
    assert catalog.file_index_entries(PARENT) == []
    assert catalog.get(PARENT).metadata == stored.metadata
    catalog.write([record], file_index_entries={PARENT: {"x_file_index": [entry, entry]}})
    assert [e["position"] for e in catalog.file_index_entries(PARENT, "x_file_index")] == [0, 1]
    # Indices not named keep their entries; a named one is replaced whole.
    catalog.write([record], file_index_entries={PARENT: {"y_file_index": [entry]}})
    catalog.write([record], file_index_entries={PARENT: {"x_file_index": [entry]}})
    assert len(catalog.file_index_entries(PARENT, "x_file_index")) == 1
    assert len(catalog.file_index_entries(PARENT, "y_file_index")) == 1


# -- unsafe input: the local store only (the walk of DIR is the same for every store) ---------


@pytest.fixture
def local_service(tmp_path: Path, codp_dir: Path) -> Iterator[FileService]:
    catalog = Catalog.open(url=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    records = json.loads(
        (codp_dir / "cms-derived-nanoaod-outreach-DoubleMuParked.json").read_text()
    )
    catalog.write([validate_record(r) for r in records])
    yield FileService(catalog, LocalStore(tmp_path / "store"))
    catalog.close()


def test_symlinks_leading_outside_are_refused(
    local_service: FileService, sample_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    for link, target in (("leak.txt", outside / "secret.txt"), ("leakdir", outside)):
        os.symlink(target, sample_dir / link)
        with pytest.raises(UnsafePathError, match="outside"):
            add_file_index(local_service, PARENT, sample_dir)
        (sample_dir / link).unlink()
        assert stored_paths(local_service.store) == []
    os.symlink("../../outside/secret.txt", sample_dir / "root" / "relative.txt")
    with pytest.raises(UnsafePathError, match="outside"):
        add_file_index(local_service, PARENT, sample_dir)
    assert stored_paths(local_service.store) == []
    assert local_service.catalog.file_index_entries(PARENT) == []


def test_symlinks_inside_are_followed_for_files_only(
    local_service: FileService, sample_dir: Path
) -> None:
    os.symlink(sample_dir / "README.txt", sample_dir / "ispy" / "README-link.txt")
    os.symlink(sample_dir / "root", sample_dir / "root-again")
    os.mkfifo(sample_dir / "pipe")
    result = add_file_index(local_service, PARENT, sample_dir)
    relatives = [f.path.split("/files/", 1)[1] for f in result.files]
    assert relatives == [
        "README.txt",
        "ispy/Hto4l_120-130GeV.ig",
        "ispy/README-link.txt",
        "root/Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
        "root/uproot-Zmumu.root",
    ]
    assert read(local_service.store, result.files[2].path) == b"Three real CMS samples.\n"


def test_names_no_store_can_hold_are_refused(local_service: FileService, sample_dir: Path) -> None:
    (sample_dir / "bad\x01name.txt").write_text("x")
    with pytest.raises(UnsafePathError):
        add_file_index(local_service, PARENT, sample_dir)
    assert stored_paths(local_service.store) == []


# -- the command -------------------------------------------------------------------------------


def test_files_index_command(
    tmp_path: Path, codp_dir: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENHEP_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENHEP_STORAGE_URL", raising=False)
    monkeypatch.setenv("OPENHEP_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    source = codp_dir / "cms-derived-nanoaod-outreach-DoubleMuParked.json"
    assert runner.invoke(app, ["ingest", str(source)]).exit_code == 0
    result = runner.invoke(
        app, ["files", "index", PARENT, "--from-dir", str(sample_dir), "--name", "s", "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["key"], printed["number_files"]) == ("s_file_index", 4)
    assert printed["size"] == sum(
        (sample_dir / r).stat().st_size for r in relative_files(sample_dir)
    )
    text = runner.invoke(app, ["files", "index", PARENT, "--from-dir", str(sample_dir)])
    assert text.exit_code == 0
    assert "added file index Run2012_samples_file_index to record 12341" in text.stderr
    bad = runner.invoke(
        app, ["files", "index", PARENT, "--from-dir", str(sample_dir), "--name", "a b"]
    )
    assert bad.exit_code == 2
    assert "nothing was added: index name 'a b'" in bad.stderr
    missing = runner.invoke(app, ["files", "index", "999999", "--from-dir", str(sample_dir)])
    assert missing.exit_code == 1
    assert "ingest the record first" in missing.stderr
