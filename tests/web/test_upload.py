"""The upload API, ``PUT /api/records/<recid>/files/<key>``, against a live ``openhep serve``.

Records are real CODP records, bytes are real CMS samples (the repository's data/cms-samples).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.serve import free_port, openhep_env, run_openhep, serving
from openhep.settings import Settings
from openhep.web import create_app

PARENT = "12341"
# What an HTTP header value may hold (visible ASCII and spaces).
HEADER_CHARACTERS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"


def adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


@pytest.fixture(scope="module")
def sample(anchors: Path) -> bytes:
    return (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()


def new_home(tmp_path: Path, codp_dir: Path) -> tuple[Path, str]:
    home = tmp_path / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    token = run_openhep(home, "token", "create", "--name", "tests").stdout.strip()
    return home, token


@pytest.fixture(scope="module")
def upload_home(tmp_path_factory: pytest.TempPathFactory, codp_dir: Path) -> tuple[Path, str]:
    return new_home(tmp_path_factory.mktemp("upload"), codp_dir)


@pytest.fixture(scope="module")
def server(
    upload_home: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    home, _ = upload_home
    with serving(home, tmp_path_factory.mktemp("upload-log") / "serve.log") as url:
        yield url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def record_files(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    response = http.get(f"{url}/api/records/{PARENT}")
    assert response.status_code == 200
    files: list[dict[str, Any]] = response.json()["metadata"].get("files", [])
    return files


def visible_store_files(home: Path) -> list[str]:
    root = home / "files"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).parts[0].startswith(".")
    )


def test_an_upload_adds_the_file_with_its_true_checksum(
    server: str, upload_home: tuple[Path, str], http: httpx.Client, sample: bytes
) -> None:
    home, token = upload_home
    response = http.put(
        f"{server}/api/records/{PARENT}/files/Zmumu.root",
        content=sample,
        headers=auth(token) | {"Digest": f"adler32={adler32(sample)[8:]}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["file"]["size"] == len(sample)
    assert body["file"]["checksum"] == adler32(sample)
    assert body["file"]["sha256"] == "sha256:" + hashlib.sha256(sample).hexdigest()
    files = record_files(http, server)
    entry = next(f for f in files if f["key"] == "Zmumu.root")
    # Held here: online; CODP's own files live on EOS: remote, with their original URI.
    assert entry["availability"] == "online"
    others = [f for f in files if f["key"] != "Zmumu.root"]
    assert others and {f["availability"] for f in others} == {"remote"}
    assert all(f["uri"].startswith("root://eospublic.cern.ch//eos/opendata/cms/") for f in others)
    assert {k: entry[k] for k in ("size", "checksum", "uri")} == {
        k: body["file"][k] for k in ("size", "checksum", "uri")
    }
    stored = urlsplit(entry["uri"]).path.lstrip("/")
    assert (home / "files" / stored).read_bytes() == sample
    # A sha-256 Digest (base64, RFC 3230) is accepted as well.
    sha = base64.b64encode(hashlib.sha256(sample).digest()).decode()
    response = http.put(
        f"{server}/api/records/{PARENT}/files/Zmumu-again.root",
        content=sample,
        headers=auth(token) | {"Digest": f"sha-256={sha}"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Bearer"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401, "Bearer"),
        ({"Authorization": "Bearer ohp_not-a-real-token"}, 401, "unknown or revoked"),
        ({"Authorization": "Bearer"}, 401, "Bearer"),
    ],
)
def test_uploads_need_a_valid_token(
    server: str,
    http: httpx.Client,
    sample: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = record_files(http, server)
    response = http.put(
        f"{server}/api/records/{PARENT}/files/x.root", content=sample, headers=headers
    )
    assert response.status_code == status
    assert message in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert record_files(http, server) == before


def test_a_revoked_token_is_refused(
    upload_home: tuple[Path, str], server: str, http: httpx.Client, sample: bytes
) -> None:
    home, _ = upload_home
    created = json.loads(run_openhep(home, "token", "create", "--name", "gone", "--json").stdout)
    run_openhep(home, "token", "revoke", str(created["id"]))
    response = http.put(
        f"{server}/api/records/{PARENT}/files/x.root",
        content=sample,
        headers=auth(created["token"]),
    )
    assert response.status_code == 401
    listed = json.loads(run_openhep(home, "token", "list", "--json").stdout)
    assert all("token" not in t and "digest" not in t for t in listed)
    assert created["token"] not in (home / "catalog.sqlite").read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (f"/api/records/{PARENT}/files/bad%5Cname.root", {}, 400),
        (f"/api/records/{PARENT}/files/..%2Fescape.root", {}, 404),
        (f"/api/records/{PARENT}/files/ok.root?checksum=md5:abc", {}, 400),
        (f"/api/records/{PARENT}/files/ok.root", {"Digest": "adler32=zz"}, 400),
        (f"/api/records/{PARENT}/files/ok.root?checksum=adler32:00000001", {}, 400),
        ("/api/records/999999999/files/ok.root", {}, 404),
        ("/api/records/not-a-recid/files/ok.root", {}, 400),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(
    upload_home: tuple[Path, str],
    server: str,
    http: httpx.Client,
    sample: bytes,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    home, token = upload_home
    before_files, before_store = record_files(http, server), visible_store_files(home)
    response = http.put(f"{server}{path}", content=sample, headers=auth(token) | headers)
    assert response.status_code == status, response.text
    assert response.json()["message"]
    assert record_files(http, server) == before_files
    assert visible_store_files(home) == before_store


def test_too_large_uploads_get_413_and_store_nothing(
    tmp_path: Path, codp_dir: Path, http: httpx.Client, sample: bytes
) -> None:
    home, token = new_home(tmp_path, codp_dir)
    env_limit = {"OPENHEP_MAX_UPLOAD_BYTES": str(len(sample) - 1)}
    with serving(home, tmp_path / "serve.log", env=env_limit) as url:
        response = http.put(
            f"{url}/api/records/{PARENT}/files/big.root", content=sample, headers=auth(token)
        )
        assert response.status_code == 413
        # Without a Content-Length (chunked), the bound holds while streaming.
        response = http.put(
            f"{url}/api/records/{PARENT}/files/big.root",
            content=iter([sample[:1000], sample[1000:]]),
            headers=auth(token),
        )
        assert response.status_code == 413
    assert visible_store_files(home) == []


def raw_partial_upload(url: str, token: str, data: bytes, sent: int) -> socket.socket:
    """Start an upload announcing ``len(data)`` bytes and send only ``sent`` of them."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"PUT /api/records/{PARENT}/files/partial.root HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data[:sent])
    return sock


def test_an_upload_cut_off_by_the_client_leaves_nothing(
    upload_home: tuple[Path, str], server: str, http: httpx.Client, sample: bytes
) -> None:
    home, token = upload_home
    before_files, before_store = record_files(http, server), visible_store_files(home)
    sock = raw_partial_upload(server, token, sample, len(sample) // 2)
    time.sleep(0.5)
    sock.close()
    time.sleep(1.0)
    assert record_files(http, server) == before_files
    assert visible_store_files(home) == before_store
    assert "partial.root" not in json.dumps(before_files)


def test_a_killed_server_leaves_no_file_and_no_record_change(
    tmp_path: Path, codp_dir: Path, http: httpx.Client, sample: bytes
) -> None:
    home, token = new_home(tmp_path, codp_dir)
    before = run_openhep(home, "get", PARENT).stdout
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "openhep", "serve", "--port", str(port)],
        env=openhep_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, http)
        sock = raw_partial_upload(url, token, sample, len(sample) // 2)
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        sock.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert run_openhep(home, "get", PARENT).stdout == before
    assert visible_store_files(home) == []
    # What the killed writer left (under files/.partial) is never served nor listed, and a
    # restart removes partial writes older than an hour.
    partial = [p for p in (home / "files" / ".partial").iterdir()]
    assert len(partial) == 1 and partial[0].stat().st_size <= len(sample) // 2
    old = time.time() - 7200
    os.utime(partial[0], (old, old))
    with serving(home, tmp_path / "again.log"):
        pass
    assert list((home / "files" / ".partial").iterdir()) == []


def wait_for(url: str, http: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http.get(f"{url}/api/records/{PARENT}").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


# -- fuzzing, in-process -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client(upload_home: tuple[Path, str]) -> Iterator[tuple[TestClient, str]]:
    home, token = upload_home
    with TestClient(create_app(Settings(home=home)), raise_server_exceptions=True) as client:
        yield client, token


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(min_size=0, max_size=300),
    digest=st.one_of(st.none(), st.text(HEADER_CHARACTERS, max_size=80)),
    checksum=st.one_of(st.none(), st.text(max_size=90)),
)
def test_fuzzed_uploads_answer_4xx_or_201_never_500(
    app_client: tuple[TestClient, str], key: str, digest: str | None, checksum: str | None
) -> None:
    client, token = app_client
    headers = auth(token)
    if digest is not None:
        headers["Digest"] = digest
    params = {"checksum": checksum} if checksum is not None else {}
    response = client.put(
        f"/api/records/{PARENT}/files/{quote(key, safe='')}",
        content=b"fuzz",
        headers=headers,
        params=params,
    )
    assert response.status_code in {201, 400, 404, 405, 413}, response.text
