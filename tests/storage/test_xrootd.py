"""The XRootD backend against a real server: URLs, errors, and what other XRootD clients see."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
import zlib
from pathlib import Path

import pytest

from _services.xrootd import XRootDServer
from openhep.settings import Settings
from openhep.storage import StoreUnavailableError, open_store
from openhep.storage._xrootd import XRootDStore, split_url

pytestmark = pytest.mark.xrootd


@pytest.fixture
def name() -> str:
    return f"t-{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("root://eospublic.cern.ch//eos/opendata", ("eospublic.cern.ch", "/eos/opendata")),
        ("root://host:1094//data/", ("host:1094", "/data")),
        ("root://user@host:1094//a/b", ("user@host:1094", "/a/b")),
        ("root://host//", ("host", "")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str]) -> None:
    assert split_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["https://host//x", "root://", "root://host", "root://host/relative", "root://host//a/../b"],
)
def test_bad_urls_say_how_to_write_one(url: str) -> None:
    with pytest.raises(ValueError, match="root://"):
        split_url(url)


def test_an_unreachable_server_is_a_clear_error() -> None:
    from _services.xrootd import _free_port

    url = f"root://127.0.0.1:{_free_port()}//data"
    with pytest.raises(
        StoreUnavailableError, match=r"cannot reach the XRootD server.*127\.0\.0\.1"
    ):
        XRootDStore(url)
    with pytest.raises(StoreUnavailableError):
        open_store(Settings(storage_url=url))


def test_open_store_chooses_xrootd(xrootd_server: XRootDServer, name: str) -> None:
    store = open_store(Settings(storage_url=xrootd_server.store_url(name)))
    try:
        assert isinstance(store, XRootDStore)
        assert store.url == f"{xrootd_server.url}//{name}"
        assert store.local_path("a.txt") is None
    finally:
        store.close()


def test_files_are_what_the_server_and_its_clients_see(
    xrootd_server: XRootDServer, name: str, anchors: Path, tmp_path: Path
) -> None:
    sample = (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
    store = XRootDStore(xrootd_server.store_url(name))
    try:
        _, digests = store.write("eos/opendata/cms/Zmumu.root", [sample])
        on_disk = xrootd_server.data_dir / name / "eos" / "opendata" / "cms" / "Zmumu.root"
        assert on_disk.read_bytes() == sample
        if os.geteuid() == 0:  # the server dropped root: it owns what it wrote
            assert on_disk.owner() == xrootd_server.user
        # The server's own adler32 (what EOS reports) equals the one computed while writing.
        remote = f"/{name}/eos/opendata/cms/Zmumu.root"
        query = subprocess.run(
            ["xrdfs", xrootd_server.url, "query", "checksum", remote],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert query.stdout.split() == ["adler32", digests.adler32.removeprefix("adler32:")]
        # xrdcp reads back the same bytes, and a file it uploads is readable through the store.
        copy = tmp_path / "copy.root"
        subprocess.run(
            ["xrdcp", "--silent", f"{xrootd_server.url}/{remote}", str(copy)],
            check=True,
            timeout=60,
        )
        assert copy.read_bytes() == sample
        subprocess.run(
            ["xrdcp", "--silent", str(copy), f"{xrootd_server.url}//{name}/uploaded.root"],
            check=True,
            timeout=60,
        )
        with store.open("uploaded.root") as reader:
            data = reader.read()
        assert zlib.adler32(data) == zlib.adler32(sample)
        assert sorted(obj.path for obj in store.walk()) == [
            "eos/opendata/cms/Zmumu.root",
            "uploaded.root",
        ]
    finally:
        store.close()


def test_the_client_tools_are_installed() -> None:
    for tool in ("xrootd", "xrdcp", "xrdfs"):
        assert shutil.which(tool), f"{tool} missing: run scripts/system-deps.sh"


@pytest.mark.slow  # the client notices an expired request every 15 s
def test_a_stopped_server_is_a_clear_error(name: str) -> None:
    server = XRootDServer().start()
    try:
        store = XRootDStore(server.store_url(name), timeout=1)
        store.write("a.txt", [b"a"])
    finally:
        server.stop()
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        store.stat("a.txt")
    store.close()
