"""Files not held here: a redirect to their origin, never a body a client could save as the file.

The instance is filled by the real ``openhep demo``: CODP's record 12341 (its 2.2 GB file is on
CERN's EOS, not here) and the sample records cut from real CMS files (held here, 990001 names
12341 as its parent), plus an embargoed record. Everything runs in-process and no redirect is
followed: no test leaves this machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _services.serve import openhep_env, sample_home
from openhep.catalog import Catalog
from openhep.model import validate_record
from openhep.settings import Settings
from openhep.web import create_app

PARENT = "12341"
SAMPLE = "990001"  # names 12341 in its relations (isChildOf)
CORRUPTED = "990006"  # gets a flipped byte in the test of corrupt replicas
EMBARGOED = "990500"
EOS_FILE = "cms/derived-data/AOD2NanoAODOutreachTool/Run2012BC_DoubleMuParked_Muons.root"
KEY = EOS_FILE.rsplit("/", 1)[-1]
CODP_URL = f"https://opendata.cern.ch/eos/opendata/{EOS_FILE}"
#: A local origin: nothing listens there, and redirects are not followed anyway.
MIRROR = "http://127.0.0.1:9/mirror/"
EVERYTHING = f"root://eospublic.cern.ch//eos/opendata/={MIRROR}"


@pytest.fixture(scope="module")
def home(codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = sample_home(tmp_path_factory.mktemp("not-held"), codp_dir, anchors)
    with Catalog.open(Settings(home=home)) as catalog:
        embargoed = catalog.get(PARENT).metadata | {
            "recid": EMBARGOED,
            "release_date": "2999-01-01",
        }
        embargoed.pop("doi")
        embargoed["files"] = [
            embargoed["files"][0] | {"uri": embargoed["files"][0]["uri"] + ".embargoed"}
        ]
        catalog.write([validate_record(embargoed)])
    return home


def app(home: Path, origins: str | None = None) -> TestClient:
    return TestClient(create_app(Settings(home=home, file_origins=origins)))


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    """The app with the default origin rules (CODP's HTTPS gateway)."""
    with app(home) as test_client:
        yield test_client


def ld_json(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1).replace("<\\/", "</"))
    return data


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", [f"/eos/opendata/{EOS_FILE}", f"/record/{PARENT}/files/{KEY}"])
def test_a_file_not_held_here_redirects_to_its_origin(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == CODP_URL
    # Nothing a client (cernopendata-client saves any body) could keep as the file.
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert "content-type" not in response.headers
    assert "x-cache" not in response.headers  # file answers are never kept
    again = client.request(method, path, follow_redirects=False)
    assert (again.status_code, again.headers.get("x-cache")) == (307, None)


def test_no_redirect_for_what_no_public_record_lists(client: TestClient, home: Path) -> None:
    for path in (
        "/eos/opendata/cms/derived-data/AOD2NanoAODOutreachTool/none.root",
        f"/eos/opendata/{EOS_FILE}.embargoed",  # listed by an embargoed record only
        f"/record/{EMBARGOED}/files/{KEY}.embargoed",
        f"/record/{PARENT}/files/none.root",
        "/eos/opendata/openhep/990001/none/x.root",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert response.json()["status"] == 404
    # OPENHEP_FILE_ORIGINS="" turns redirects off: a clear 404 instead.
    with app(home, "") as off:
        for path in (f"/eos/opendata/{EOS_FILE}", f"/record/{PARENT}/files/{KEY}"):
            response = off.get(path, follow_redirects=False)
            assert response.status_code == 404
            assert "not held here" in response.json()["message"]


def test_origins_are_set_per_uri_prefix_and_quoted(home: Path) -> None:
    rules = f"{EVERYTHING},root://eospublic.cern.ch//eos/opendata/cms/derived-data/="
    with app(home, rules) as mirrored:
        # cms/derived-data/ has no origin under these rules.
        assert mirrored.get(f"/record/{PARENT}/files/{KEY}").status_code == 404
    with app(home, EVERYTHING) as mirrored:
        response = mirrored.head(f"/record/{PARENT}/files/{KEY}", follow_redirects=False)
        assert response.headers["location"] == MIRROR + EOS_FILE


def test_held_files_are_served_here(client: TestClient, anchors: Path) -> None:
    metadata = client.get(f"/api/records/{SAMPLE}").json()["metadata"]
    (entry,) = metadata["files"]
    response = client.get(f"/record/{SAMPLE}/files/{entry['key']}", follow_redirects=False)
    assert response.status_code == 200
    assert response.content == (anchors / "cms-samples" / entry["key"]).read_bytes()


def test_a_corrupt_replica_sends_to_the_origin_when_there_is_one(home: Path) -> None:
    with app(home, EVERYTHING) as mirrored:
        (entry,) = mirrored.get(f"/api/records/{CORRUPTED}").json()["metadata"]["files"]
        path = "/" + entry["uri"].removeprefix("root://eospublic.cern.ch//")
        assert mirrored.get(path).status_code == 200
        page = mirrored.get(f"/record/{CORRUPTED}").text
        assert f'href="http://testserver/record/{CORRUPTED}/files/{entry["key"]}"' in page
        stored = home / "files" / path.lstrip("/")
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 0x01
        stored.write_bytes(bytes(data))
        fixity = run_openhep_fixity(home)
        assert fixity["corrupt"] == 1
        origin = MIRROR + path.removeprefix("/eos/opendata/")
        for url in (path, f"/record/{CORRUPTED}/files/{entry['key']}"):
            response = mirrored.get(url, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (307, origin)
        # The page (kept by the answer cache until the replicas change) now links the origin.
        page = mirrored.get(f"/record/{CORRUPTED}").text
        assert f'href="{origin}" rel="external noopener"' in page
        assert "corrupt here" in page
    # By default, files added here have no origin but here: bad bytes are a 503.
    with app(home) as default:
        response = default.get(path, follow_redirects=False)
        assert response.status_code == 503 and "fixity" in response.json()["message"]


def run_openhep_fixity(home: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "openhep", "fixity", "--json"],
        env=openhep_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr  # 1: problems found
    report: dict[str, Any] = json.loads(result.stdout)
    return report


# -- the record page and schema.org ------------------------------------------------------------


def test_the_page_links_a_file_not_held_here_to_its_origin(client: TestClient) -> None:
    page = client.get(f"/record/{PARENT}").text
    assert f'<a href="{CODP_URL}" rel="external noopener">{KEY}</a>' in page
    assert "Download from opendata.cern.ch" in page
    assert "its origin, opendata.cern.ch, serves it" in page
    (download,) = ld_json(page)["distribution"]
    assert download["contentUrl"] == CODP_URL
    assert (download["name"], download["contentSize"]) == (KEY, "2244449133 B")


def test_schema_org_content_urls_serve_bytes_and_are_never_root(
    client: TestClient, anchors: Path
) -> None:
    for recid in (PARENT, SAMPLE, "990008"):
        for document in (
            ld_json(client.get(f"/record/{recid}").text),
            client.get(f"/api/records/{recid}", headers={"Accept": "application/ld+json"}).json(),
        ):
            for download in document["distribution"]:
                url = download["contentUrl"]
                assert url.startswith(("http://", "https://")), url
                if recid != PARENT:  # held here: ours, and it serves the file's bytes
                    assert url.startswith(f"http://testserver/record/{recid}/files/")
                    response = client.get(url.removeprefix("http://testserver"))
                    assert response.status_code == 200
                    assert len(response.content) == int(download["contentSize"].split()[0])


def test_without_an_origin_a_file_not_held_here_has_no_link_and_no_content_url(
    home: Path,
) -> None:
    with app(home, "") as off:
        page = off.get(f"/record/{PARENT}").text
        assert CODP_URL not in page
        assert f"<span>{KEY}</span>" in page
        (download,) = ld_json(page)["distribution"]
        assert "contentUrl" not in download


def test_the_parent_record_lists_the_samples_that_name_it(client: TestClient) -> None:
    page = client.get(f"/record/{PARENT}").text
    related = page[page.index('id="related"') :]
    title = client.get(f"/api/records/{SAMPLE}").json()["metadata"]["title"]
    assert "Samples and derived records" in related
    assert f'<a href="http://testserver/record/{SAMPLE}">{title}</a>' in related
    # ... from the relation stored on the sample, not from anything on 12341 itself.
    parent = client.get(f"/api/records/{PARENT}").json()["metadata"]
    assert SAMPLE not in json.dumps(parent)
    # A sample names its parent, and the sentence saying how is whole.
    sample_page = client.get(f"/record/{SAMPLE}").text
    assert "Derived from" in sample_page
    assert "first 1,000 events of that record&#39;s file, Run2012BC_DoubleMuParked_Muons.root" in (
        sample_page
    )
    # A record nothing names shows no such list.
    assert "Samples and derived records" not in client.get("/record/990002").text
