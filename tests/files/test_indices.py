"""File indices built from a directory: stored bytes, index files, catalogue entries, atomicity.

Runs over a real catalogue (SQLite and PostgreSQL) and a real store (local and XRootD); the
bytes are real CMS samples from the repository's data/, the record is CODP's 12341.
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

from openhep.catalog import Catalog, CatalogConflictError, RecordNotFoundError
from openhep.cli import app
from openhep.files import (
    FileIndexError,
    FileService,
    RemoteFile,
    add_file_index,
    expand_file_indices,
    index_json,
    parse_index_json,
)
from openhep.model import file_key, validate_record
from openhep.storage import FileTooLargeError, LocalStore, Store, UnsafePathError

PARENT = "12341"


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


# -- expanding index files held here (ingested with their bytes, not built here) ---------------

EOS = "root://eospublic.cern.ch//"


def put(store: Store, path: str, data: bytes) -> dict[str, Any]:
    store.write(path, [data])
    return {"uri": EOS + path, "size": len(data), "checksum": adler32(data)}


def test_index_files_held_here_are_expanded(
    service: FileService, catalog: Catalog, anchors: Path
) -> None:
    # As if CODP's files had been copied into the store and the record ingested as CODP has it.
    data = (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
    listed = [put(service.store, "eos/opendata/cms/Run2010B/files/uproot-Zmumu.root", data)]
    index = put(
        service.store,
        "eos/opendata/cms/Run2010B/file-indexes/Zmumu_file_index.json",
        index_json([{**listed[0], "type": "root"}]),
    )
    broken = put(
        service.store, "eos/opendata/cms/Run2010B/file-indexes/broken_file_index.json", b"{"
    )
    remote = {
        "uri": EOS + "eos/opendata/cms/elsewhere/far_file_index.json",
        "size": 3,
        "checksum": "adler32:00000001",
    }
    parent = catalog.get(PARENT).metadata
    files = [
        {**index, "type": "index.json"},
        {**broken, "type": "index.json"},
        {**remote, "type": "index.json"},
    ]
    catalog.write([validate_record({**parent, "files": parent["files"] + files})])
    report = service.fixity()  # registers the copied files the record names
    assert report.ok, report.as_dict()
    version = catalog.get(PARENT).version

    found = {i.key: i for i in expand_file_indices(service, PARENT)}
    assert (found["Zmumu_file_index"].number_files, found["Zmumu_file_index"].problem) == (1, None)
    assert "broken_file_index.json: not JSON" in str(found["broken_file_index"].problem)
    assert "not held here" in str(found["far_file_index"].problem)
    assert catalog.get(PARENT).version == version  # the record itself is unchanged
    entries = catalog.file_index_entries(PARENT)
    assert [(e["index_key"], e["uri"], e["size"], e["checksum"]) for e in entries] == [
        ("Zmumu_file_index", listed[0]["uri"], len(data), adler32(data))
    ]


def test_an_index_whose_bytes_are_not_the_records_is_not_expanded(
    service: FileService, catalog: Catalog
) -> None:
    path = "eos/opendata/cms/x/file-indexes/x_file_index.json"
    index = put(service.store, path, b"[]")
    parent = catalog.get(PARENT).metadata
    wrong = {**index, "checksum": "adler32:00000001", "type": "index.json"}
    catalog.write([validate_record({**parent, "files": [wrong]})])
    service.fixity()
    (found,) = expand_file_indices(service, PARENT)
    assert found.problem is not None
    assert "not the ones the record names" in found.problem or "fixity" in found.problem
    assert catalog.file_index_entries(PARENT) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"uri": 1}', "expected a JSON list"),
        (b"[1]", "[0]: expected an object"),
        (b'[{"uri": "/etc/passwd", "size": 1, "checksum": "adler32:1"}]', "[0].uri"),
        (b'[{"uri": "root://h//f", "size": -1, "checksum": "adler32:1"}]', "[0].size"),
        (b'[{"uri": "root://h//f", "size": true, "checksum": "adler32:1"}]', "[0].size"),
        (b'[{"uri": "root://h//f", "size": 1, "checksum": "md5:1"}]', "[0].checksum"),
    ],
)
def test_malformed_index_json_says_where(content: bytes, message: str) -> None:
    with pytest.raises(FileIndexError) as caught:
        parse_index_json("x_file_index.json", content)
    assert str(caught.value).startswith("x_file_index.json")
    assert message in str(caught.value)


def test_parsed_index_json_is_canonical() -> None:
    content = (
        b'[{"uri": "root://h//f.root", "size": 5, "checksum": "adler32:5f4f3b7", "type": "root"}]'
    )
    assert parse_index_json("x", content) == [
        {"uri": "root://h//f.root", "size": 5, "checksum": "adler32:05f4f3b7"}
    ]


def test_files_index_expand_command(
    tmp_path: Path, codp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENHEP_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENHEP_STORAGE_URL", raising=False)
    monkeypatch.setenv("OPENHEP_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert (
        runner.invoke(app, ["ingest", str(codp_dir / "cms-primary-datasets.json")]).exit_code == 0
    )
    # CODP's record 1: six .json indices, all on CERN's EOS, none held here.
    result = runner.invoke(app, ["files", "index", "1", "--expand", "--json"])
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    assert len(printed["indices"]) == 6
    assert all("not held here" in i["problem"] for i in printed["indices"])
    both = runner.invoke(app, ["files", "index", "1", "--expand", "--from-dir", str(tmp_path)])
    assert both.exit_code == 2
    assert runner.invoke(app, ["files", "index", "1"]).exit_code == 2


def test_the_files_a_replaced_index_listed_stay_served(
    service: FileService, catalog: Catalog, sample_dir: Path
) -> None:
    """An older version names its file index, whose files stay served after the index of the
    same name is replaced by one listing others (issue 11, item 7)."""
    first = add_file_index(service, PARENT, sample_dir, name="samples")
    (sample_dir / "README.txt").unlink()
    again = add_file_index(service, PARENT, sample_dir, name="samples")
    dropped = [f for f in first.files if f.entry["key"] == "README.txt"]
    assert len(dropped) == 1
    uri = dropped[0].entry["uri"]
    assert uri not in [e["uri"] for e in catalog.file_index_entries(PARENT)]
    assert catalog.uri_is_public(uri)
    served = service.public_file(dropped[0].path)
    assert not isinstance(served, RemoteFile) and served.checksum == dropped[0].entry["checksum"]
    # Every file either index lists, and both indices' files, are kept: no orphans.
    report = service.fixity()
    assert report.ok, report.as_dict()
    kept = {o.path for o in service.store.walk()}
    assert {f.path for f in [*first.files, *first.index_files, *again.files]} <= kept
