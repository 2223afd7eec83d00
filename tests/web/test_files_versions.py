"""Every version keeps serving the bytes it names (issue 11, item 7).

A real CODP record gets a real CMS sample with ``openhep files add``, then another sample under
the same key (a new version). Version 2's file, replaced in version 3, is fetched by its
``/eos/opendata/`` path (what version 2's page and API link) and by its key with ``?version=2``:
the old bytes, with the old checksum, and the API of version 2 calls it ``online``.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _services.serve import run_openhep
from openhep.settings import Settings
from openhep.web import create_app

PARENT = "12341"
RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
KEY = "events.root"
FIRST = "uproot-Zmumu.root"
SECOND = "uproot-HZZ.root"


def adler32(data: bytes) -> str:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


@pytest.fixture(scope="module")
def added(
    tmp_path_factory: pytest.TempPathFactory, codp_dir: Path, anchors: Path
) -> tuple[Path, list[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("versions") / "home"
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    answers = []
    for name in (FIRST, SECOND):
        sample = str(anchors / "cms-samples" / name)
        answers.append(
            json.loads(
                run_openhep(home, "files", "add", PARENT, sample, "--key", KEY, "--json").stdout
            )
        )
    assert [a["version"] for a in answers] == [2, 3]
    return home, answers


@pytest.fixture(scope="module")
def client(added: tuple[Path, list[dict[str, Any]]]) -> Iterator[TestClient]:
    home, _ = added
    with TestClient(create_app(Settings(home=home, file_origins=""))) as test_client:
        yield test_client


def test_a_replaced_file_is_served_by_its_path_with_its_own_bytes(
    client: TestClient, added: tuple[Path, list[dict[str, Any]]], anchors: Path
) -> None:
    _, (old, new) = added
    first = (anchors / "cms-samples" / FIRST).read_bytes()
    second = (anchors / "cms-samples" / SECOND).read_bytes()
    old_path = "/" + old["files"][0]["path"]
    assert old_path.startswith("/eos/opendata/openhep/12341/")
    answer = client.get(old_path)
    assert answer.status_code == 200, answer.text
    assert answer.content == first
    assert f"adler32={adler32(first)}" in answer.headers["digest"]
    assert client.head(old_path).headers["content-length"] == str(len(first))
    # A range of the old bytes, as any download client resumes.
    ranged = client.get(old_path, headers={"range": "bytes=100-199"})
    assert (ranged.status_code, ranged.content) == (206, first[100:200])
    new_path = "/" + new["files"][0]["path"]
    assert client.get(new_path).content == second


def test_a_versions_file_by_key_is_that_versions_bytes(client: TestClient, anchors: Path) -> None:
    first = (anchors / "cms-samples" / FIRST).read_bytes()
    second = (anchors / "cms-samples" / SECOND).read_bytes()
    assert client.get(f"/record/{PARENT}/files/{KEY}").content == second
    assert client.get(f"/record/{PARENT}/files/{KEY}?version=3").content == second
    older = client.get(f"/record/{PARENT}/files/{KEY}?version=2")
    assert older.status_code == 200 and older.content == first
    assert f"adler32={adler32(first)}" in older.headers["digest"]
    # Version 1 had no such file; versions that do not exist, or are not numbers, are refused.
    assert client.get(f"/record/{PARENT}/files/{KEY}?version=1").status_code == 404
    assert client.get(f"/record/{PARENT}/files/{KEY}?version=9").status_code == 404
    assert client.get(f"/record/{PARENT}/files/{KEY}?version=0").status_code == 400
    assert client.get(f"/record/{PARENT}/files/{KEY}?version=two").status_code == 400


def test_what_a_version_says_of_its_file_is_what_is_served(
    client: TestClient, added: tuple[Path, list[dict[str, Any]]], anchors: Path
) -> None:
    _, (old, _) = added
    first = (anchors / "cms-samples" / FIRST).read_bytes()
    metadata = client.get(f"/api/records/{PARENT}?version=2").json()["metadata"]
    [entry] = [f for f in metadata["files"] if f["key"] == KEY]
    assert entry["availability"] == "online"
    assert (entry["size"], entry["checksum"]) == (len(first), f"adler32:{adler32(first)}")
    # The version's page links the file by its path; that link serves the bytes it names.
    page = client.get(f"/record/{PARENT}?version=2").text
    link = "/" + old["files"][0]["path"]
    assert f'href="http://testserver{link}"' in page
    served = client.get(link)
    assert served.status_code == 200
    digest = served.headers["digest"]
    assert f"adler32={adler32(first)}" in digest
    assert base64.b64decode(digest.split("sha-256=")[1].split(",")[0]).hex() == old["files"][0][
        "sha256"
    ].removeprefix("sha256:")
