"""Every way files reach a record writes it through one conditional write, retried: a record
changed by someone else while the bytes streamed in is read again, never overwritten blindly
and never a failure."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openhep.catalog import Catalog, CatalogConflictError
from openhep.files import (
    FileService,
    add_file_index,
    expand_file_indices,
    index_json,
    publish_record,
)
from openhep.model import file_key, validate_record

PARENT = "12341"  # CODP's DoubleMuParked NanoAOD outreach record
EOS = "root://eospublic.cern.ch//"
SAMPLE = "uproot-Zmumu.root"


@pytest.fixture
def sample(anchors: Path) -> Path:
    return anchors / "cms-samples" / SAMPLE


def adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def interleave(
    monkeypatch: pytest.MonkeyPatch, catalog: Catalog, recid: str, change: Callable[[], None]
) -> list[str]:
    """Make another writer ``change`` record ``recid`` just before the first conditional
    write of it; the outcome of every conditional write, in order."""
    real_write = catalog.write
    outcomes: list[str] = []

    def write(*args: Any, **kwargs: Any) -> Any:
        conditional = recid in (kwargs.get("expect_versions") or {})
        if conditional and not outcomes:
            change()
        try:
            result = real_write(*args, **kwargs)
        except CatalogConflictError:
            if conditional:
                outcomes.append("conflict")
            raise
        if conditional:
            outcomes.append("written")
        return result

    monkeypatch.setattr(catalog, "write", write)
    return outcomes


def retitle(catalog: Catalog, recid: str, title: str) -> Callable[[], None]:
    def change() -> None:
        data = catalog.get(recid, include_embargoed=True).metadata
        catalog.write([validate_record({**data, "title": title})])

    return change


def test_adding_files_is_retried_on_the_record_changed_meanwhile(
    service: FileService, catalog: Catalog, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = catalog.get(PARENT).version
    outcomes = interleave(monkeypatch, catalog, PARENT, retitle(catalog, PARENT, "Retitled"))
    result = service.add(PARENT, [(SAMPLE, [sample.read_bytes()])])
    assert outcomes == ["conflict", "written"]
    after = catalog.get(PARENT)
    # Both changes are in: the other writer's title and the file, each a version.
    assert (after.version, result.version) == (before + 2, before + 2)
    assert after.metadata["title"] == "Retitled"
    assert SAMPLE in [file_key(f) for f in after.metadata["files"]]


def test_a_file_index_is_retried_on_the_record_changed_meanwhile(
    service: FileService,
    catalog: Catalog,
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "zmumu"
    folder.mkdir()
    (folder / SAMPLE).write_bytes(sample.read_bytes())
    outcomes = interleave(monkeypatch, catalog, PARENT, retitle(catalog, PARENT, "Retitled"))
    result = add_file_index(service, PARENT, folder)
    assert outcomes == ["conflict", "written"]
    after = catalog.get(PARENT)
    assert after.metadata["title"] == "Retitled"
    assert {"zmumu_file_index.json", "zmumu_file_index.txt"} <= {
        file_key(f) for f in after.metadata["files"]
    }
    assert [e["uri"] for e in catalog.file_index_entries(PARENT, result.key)] == [
        result.files[0].entry["uri"]
    ]


def test_publishing_is_retried_when_the_record_appeared_meanwhile(
    service: FileService, catalog: Catalog, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing writes the record as given: a version someone wrote meanwhile is replaced
    (it stays in the record's history), not a reason to fail."""
    recid = "990042"
    data = {
        "recid": recid,
        "title": "Zmumu sample",
        "experiment": ["CMS"],
        "publisher": "OpenHEP",
        "date_published": "2026",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
    }

    def create() -> None:
        catalog.write([validate_record({**data, "title": "Written meanwhile"})])

    outcomes = interleave(monkeypatch, catalog, recid, create)
    result = publish_record(service, data, [(SAMPLE, sample)])
    assert outcomes == ["conflict", "written"]
    assert (result.outcome, result.stored) == ("updated", 1)
    after = catalog.get(recid)
    assert after.version == 2
    assert after.metadata["title"] == "Zmumu sample"
    assert [file_key(f) for f in after.metadata["files"]] == [SAMPLE]


def test_expanding_reads_the_index_files_again_when_the_record_changed_meanwhile(
    service: FileService, catalog: Catalog, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample.read_bytes()
    listed_path = "eos/opendata/cms/Run2010B/files/" + SAMPLE
    service.store.write(listed_path, [data])
    listed = {
        "uri": EOS + listed_path,
        "size": len(data),
        "checksum": adler32(data),
        "type": "root",
    }
    content = index_json([{**listed, "type": "root"}])
    index_path = "eos/opendata/cms/Run2010B/file-indexes/Zmumu_file_index.json"
    service.store.write(index_path, [content])
    index = {
        "uri": EOS + index_path,
        "size": len(content),
        "checksum": adler32(content),
        "type": "index.json",
    }
    parent = catalog.get(PARENT).metadata
    catalog.write([validate_record({**parent, "files": [*parent["files"], index]})])
    assert service.fixity().ok  # registers the copied bytes the record names
    outcomes = interleave(monkeypatch, catalog, PARENT, retitle(catalog, PARENT, "Retitled"))
    (found,) = expand_file_indices(service, PARENT)
    assert outcomes == ["conflict", "written"]
    assert (found.key, found.number_files, found.problem) == ("Zmumu_file_index", 1, None)
    assert catalog.get(PARENT).metadata["title"] == "Retitled"
    assert [e["uri"] for e in catalog.file_index_entries(PARENT)] == [listed["uri"]]


def test_a_record_that_keeps_changing_is_given_up_on_and_left_as_the_others_wrote_it(
    service: FileService, catalog: Catalog, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = catalog.write
    titles = iter(range(100))

    def write(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("expect_versions"):
            retitle(catalog, PARENT, f"Changed {next(titles)}")()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(catalog, "write", write)
    with pytest.raises(CatalogConflictError):
        service.add(PARENT, [(SAMPLE, [sample.read_bytes()])])
    after = catalog.get(PARENT)
    assert SAMPLE not in [file_key(f) for f in after.metadata["files"]]
    assert list(catalog.pending) == []
    assert [o.path for o in service.store.walk() if o.path.endswith(SAMPLE)] == []
