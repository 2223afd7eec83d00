"""File keys where they come in — the upload route, ``openhep files add``, a file index built
from a directory, an index file's listing — all under the model's one rule: an accepted key
comes back exactly (in the record and as a download), a refused one changes nothing and the
answer says what to change."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from _services.serve import openhep_env, run_openhep
from openhep.files import FileIndexError, files_under, parse_index_json
from openhep.model import FileKeyError, check_file_key
from openhep.settings import Settings
from openhep.storage import UnsafePathError, file_name
from openhep.web import create_app

PARENT = "12341"
RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
BIDI_KEY = "evil\u202egpj.root"  # displays as "eviltoor.jpg": a .root posing as a .jpg


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, codp_dir: Path) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("keys") / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    token = run_openhep(home, "token", "create", "--name", "tests").stdout.strip()
    return home, token


@pytest.fixture(scope="module")
def client(home: tuple[Path, str]) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home[0]))) as test_client:
        yield test_client


def keys_of(client: TestClient) -> list[str]:
    response = client.get(f"/api/records/{PARENT}")
    assert response.status_code == 200
    return [f["key"] for f in response.json()["metadata"]["files"]]


def test_an_upload_with_a_bidi_control_in_its_key_is_refused(
    client: TestClient, home: tuple[Path, str]
) -> None:
    before = keys_of(client)
    response = client.put(
        f"/api/records/{PARENT}/files/{quote(BIDI_KEY, safe='')}",
        content=b"bytes",
        headers={"Authorization": f"Bearer {home[1]}"},
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "U+202E, RIGHT-TO-LEFT OVERRIDE, a bidirectional control" in message
    assert "remove it" in message
    assert "\u202e" not in message
    assert keys_of(client) == before


UPLOAD_KEYS = st.text(max_size=40) | st.sampled_from(
    ["Zmumu.root", "ünï.root", "e\u0301.root", "a\u2066b", "x\u200f", ".", "..", "a\\b"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=UPLOAD_KEYS)
@example(key="0/")  # once redirected by Starlette's slash rule to the key "0", and stored
def test_uploaded_keys_round_trip_or_are_refused_with_the_rule_s_message(
    client: TestClient, home: tuple[Path, str], key: str
) -> None:
    body = key.encode() + b"\n"
    response = client.put(
        f"/api/records/{PARENT}/files/{quote(key, safe='')}",
        content=body,
        headers={"Authorization": f"Bearer {home[1]}"},
    )
    try:
        check_file_key(key)
    except FileKeyError as exc:
        # Refused by the rule with its message; a key that a URL path cannot carry ('/', '.',
        # '..', nothing) names no upload route at all.
        if response.status_code == 400:
            assert response.json()["message"] == str(exc)
        else:
            assert response.status_code in (404, 405), (key, response.status_code)
            assert key in ("", ".", "..") or "/" in key
        return
    assert response.status_code == 201, (key, response.text)
    assert response.json()["file"]["key"] == key
    assert key in keys_of(client)
    download = client.get(f"/record/{PARENT}/files/{quote(key, safe='')}")
    assert download.status_code == 200
    assert download.content == body


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openhep", *args],
        env=openhep_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_files_add_refuses_a_bidi_key_and_adds_nothing(
    home: tuple[Path, str], anchors: Path, tmp_path: Path
) -> None:
    versions = run_cli(home[0], "versions", PARENT).stdout
    sample = anchors / "cms-samples" / "uproot-Zmumu.root"
    result = run_cli(home[0], "files", "add", PARENT, str(sample), "--key", BIDI_KEY)
    assert result.returncode == 1
    assert "nothing was added" in result.stderr
    assert "U+202E, RIGHT-TO-LEFT OVERRIDE" in result.stderr
    # A file whose own name has one is refused the same way.
    named = tmp_path / "a\u2067b.root"
    named.write_bytes(sample.read_bytes())
    result = run_cli(home[0], "files", "add", PARENT, str(named))
    assert result.returncode == 1
    assert "U+2067, RIGHT-TO-LEFT ISOLATE" in result.stderr
    assert run_cli(home[0], "versions", PARENT).stdout == versions


def test_store_keys_are_the_model_s_keys() -> None:
    assert file_name("Zmumu.root") == "Zmumu.root"
    with pytest.raises(UnsafePathError, match="U\\+202E"):
        file_name(BIDI_KEY)
    with pytest.raises(UnsafePathError, match="composed form"):
        file_name("e\u0301.root")


def test_a_file_index_refuses_a_directory_holding_a_name_with_a_bidi_control(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "samples"
    (folder / "inner\u202e").mkdir(parents=True)
    (folder / "inner\u202e" / "a.root").write_bytes(b"x")
    (folder / "ok.root").write_bytes(b"x")
    with pytest.raises(UnsafePathError, match="U\\+202E") as caught:
        files_under(folder)
    assert "\u202e" not in str(caught.value)
    os.rename(folder / "inner\u202e", folder / "inner")
    assert [name for name, _ in files_under(folder)] == ["inner/a.root", "ok.root"]


def test_an_index_file_listing_a_name_with_a_bidi_control_is_refused() -> None:
    content = (
        b'[{"uri": "root://eospublic.cern.ch//eos/opendata/cms/evil\\u202egpj.root", '
        b'"size": 1, "checksum": "adler32:00000001"}]'
    )
    with pytest.raises(FileIndexError, match=r"x_file_index.json\[0\].uri: the file's name"):
        parse_index_json("x_file_index.json", content)


@pytest.mark.parametrize("key", ["0/", "a/b", "x.root/"])
def test_a_key_with_a_slash_is_refused_not_redirected_to_another_key(
    client: TestClient, home: tuple[Path, str], key: str
) -> None:
    before = keys_of(client)
    response = client.put(
        f"/api/records/{PARENT}/files/{quote(key, safe='')}",
        content=b"data\n",
        headers={"Authorization": f"Bearer {home[1]}"},
        follow_redirects=False,
    )
    assert response.status_code == 404, response.text
    assert keys_of(client) == before
