"""Downloading files from a live ``openhep serve``: ranges, validators, traversal and fixity.

The instance holds a real CODP record (``openhep ingest``) to which real CMS samples were added
with ``openhep files add``; ranges are compared with what ``dd`` reads from the stored file, and
``curl`` and ``cernopendata-client`` are the real binaries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.serve import openhep_env, run_openhep, serving
from openhep.catalog import Catalog
from openhep.files import FileService
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web._disposition import attachment, content_type
from openhep.web._ranges import RangeNotSatisfiableError, byte_ranges
from openhep.web._security import STORED_BYTES_POLICY

if TYPE_CHECKING:
    from _services.xrootd import XRootDServer

RECID = "556"  # CMS iSpy 2012, a real CODP record with no files of its own
RECORDS_FILE = "cms-tools-ispy-2012.json"
SERVED = "uproot-HZZ.root"  # read-only throughout
FLIPPED = "nano_dimuon.root"  # gets a flipped byte
LINKED = "uproot-Zmumu.root"  # replaced for a while by a symlink out of the store
TXT_LIKE = "uproot-small-dy-withoffsets.root"
SAMPLES = (SERVED, FLIPPED, LINKED, TXT_LIKE)
CURL = shutil.which("curl") or "curl"
CLIENT = Path(sys.executable).parent / "cernopendata-client"
MIB = 1 << 20
ALLOWED = {200, 206, 304, 404, 416}


@dataclass(frozen=True)
class Instance:
    home: Path
    files: dict[str, dict[str, Any]]  # key -> files add's answer (uri, path, size, checksums)

    def stored(self, key: str) -> Path:
        return self.home / "files" / self.files[key]["path"]

    def eos_path(self, key: str) -> str:
        return "/" + self.files[key]["path"]


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory, codp_dir: Path, anchors: Path) -> Instance:
    home = tmp_path_factory.mktemp("files-http") / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    samples = [str(anchors / "cms-samples" / name) for name in SAMPLES]
    added = json.loads(run_openhep(home, "files", "add", RECID, *samples, "--json").stdout)
    return Instance(home, {f["key"]: f for f in added["files"]})


@pytest.fixture(scope="module")
def server(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("files-http-log") / "serve.log"
    with serving(instance.home, log) as url:
        yield Server(url, log)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        yield client


def curl(*args: str) -> bytes:
    result = subprocess.run(
        [CURL, "--silent", "--show-error", "--noproxy", "*", *args],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def dd(path: Path, skip: int, count: int) -> bytes:
    result = subprocess.run(
        ["dd", f"if={path}", "bs=1", f"skip={skip}", f"count={count}", "status=none"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def raw_get(server: Server, target: str, method: str = "GET") -> tuple[int, bytes]:
    """A request whose target is sent exactly as given (no client-side normalisation)."""
    conn = HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def adler32(data: bytes) -> str:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


# -- whole files and their headers -------------------------------------------------------------


def test_a_full_get_is_the_stored_file_with_its_validators_and_digests(
    instance: Instance, server: Server, http: httpx.Client, anchors: Path
) -> None:
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    response = http.get(server.url + instance.eos_path(SERVED))
    assert response.status_code == 200
    assert response.content == data
    headers = response.headers
    assert headers["content-length"] == str(len(data))
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["etag"] == f'"adler32-{adler32(data)}"'
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert headers["digest"] == f"adler32={adler32(data)},sha-256={sha}"
    mtime = int(instance.stored(SERVED).stat().st_mtime)
    assert parsedate_to_datetime(headers["last-modified"]).timestamp() == mtime
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == STORED_BYTES_POLICY
    # Data, not a page: saved under its name (test_security_headers.py has every case).
    assert headers["content-disposition"] == (
        f"attachment; filename=\"{SERVED}\"; filename*=UTF-8''{SERVED}"
    )


def test_head_sends_the_headers_of_get_without_the_body(
    instance: Instance, server: Server, http: httpx.Client
) -> None:
    url = server.url + instance.eos_path(SERVED)
    get, head = http.get(url), http.head(url)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "etag", "last-modified", "digest", "accept-ranges"):
        assert head.headers[name] == get.headers[name]
    for name in ("content-type", "content-disposition", "content-security-policy"):
        assert head.headers[name] == get.headers[name]
    # HEAD mirrors GET (RFC 9110 section 9.3.2), ranges included.
    partial = http.head(url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206 and partial.headers["content-length"] == "10"


def test_record_files_are_attachments_under_their_key(
    instance: Instance, server: Server, http: httpx.Client, anchors: Path
) -> None:
    response = http.get(f"{server.url}/record/{RECID}/files/{SERVED}")
    assert response.status_code == 200
    assert response.content == (anchors / "cms-samples" / SERVED).read_bytes()
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"{SERVED}\"; filename*=UTF-8''{SERVED}"
    )
    ranged = http.get(f"{server.url}/record/{RECID}/files/{SERVED}", headers={"Range": "bytes=-4"})
    assert ranged.status_code == 206 and ranged.content == response.content[-4:]
    for path in (
        f"/record/{RECID}/files/no-such-file.root",
        f"/record/99999999/files/{SERVED}",
        f"/record/not-a-recid/files/{SERVED}",
        f"/record/{RECID}/files/",
    ):
        missing = http.get(server.url + path)
        assert missing.status_code == 404, path
        assert missing.json()["status"] == 404


def test_files_not_held_here_answer_404(server: Server, http: httpx.Client) -> None:
    for path in (
        "/eos/opendata/cms/Run2012B/DoubleMuParked/AOD/22Jan2013-v1/none.root",
        "/eos/opendata/",
        "/eos/opendata/openhep/",
    ):
        response = http.get(server.url + path)
        assert response.status_code == 404, path
        assert response.json()["status"] == 404


def test_the_double_slash_of_cernopendata_client_urls_is_served(
    instance: Instance, server: Server, anchors: Path
) -> None:
    # The client replaces root://eospublic.cern.ch/ by the server: http://SERVER//eos/opendata/…
    url = server.url + "/" + instance.eos_path(SERVED)
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    assert curl(url) == data
    assert curl("-r", "100-199", url) == data[100:200]
    assert b"content-length: %d" % len(data) in curl("--head", url).lower()


def test_cernopendata_client_downloads_verifies_and_resumes(
    instance: Instance, server: Server, tmp_path: Path, anchors: Path
) -> None:
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    # A partial download from an earlier attempt: the client asks HEAD, then Range: bytes=N-.
    (tmp_path / RECID).mkdir()
    (tmp_path / RECID / SERVED).write_bytes(data[:100_000])
    command = [str(CLIENT), "download-files", "--recid", RECID, "--server", server.url]
    result = subprocess.run(
        [*command, "--filter-name", SERVED, "--verify"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / RECID / SERVED).read_bytes() == data


# -- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "skip", "count"),
    [
        ("0-99", 0, 100),  # the start
        ("100000-123455", 100000, 23456),  # the middle
        ("-500", -500, 500),  # a suffix
        ("200000-", 200000, None),  # open-ended, as a resuming client asks
        ("217900-999999999", 217900, None),  # past the end: up to the end
        ("0-0", 0, 1),
    ],
)
def test_curl_ranges_are_the_bytes_dd_reads_from_the_store(
    instance: Instance, server: Server, spec: str, skip: int, count: int | None
) -> None:
    stored = instance.stored(SERVED)
    size = stored.stat().st_size
    skip = skip % size
    count = size - skip if count is None else count
    url = server.url + instance.eos_path(SERVED)
    assert curl("-r", spec, url) == dd(stored, skip, count)
    headers = curl("-r", spec, "--dump-header", "-", "--output", os.devnull, url).decode()
    assert headers.startswith("HTTP/1.1 206")
    assert f"content-range: bytes {skip}-{skip + count - 1}/{size}" in headers.lower()
    assert f"content-length: {count}" in headers.lower()


def multipart_parts(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body, strictly framed."""
    match = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", response.headers["content-type"])
    assert match, response.headers["content-type"]
    delimiter = b"--" + match.group(1).encode()
    body, at, parts = response.content, 0, []
    assert len(body) == int(response.headers["content-length"])
    while True:
        assert body.startswith(delimiter, at), body[at : at + 80]
        at += len(delimiter)
        if body[at:] == b"--\r\n":
            return parts
        assert body.startswith(b"\r\n", at)
        head_end = body.index(b"\r\n\r\n", at)
        head = dict(line.split(": ", 1) for line in body[at + 2 : head_end].decode().split("\r\n"))
        first, last, _ = map(int, re.findall(r"\d+", head["Content-Range"]))
        at = head_end + 4
        parts.append((head["Content-Range"], body[at : at + last - first + 1]))
        at += last - first + 1
        assert body.startswith(b"\r\n", at)
        at += 2


def test_several_ranges_come_back_as_multipart_byteranges(
    instance: Instance, server: Server, http: httpx.Client, anchors: Path
) -> None:
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    size = len(data)
    response = http.get(
        server.url + instance.eos_path(SERVED),
        headers={"Range": "bytes=0-9, 1000-1999 ,-50,,5000-"},
    )
    assert response.status_code == 206
    assert multipart_parts(response) == [
        (f"bytes 0-9/{size}", data[:10]),
        (f"bytes 1000-1999/{size}", data[1000:2000]),
        (f"bytes {size - 50}-{size - 1}/{size}", data[-50:]),
        (f"bytes 5000-{size - 1}/{size}", data[5000:]),
    ]
    # One of two ranges within the file: a single part, not multipart.
    single = http.get(
        server.url + instance.eos_path(SERVED), headers={"Range": "bytes=10-19,999999-"}
    )
    assert single.status_code == 206
    assert single.headers["content-range"] == f"bytes 10-19/{size}"
    assert single.content == data[10:20]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",  # not a range
        "bytes=20-10",  # last before first
        "pages=0-10",  # not a unit we know
        "bytes=",  # no ranges
        "bytes 0-10",  # no '='
        "bytes=--5",
        "bytes=0-10,x",  # one bad range spoils the set
        "bytes=" + ",".join(f"{i}-{i}" for i in range(101)),  # more than 100 ranges
        "bytes=0-,0-",  # overlapping: more than the file; the file is cheaper
    ],
)
def test_range_headers_that_are_invalid_or_past_bounds_are_ignored(
    instance: Instance, server: Server, http: httpx.Client, header: str, anchors: Path
) -> None:
    response = http.get(server.url + instance.eos_path(SERVED), headers={"Range": header})
    assert response.status_code == 200
    assert response.content == (anchors / "cms-samples" / SERVED).read_bytes()


@pytest.mark.parametrize("header", ["bytes=217945-", "bytes=999999999999999999999999-", "bytes=-0"])
def test_ranges_outside_the_file_answer_416_with_its_size(
    instance: Instance, server: Server, http: httpx.Client, header: str
) -> None:
    size = instance.files[SERVED]["size"]
    response = http.get(server.url + instance.eos_path(SERVED), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["status"] == 416


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=-5000", 100, [(0, 99)]),  # a suffix longer than the file: all of it
        ("BYTES=0-0,-1", 100, [(0, 0), (99, 99)]),  # the unit is case-insensitive
        ("bytes=0-9,5-14", 100, [(0, 9), (5, 14)]),  # two overlapping, less than the file
        ("bytes=0-", 0, 416),  # an empty file has no first byte
        ("bytes=-1", 0, None),  # a suffix of an empty file: the (empty) file itself
        ("bytes= 1-2 ,\t3-4", 10, [(1, 2), (3, 4)]),  # white space around list elements
    ],
)
def test_byte_ranges_resolve_against_the_file_size(
    header: str, size: int, expected: list[tuple[int, int]] | int | None
) -> None:
    if expected == 416:
        with pytest.raises(RangeNotSatisfiableError):
            byte_ranges(header, size)
        return
    found = byte_ranges(header, size)
    assert (None if found is None else [(r.start, r.end) for r in found]) == expected


def test_content_types_and_attachment_names() -> None:
    assert content_type("Run2012B_DoubleMuParked_file_index.json") == "application/json"
    assert content_type("CMS_Run2012B_file_index.TXT") == "text/plain; charset=utf-8"
    assert content_type("Events.root") == content_type("README") == "application/octet-stream"
    # Pages never: a stored HTML or SVG file must not run in the portal's origin.
    assert content_type("x.html") == content_type("x.svg") == "application/octet-stream"
    assert attachment('Zμμ "2012".root') == (
        "attachment; filename=\"Z__ _2012_.root\"; filename*=UTF-8''Z%CE%BC%CE%BC%20%222012%22.root"
    )


# -- conditional requests ------------------------------------------------------------------


def test_conditional_requests(instance: Instance, server: Server, http: httpx.Client) -> None:
    url = server.url + instance.eos_path(SERVED)
    first = http.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    size = len(first.content)

    def get(**headers: str) -> httpx.Response:
        return http.get(url, headers={k.replace("_", "-"): v for k, v in headers.items()})

    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = get(If_None_Match=tag)
        assert not_modified.status_code == 304, tag
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag
    assert get(If_None_Match='"adler32-00000000"').status_code == 200
    assert get(If_Modified_Since=modified).status_code == 304
    assert get(If_Modified_Since="Thu, 01 Jan 1970 00:00:00 GMT").status_code == 200
    assert get(If_Modified_Since="not a date").status_code == 200
    # If-None-Match wins over If-Modified-Since.
    assert get(If_None_Match='"x"', If_Modified_Since=modified).status_code == 200
    # If-Range: the range only if the file is still the one the client has part of.
    for still in (etag, modified):
        ranged = get(Range="bytes=0-9", If_Range=still)
        assert (ranged.status_code, ranged.content) == (206, first.content[:10]), still
    for changed in ('"adler32-00000000"', f"W/{etag}", "Thu, 01 Jan 1970 00:00:00 GMT", "x"):
        whole = get(Range="bytes=0-9", If_Range=changed)
        assert (whole.status_code, len(whole.content)) == (200, size), changed
    assert get(If_Match='"adler32-00000000"').status_code == 412
    assert get(If_Match=etag).status_code == 200


# -- paths that could leave the store ----------------------------------------------------------


TRAVERSALS = [
    "/eos/opendata/../../etc/passwd",
    "//eos/opendata/../../../etc/passwd",
    "/eos/opendata/%2e%2e/%2e%2e/etc/passwd",
    "/eos/opendata/openhep%2f..%2f..%2f..%2fetc%2fpasswd",
    "/eos/opendata/openhep%2F556",
    "/eos/opendata/..%5c..%5cetc%5cpasswd",
    "/eos/opendata/openhep/%00/passwd",
    "/eos/opendata/./openhep",
    f"/record/{RECID}/files/..%2f..%2f..%2fetc%2fpasswd",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_answers_404_and_is_logged(server: Server, target: str) -> None:
    status, body = raw_get(server, target)
    assert status == 404
    assert json.loads(body)["status"] == 404
    assert f"refused unsafe file path from 127.0.0.1: {target} " in server.log_text()


def test_curl_path_as_is_cannot_reach_etc_passwd(server: Server) -> None:
    body = curl("--path-as-is", server.url + "/eos/opendata/../../../../../../etc/passwd")
    assert json.loads(body)["status"] == 404
    assert (
        "refused unsafe file path from 127.0.0.1: /eos/opendata/../../../../../../etc/passwd"
        in (server.log_text())
    )


def test_symlinks_out_of_the_store_are_refused_and_logged(
    instance: Instance, server: Server, http: httpx.Client
) -> None:
    # A directory link with no catalogue entry behind it: not a file this instance holds.
    link = instance.home / "files" / "eos" / "opendata" / "etc-link"
    link.symlink_to("/etc", target_is_directory=True)
    try:
        response = http.get(server.url + "/eos/opendata/etc-link/passwd")
        assert response.status_code == 404 and b"root:" not in response.content
    finally:
        link.unlink()
    # A registered file replaced by a link to /etc/passwd: the store refuses to follow it.
    stored = instance.stored(LINKED)
    kept = stored.with_name("kept")
    stored.rename(kept)
    stored.symlink_to("/etc/passwd")
    try:
        for url in (
            server.url + instance.eos_path(LINKED),
            f"{server.url}/record/{RECID}/files/{LINKED}",
        ):
            response = http.get(url)
            assert response.status_code == 404 and b"root:" not in response.content
        assert f"refused unsafe file path from 127.0.0.1: {instance.eos_path(LINKED)} " in (
            server.log_text()
        )
    finally:
        stored.unlink()
        kept.rename(stored)
    assert http.get(server.url + instance.eos_path(LINKED)).status_code == 200


# -- fixity --------------------------------------------------------------------------------


def test_a_flipped_byte_is_caught_by_fixity_and_never_served_as_good(
    instance: Instance, server: Server, http: httpx.Client
) -> None:
    stored = instance.stored(FLIPPED)
    url = server.url + instance.eos_path(FLIPPED)
    assert http.get(url).status_code == 200
    with stored.open("r+b") as fh:
        fh.seek(1234)
        byte = fh.read(1)
        fh.seek(1234)
        fh.write(bytes([byte[0] ^ 0x01]))
    # Before the audit: a whole-file download is cut short, never completed with bad bytes,
    # and the file is marked corrupt on the spot: the next request is refused.
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    refused = http.get(url)
    assert refused.status_code == 503
    assert "found adler32:" in refused.json()["message"]
    fixity = subprocess.run(
        [sys.executable, "-m", "openhep", "fixity", "--json"],
        env=openhep_env(instance.home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fixity.returncode == 1, fixity.stderr
    report = json.loads(fixity.stdout)
    assert [p["path"] for p in report["problems"]] == [instance.files[FLIPPED]["path"]]
    for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-99"})):
        response = http.request(method, url, headers=headers)
        assert response.status_code == 503, (method, headers)
        if method == "GET":
            assert "failed its fixity check" in response.json()["message"]
    record = http.get(f"{server.url}/record/{RECID}/files/{FLIPPED}")
    assert record.status_code == 503
    assert http.get(server.url + instance.eos_path(SERVED)).status_code == 200


# -- constant memory -----------------------------------------------------------------------


def server_pid(port: int) -> int:
    wanted = ["openhep", "serve", "--port", str(port)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if any(argv[i : i + 4] == wanted for i in range(len(argv))):
            return int(entry.name)
    raise AssertionError(f"no openhep serve process on port {port}")


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def test_large_files_stream_in_constant_memory(
    instance: Instance, server: Server, anchors: Path
) -> None:
    # A 256 MiB file, built by concatenating a real CMS sample over and over.
    sample = (anchors / "cms-samples" / "nanoAOD_2015_CMS_Open_Data_ttbar.root").read_bytes()
    copies = -(-256 * MIB // len(sample))
    settings = Settings(home=instance.home)
    with Catalog.open(settings) as catalog:
        service = FileService.open(settings, catalog)
        try:
            added = service.add(RECID, [("big-ttbar.root", (sample for _ in range(copies)))])
        finally:
            service.close()
    (big,) = added.files
    size = big.digests.size
    assert size >= 256 * MIB
    url = server.url + "/" + big.path
    pid = server_pid(server.port)
    with httpx.Client(trust_env=False, timeout=60.0) as http:
        assert http.get(f"{url}", headers={"Range": "bytes=0-99"}).status_code == 206
        before = peak_rss(pid)
        received, adler = 0, 1
        with http.stream("GET", url) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += len(chunk)
                adler = zlib.adler32(chunk, adler)
        # Several large ranges in one response as well.
        ranges = f"bytes=0-{64 * MIB},{128 * MIB}-{192 * MIB}"
        with http.stream("GET", url, headers={"Range": ranges}) as response:
            assert response.status_code == 206
            for _ in response.iter_raw():
                pass
        after = peak_rss(pid)
    assert received == size
    assert f"adler32:{adler & 0xFFFFFFFF:08x}" == big.digests.adler32
    # The bound: the server's peak resident memory grew by far less than the file's size.
    assert after - before < 48 * MIB, (before, after, size)


# -- fuzzing -------------------------------------------------------------------------------

POSITIONS = st.one_of(
    st.integers(0, 300_000).map(str), st.just(""), st.text("0123456789", min_size=19, max_size=40)
)
RANGE_SPECS = st.one_of(
    st.tuples(POSITIONS, POSITIONS).map("-".join),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
)
RANGE_HEADERS = st.one_of(
    st.lists(RANGE_SPECS, min_size=0, max_size=8).map(lambda specs: "bytes=" + ",".join(specs)),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=RANGE_HEADERS, if_range=st.sampled_from([None, "etag", "x", "date"]))
def test_any_range_header_gets_a_range_answer_and_never_a_500(
    instance: Instance,
    server: Server,
    http: httpx.Client,
    anchors: Path,
    header: str,
    if_range: str | None,
) -> None:
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    headers = {"Range": header.strip(" ")}  # a field value has no outer white space
    stored_mtime = int(instance.stored(SERVED).stat().st_mtime)
    if if_range is not None:
        headers["If-Range"] = {
            "etag": f'"adler32-{adler32(data)}"',
            "date": formatdate(stored_mtime, usegmt=True),
        }.get(if_range, if_range)
    response = http.get(server.url + instance.eos_path(SERVED), headers=headers)
    assert response.status_code in ALLOWED
    if response.status_code == 200:
        assert response.content == data
    elif response.status_code == 206 and "content-range" in response.headers:
        first, last, size = map(int, re.findall(r"\d+", response.headers["content-range"]))
        assert size == len(data) and response.content == data[first : last + 1]
    elif response.status_code == 206:
        for content_range, part in multipart_parts(response):
            first, last, _ = map(int, re.findall(r"\d+", content_range))
            assert part == data[first : last + 1]


CONDITIONS = ("If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    condition=st.sampled_from(CONDITIONS),
    # What a field value may hold: visible ASCII, spaces and obs-text (not DEL).
    value=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=40,
    ),
    ranged=st.booleans(),
)
def test_any_condition_gets_an_rfc_answer_and_never_a_500(
    instance: Instance, server: Server, http: httpx.Client, condition: str, value: str, ranged: bool
) -> None:
    headers = {condition: value.strip()} | ({"Range": "bytes=0-9"} if ranged else {})
    response = http.get(
        server.url + instance.eos_path(SERVED),
        headers={k: v.encode("latin-1") for k, v in headers.items()},
    )
    allowed = {412} if condition in ("If-Match", "If-Unmodified-Since") else {304}
    assert response.status_code in {200, 206} | allowed, (headers, response.status_code)


PATH_PARTS = st.one_of(
    st.sampled_from(
        ["..", ".", "", "%2e%2e", "%2E", "%2f", "%2F", "%5c", "%00", "%ff", "%25", "%20", "~"]
    ),
    st.sampled_from(["etc", "passwd", "openhep", RECID, SERVED, "eos", "opendata"]),
    st.text("abcxyz019-_.~", min_size=1, max_size=12),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(["/eos/opendata/", "//eos/opendata/", f"/record/{RECID}/files/"]),
    parts=st.lists(PATH_PARTS, min_size=0, max_size=8),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_any_path_is_served_or_404_and_never_a_500(
    server: Server, prefix: str, parts: list[str], method: str
) -> None:
    target = prefix + "/".join(quote(p, safe="%~.") if "%" not in p else p for p in parts)
    status, body = raw_get(server, target, method)
    assert status in {200, 404}, (target, status, body[:200])
    if status == 404 and method == "GET":
        assert json.loads(body)["status"] == 404


def test_both_addresses_are_in_the_openapi_document(instance: Instance) -> None:
    with TestClient(create_app(Settings(home=instance.home))) as client:
        paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/eos/opendata/{path}", "/record/{recid}/files/{key}"):
        assert {"get", "head"} <= set(paths[path]), path
        assert "Range" in paths[path]["get"]["description"]
    assert not any(path.startswith("//") for path in paths)


@pytest.mark.xrootd
def test_files_on_an_xrootd_store_are_served_the_same_way(
    xrootd_server: XRootDServer, codp_dir: Path, anchors: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    extra = {"OPENHEP_STORAGE_URL": xrootd_server.store_url(f"files-http-{uuid.uuid4().hex}")}
    data = (anchors / "cms-samples" / SERVED).read_bytes()
    for args in (
        ["ingest", str(codp_dir / RECORDS_FILE)],
        ["files", "add", RECID, str(anchors / "cms-samples" / SERVED)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "openhep", *args],
            env=openhep_env(home) | extra,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    with (
        serving(home, tmp_path / "serve.log", env=extra) as url,
        httpx.Client(trust_env=False, timeout=30.0) as http,
    ):
        whole = http.get(f"{url}/record/{RECID}/files/{SERVED}")
        assert (whole.status_code, whole.content) == (200, data)
        assert whole.headers["digest"].startswith(f"adler32={adler32(data)},sha-256=")
        ranged = http.get(
            f"{url}/record/{RECID}/files/{SERVED}", headers={"Range": "bytes=100-199,-10"}
        )
        assert ranged.status_code == 206
        size = len(data)
        assert multipart_parts(ranged) == [
            (f"bytes 100-199/{size}", data[100:200]),
            (f"bytes {size - 10}-{size - 1}/{size}", data[-10:]),
        ]
        files = http.get(f"{url}/api/records/{RECID}").json()["metadata"]["files"]
        (uri,) = [f["uri"] for f in files if f["key"] == SERVED]
        eos = url + "/" + uri.removeprefix("root://eospublic.cern.ch/")  # as the client does
        assert curl("-r", "-500", eos) == data[-500:]
