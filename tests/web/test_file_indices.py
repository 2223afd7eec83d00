"""``_file_indices`` in the API and ``/record/<recid>/file_index/<key>``, over a real instance.

The instance holds CODP's record 12341 with a file index built from real CMS samples, CODP's
record 1 (index files whose contents are on CERN's EOS, not here) and an embargoed record with
an index of its own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from openhep.catalog import Catalog
from openhep.files import FileIndexResult, FileService, add_file_index
from openhep.model import validate_record
from openhep.settings import Settings
from openhep.web import create_app

PARENT = "12341"
EMBARGOED = "990500"


def codp_record(codp_dir: Path, name: str, recid: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = json.loads((codp_dir / name).read_text())
    return next(r for r in records if r["recid"] == recid)


@pytest.fixture(scope="module")
def instance(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict[str, FileIndexResult]]]:
    home = tmp_path_factory.mktemp("file-indices")
    folder = home.parent / f"{home.name}-samples" / "samples"
    (folder / "ispy").mkdir(parents=True)
    for name in ("uproot-Zmumu.root", "nano_dimuon.root"):
        shutil.copy(anchors / "cms-samples" / name, folder / name)
    shutil.copy(anchors / "ispy" / "Hto4l_120-130GeV.ig", folder / "ispy" / "Hto4l_120-130GeV.ig")
    settings = Settings(home=home)
    parent = codp_record(codp_dir, "cms-derived-nanoaod-outreach-DoubleMuParked.json", PARENT)
    first = codp_record(codp_dir, "cms-primary-datasets.json", "1")
    embargoed = {
        "recid": EMBARGOED,
        "title": "Not public until 2999",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": "2026",
        "release_date": "2999-01-01",
        "publisher": "OpenHEP",
    }
    catalog = Catalog.open(settings)
    service = FileService.open(settings, catalog)
    try:
        catalog.write([validate_record(r) for r in (parent, first, embargoed)])
        built = {
            "samples": add_file_index(service, PARENT, folder, description="Real CMS samples"),
            "ispy": add_file_index(service, PARENT, folder / "ispy", name="ispy.v1"),
            "embargoed": add_file_index(service, EMBARGOED, folder),
        }
    finally:
        service.close()
        catalog.close()
    yield settings, built


@pytest.fixture(scope="module")
def app_client(
    instance: tuple[Settings, dict[str, FileIndexResult]],
) -> Iterator[TestClient]:
    with TestClient(create_app(instance[0])) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def built(instance: tuple[Settings, dict[str, FileIndexResult]]) -> dict[str, FileIndexResult]:
    return instance[1]


def listed(result: FileIndexResult) -> list[dict[str, Any]]:
    return [
        {
            "checksum": f.entry["checksum"],
            "key": f.entry["key"],
            "size": f.entry["size"],
            "uri": f.entry["uri"],
        }
        for f in result.files
    ]


def test_the_api_expands_the_records_indices(
    app_client: TestClient, built: dict[str, FileIndexResult]
) -> None:
    metadata = app_client.get(f"/api/records/{PARENT}").json()["metadata"]
    samples, ispy = built["samples"], built["ispy"]
    assert metadata["_file_indices"] == [
        {
            "description": "Real CMS samples",
            "files": listed(samples),
            "key": "samples_file_index",
            "number_files": 3,
            "size": sum(f.entry["size"] for f in samples.files),
        },
        {
            "description": "ispy.v1 file index (1 file) for access to data",
            "files": listed(ispy),
            "key": "ispy.v1_file_index",
            "number_files": 1,
            "size": ispy.files[0].entry["size"],
        },
    ]
    assert [f["key"] for f in metadata["_file_indices"][0]["files"]] == [
        "Hto4l_120-130GeV.ig",
        "nano_dimuon.root",
        "uproot-Zmumu.root",
    ]
    # The index files themselves are files of the record, typed as CODP types them.
    types = {f["key"]: f.get("type") for f in metadata["files"]}
    assert types["samples_file_index.json"] == "index.json"
    assert types["ispy.v1_file_index.txt"] == "index.txt"
    # skip_files leaves indices out with the files.
    skipped = app_client.get(f"/api/records/{PARENT}", params={"skip_files": 1}).json()
    assert "_file_indices" not in skipped["metadata"]


@pytest.mark.parametrize("key", ["samples_file_index.json", "samples_file_index"])
def test_the_json_listing(
    app_client: TestClient, built: dict[str, FileIndexResult], key: str
) -> None:
    response = app_client.get(f"/record/{PARENT}/file_index/{key}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == listed(built["samples"])


def test_the_txt_listing(app_client: TestClient, built: dict[str, FileIndexResult]) -> None:
    response = app_client.get(f"/record/{PARENT}/file_index/ispy.v1_file_index.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == built["ispy"].files[0].entry["uri"] + "\n"
    both = app_client.get(f"/record/{PARENT}/file_index/samples_file_index.txt").text
    assert both.splitlines() == [f["uri"] for f in listed(built["samples"])]


@pytest.mark.parametrize(
    ("recid", "key"),
    [
        (PARENT, "nope_file_index.json"),
        (PARENT, "samples_file_index.csv"),
        (PARENT, "samples"),
        (EMBARGOED, "samples_file_index.json"),
        ("999999", "samples_file_index.json"),
        # CODP's record 1 lists index files whose contents are on CERN's EOS, not here.
        ("1", "CMS_Run2010B_BTau_AOD_Apr21ReReco-v1_0000_file_index.json"),
        ("1", "CMS_Run2010B_BTau_AOD_Apr21ReReco-v1_0000_file_index"),
    ],
)
def test_unknown_indices_are_404_json(app_client: TestClient, recid: str, key: str) -> None:
    response = app_client.get(f"/record/{recid}/file_index/{key}")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert recid in body["message"]


@pytest.mark.parametrize(
    "path", ["/record/12341/file_index/" + "x" * 300, "/record/x/file_index/a"]
)
def test_malformed_requests_are_4xx_json(app_client: TestClient, path: str) -> None:
    response = app_client.get(path)
    assert 400 <= response.status_code < 500
    assert response.json()["status"] == response.status_code


def test_an_embargoed_record_shows_nothing(app_client: TestClient) -> None:
    assert app_client.get(f"/api/records/{EMBARGOED}").status_code == 404


def test_a_record_with_unexpanded_indices_has_no_file_indices(app_client: TestClient) -> None:
    metadata = app_client.get("/api/records/1").json()["metadata"]
    assert "_file_indices" not in metadata
    assert all(f["type"].startswith("index") for f in metadata["files"])


def test_indices_the_record_no_longer_lists_are_not_shown(
    codp_dir: Path, tmp_path: Path, anchors: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(anchors / "cms-samples" / "uproot-HZZ.root", folder / "uproot-HZZ.root")
    parent = codp_record(codp_dir, "cms-derived-nanoaod-outreach-DoubleMuParked.json", PARENT)
    with Catalog.open(settings) as catalog:
        catalog.write([validate_record(parent)])
        service = FileService.open(settings, catalog)
        add_file_index(service, PARENT, folder)
        service.close()
        with TestClient(create_app(settings)) as client:
            assert (
                len(client.get(f"/api/records/{PARENT}").json()["metadata"]["_file_indices"]) == 1
            )
            # Re-ingesting CODP's JSON (without the index files) drops the index from view.
            catalog.write([validate_record({**parent, "title": parent["title"] + " (again)"})])
            assert "_file_indices" not in client.get(f"/api/records/{PARENT}").json()["metadata"]
            response = client.get(f"/record/{PARENT}/file_index/one_file_index.json")
            assert response.status_code == 404


def test_an_older_version_is_shown_without_the_current_index_contents(
    codp_dir: Path, anchors: Path, tmp_path: Path
) -> None:
    """Only the current version's index contents are held: version 2's index ``run``, since
    rebuilt from other files, is listed as a file but its (former) contents are not shown."""
    settings = Settings(home=tmp_path / "home")
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, name in ((first, "uproot-Zmumu.root"), (second, "nano_dimuon.root")):
        folder.mkdir()
        shutil.copy(anchors / "cms-samples" / name, folder / name)
    parent = codp_record(codp_dir, "cms-derived-nanoaod-outreach-DoubleMuParked.json", PARENT)
    catalog = Catalog.open(settings)
    service = FileService.open(settings, catalog)
    try:
        catalog.write([validate_record(parent)])
        add_file_index(service, PARENT, first, name="run")  # version 2
        add_file_index(service, PARENT, second, name="run")  # version 3: same index, rebuilt
    finally:
        service.close()
        catalog.close()
    with TestClient(create_app(settings)) as client:
        current = client.get(f"/api/records/{PARENT}").json()["metadata"]
        assert current["_file_indices"][0]["key"] == "run_file_index"
        assert [f["key"] for f in current["_file_indices"][0]["files"]] == ["nano_dimuon.root"]
        old = client.get(f"/api/records/{PARENT}", params={"version": 2}).json()["metadata"]
        assert "run_file_index.json" in {f["key"] for f in old["files"]}
        assert "_file_indices" not in old
        page = client.get(f"/record/{PARENT}", params={"version": 2}).text
        assert "Version 2 of 3" in page
        assert f"/record/{PARENT}/file_index/run_file_index.json" not in page
        assert "run_file_index" in page
        now = client.get(f"/record/{PARENT}").text
        assert f"/record/{PARENT}/file_index/run_file_index.json" in now
