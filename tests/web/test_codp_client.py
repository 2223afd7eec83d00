"""CERN's own ``cernopendata-client``, unmodified, against a live ``openhep serve``.

The client (1.0.2) reads ``/record/<recid>`` (only its status), ``/api/records/<recid>`` and
``/api/records?page=1&size=1&q=doi:"…"`` (or ``title:"…"``), then prints what it found; these
tests run it as a user would and check what it prints against the real records' JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _services.serve import free_port, run_openhep, serving

pytestmark = pytest.mark.xdist_group("live")

Record = dict[str, Any]

CLIENT = Path(sys.executable).parent / "cernopendata-client"
# What the client replaces by the server's URL to turn an XRootD location into an HTTP one.
EOS = "root://eospublic.cern.ch/"
NOT_VALID = "The record ID number you supplied is not valid."


def run_client(
    server: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return subprocess.run(
        [str(CLIENT), *args, "--server", server],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def printed_json(result: subprocess.CompletedProcess[str]) -> Record:
    """What ``get-metadata`` printed: the record's metadata as JSON."""
    printed: Record = json.loads("\n".join(lines(result)))
    return printed


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def by_recid(codp_records: list[Record], recid: str) -> Record:
    return next(r for r in codp_records if r["recid"] == recid)


def api_json(server: str, recid: str) -> Record:
    with httpx.Client(trust_env=False, timeout=30) as http:
        response = http.get(f"{server}/api/records/{recid}")
    assert response.status_code == 200, response.text
    body: Record = response.json()
    return body


def record_with_plain_files(codp_records: list[Record]) -> Record:
    """The first record with a few files and no file index among them."""
    return min(
        (
            r
            for r in codp_records
            if 2 <= len(r.get("files", [])) <= 10 and not any(f.get("type") for f in r["files"])
        ),
        key=lambda r: int(r["recid"]),
    )


def phrase_unique_title(codp_records: list[Record], predicate: Any) -> Record:
    """A record whose title, as a phrase, occurs in no other record's title."""
    token_lists = [(r["recid"], words(r["title"])) for r in codp_records]
    joined = {recid: f" {' '.join(tokens)} " for recid, tokens in token_lists}
    for record in sorted(codp_records, key=lambda r: int(r["recid"])):
        if not predicate(record):
            continue
        phrase = f" {' '.join(words(record['title']))} "
        if sum(phrase in text for text in joined.values()) == 1:
            return record
    raise AssertionError("no record has a title unique as a phrase")


# -- get-metadata ------------------------------------------------------------------------------


def test_get_metadata_by_recid_prints_the_record(
    live_server: str, codp_records: list[Record]
) -> None:
    printed = printed_json(run_client(live_server, "get-metadata", "--recid", "1"))
    source = by_recid(codp_records, "1")
    assert printed["recid"] == "1"
    assert printed["title"] == source["title"]
    assert printed["doi"] == source["doi"]
    assert [f["uri"] for f in printed["files"]] == [f["uri"] for f in source["files"]]


def test_get_metadata_output_value(live_server: str, codp_records: list[Record]) -> None:
    source = min(
        (r for r in codp_records if (r.get("system_details") or {}).get("global_tag")),
        key=lambda r: int(r["recid"]),
    )
    result = run_client(
        live_server,
        "get-metadata",
        "--recid",
        source["recid"],
        "--output-value",
        "system_details.global_tag",
    )
    assert lines(result) == [source["system_details"]["global_tag"]]
    title = run_client(live_server, "get-metadata", "--recid", "1", "--output-value", "title")
    assert lines(title) == [by_recid(codp_records, "1")["title"]]


def test_get_metadata_output_value_the_record_lacks(
    live_server: str, codp_records: list[Record]
) -> None:
    # 12341 (the client's documented example) has no system_details in these records.
    assert "system_details" not in by_recid(codp_records, "12341")
    result = run_client(
        live_server,
        "get-metadata",
        "--recid",
        "12341",
        "--output-value",
        "system_details.global_tag",
    )
    assert result.returncode == 1
    assert "Field 'system_details' is not present in metadata" in result.stdout


def doi_record(codp_records: list[Record], kind: str) -> Record:
    if kind == "CMS":
        return by_recid(codp_records, "1")
    # The first record of another experiment that has a DOI.
    return min(
        (r for r in codp_records if r.get("doi") and "CMS" not in r["experiment"]),
        key=lambda r: int(r["recid"]),
    )


@pytest.mark.parametrize("kind", ["CMS", "other experiment"])
def test_get_metadata_by_doi(live_server: str, codp_records: list[Record], kind: str) -> None:
    source = doi_record(codp_records, kind)
    result = run_client(live_server, "get-metadata", "--doi", source["doi"])
    printed = printed_json(result)
    assert (printed["recid"], printed["doi"]) == (source["recid"], source["doi"])
    # DOIs are case-insensitive.
    lower = run_client(live_server, "get-metadata", "--doi", source["doi"].lower())
    assert printed_json(lower)["recid"] == source["recid"]


@pytest.mark.parametrize("kind", ["path", "non-ascii"])
def test_get_metadata_by_title(live_server: str, codp_records: list[Record], kind: str) -> None:
    if kind == "path":
        source = phrase_unique_title(codp_records, lambda r: r["title"].startswith("/"))
    else:
        source = phrase_unique_title(codp_records, lambda r: not r["title"].isascii())
    result = run_client(live_server, "get-metadata", "--title", source["title"])
    printed = printed_json(result)
    assert (printed["recid"], printed["title"]) == (source["recid"], source["title"])


def test_unknown_recid_fails_with_the_clients_message(live_server: str) -> None:
    result = run_client(live_server, "get-metadata", "--recid", "999999999")
    assert result.returncode != 0
    assert NOT_VALID in result.stdout + result.stderr
    with httpx.Client(trust_env=False) as http:
        assert http.get(f"{live_server}/record/999999999").status_code == 404


def test_unknown_doi_exits_2(live_server: str) -> None:
    result = run_client(live_server, "get-metadata", "--doi", "10.7483/OPENDATA.NOPE.0000.0000")
    assert result.returncode == 2
    assert "Record with given doi does not exist." in result.stdout


def test_unknown_title_exits_2(live_server: str) -> None:
    result = run_client(live_server, "get-metadata", "--title", "No such title zzyzx")
    assert result.returncode == 2
    assert "Record with given title does not exist." in result.stdout


# -- get-file-locations ------------------------------------------------------------------------


def test_file_locations_over_xrootd_are_the_records_uris(
    live_server: str, codp_records: list[Record]
) -> None:
    source = record_with_plain_files(codp_records)
    result = run_client(
        live_server, "get-file-locations", "--recid", source["recid"], "--protocol", "xrootd"
    )
    uris = [f["uri"] for f in source["files"]]
    assert all(u.startswith("root://eospublic.cern.ch//eos/opendata/") for u in uris)
    assert lines(result) == uris


def test_file_locations_over_http_point_at_the_server(
    live_server: str, codp_records: list[Record]
) -> None:
    source = record_with_plain_files(codp_records)
    expected = [live_server + f["uri"].removeprefix(EOS) for f in source["files"]]
    assert all(u.startswith(f"{live_server}/eos/opendata/") for u in expected)
    for protocol in ([], ["--protocol", "http"]):
        result = run_client(
            live_server, "get-file-locations", "--recid", source["recid"], *protocol
        )
        assert lines(result) == expected


def test_verbose_file_locations_show_sizes_and_checksums(
    live_server: str, codp_records: list[Record]
) -> None:
    source = record_with_plain_files(codp_records)
    result = run_client(
        live_server,
        "get-file-locations",
        "--recid",
        source["recid"],
        "--protocol",
        "xrootd",
        "--verbose",
    )
    rows = [line.split("\t") for line in lines(result)]
    assert [(uri, int(size)) for uri, size, _ in rows] == [
        (f["uri"], f["size"]) for f in source["files"]
    ]
    for (_, _, checksum), stored in zip(rows, source["files"], strict=True):
        algorithm, _, digest = stored["checksum"].partition(":")
        assert algorithm == "adler32"
        assert checksum == f"adler32:{int(digest, 16):08x}"


@pytest.mark.parametrize("expand", ["--expand", "--no-expand"])
def test_file_locations_of_a_record_with_file_indices(
    live_server: str, codp_records: list[Record], expand: str
) -> None:
    source = by_recid(codp_records, "1")
    assert all(f["type"].startswith("index") for f in source["files"])
    metadata = api_json(live_server, "1")["metadata"]
    # What the client makes of the API's answer (searcher.get_files_list, xrootd protocol).
    expected = [f["uri"] for f in metadata["files"]]
    for index in metadata.get("_file_indices", []):
        if expand == "--expand":
            expected += [f["uri"] for f in index["files"]]
        else:
            expected.append(f"{EOS}/record/1/file_index/{index['key']}")
    assert expected[: len(source["files"])] == [f["uri"] for f in source["files"]]
    result = run_client(
        live_server, "get-file-locations", "--recid", "1", "--protocol", "xrootd", expand
    )
    assert lines(result) == expected


# -- download-files ----------------------------------------------------------------------------


def test_download_dry_run_lists_the_files_and_downloads_nothing(
    live_server: str, codp_records: list[Record], tmp_path: Path
) -> None:
    source = record_with_plain_files(codp_records)
    result = run_client(
        live_server, "download-files", "--recid", source["recid"], "--dry-run", cwd=tmp_path
    )
    assert lines(result) == [live_server + f["uri"].removeprefix(EOS) for f in source["files"]]
    assert list(tmp_path.iterdir()) == []
    name = source["files"][-1]["uri"].rsplit("/", 1)[1]
    one = run_client(
        live_server,
        "download-files",
        "--recid",
        source["recid"],
        "--dry-run",
        "--filter-name",
        name,
        cwd=tmp_path,
    )
    assert lines(one) == [live_server + source["files"][-1]["uri"].removeprefix(EOS)]
    assert list(tmp_path.iterdir()) == []


# -- sample records with real bytes (openhep demo) and a file index ----------------------------

SAMPLE = "990001"  # the DoubleMuParked RNTuple sample: first 1,000 events of record 12341
INDEXED = "990004"  # the Z to two muons sample, given a file index below


@pytest.fixture(scope="module")
def sample_server(
    request: pytest.FixtureRequest,
    codp_dir: Path,
    anchors: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``openhep serve`` over an instance the real ``openhep demo`` filled with its samples."""
    # This directory's conftest, as pytest registered it (a plain ``import conftest`` may
    # find another directory's conftest module under that name).
    web = request.config.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    run_openhep, serving = web.run_openhep, web.serving
    base = tmp_path_factory.mktemp("samples")
    home, records, folder = base / "home", base / "records", base / "zmumu"
    records.mkdir()
    source = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
    (records / source).write_bytes((codp_dir / source).read_bytes())
    (folder / "2010").mkdir(parents=True)
    (folder / "2010" / "uproot-Zmumu.root").write_bytes(
        (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
    )
    run_openhep(home, "demo", "--records", str(records), "--samples", str(anchors), "--json")
    run_openhep(home, "files", "index", INDEXED, "--from-dir", str(folder), "--name", "zmumu")
    with serving(home, base / "serve.log") as url:
        yield url


def test_sample_file_locations_are_its_stored_files(sample_server: str, anchors: Path) -> None:
    metadata = api_json(sample_server, SAMPLE)["metadata"]
    assert {"type": "isChildOf", "recid": "12341"}.items() <= metadata["relations"][0].items()
    name = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
    data = (anchors / "cms-samples" / name).read_bytes()
    rows = lines(run_client(sample_server, "get-file-locations", "--recid", SAMPLE, "--verbose"))
    uri, size, checksum = rows[0].split("\t")
    assert len(rows) == 1
    assert uri.startswith(f"{sample_server}/eos/opendata/openhep/{SAMPLE}/")
    assert uri.endswith(f"/{name}")
    assert (int(size), checksum) == (len(data), f"adler32:{zlib.adler32(data):08x}")


@pytest.mark.parametrize("expand", ["--expand", "--no-expand"])
def test_file_locations_of_a_sample_with_a_file_index(sample_server: str, expand: str) -> None:
    metadata = api_json(sample_server, INDEXED)["metadata"]
    (index,) = metadata["_file_indices"]
    assert (index["key"], index["number_files"]) == ("zmumu_file_index", 1)
    assert index["files"][0]["key"] == "uproot-Zmumu.root"
    result = run_client(
        sample_server, "get-file-locations", "--recid", INDEXED, "--protocol", "xrootd", expand
    )
    expected = [f["uri"] for f in metadata["files"]]
    if expand == "--expand":
        expected.append(index["files"][0]["uri"])
    else:
        expected.append(f"{EOS}/record/{INDEXED}/file_index/zmumu_file_index")
    assert lines(result) == expected
    # What --no-expand links to over HTTP is the index's JSON listing.
    with httpx.Client(trust_env=False, timeout=30) as http:
        listing = http.get(f"{sample_server}/record/{INDEXED}/file_index/zmumu_file_index")
        assert listing.json() == index["files"]
        txt = http.get(f"{sample_server}/record/{INDEXED}/file_index/zmumu_file_index.txt")
        assert txt.text == index["files"][0]["uri"] + "\n"


@pytest.mark.parametrize("recid", [SAMPLE, "990008"])
def test_download_and_verify_a_sample_record(
    sample_server: str, anchors: Path, tmp_path: Path, recid: str
) -> None:
    metadata = api_json(sample_server, recid)["metadata"]
    download = run_client(sample_server, "download-files", "--recid", recid, cwd=tmp_path)
    assert download.returncode == 0, download.stdout + download.stderr
    (name,) = [f["key"] for f in metadata["files"]]
    folder = "cms-samples" if name.endswith(".root") else "ispy"
    assert (tmp_path / recid / name).read_bytes() == (anchors / folder / name).read_bytes()
    verify = run_client(sample_server, "verify-files", "--recid", recid, cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Success!" in verify.stdout + verify.stderr


# -- files not held here: the client follows the redirect to their origin ----------------------

DOUBLEMU = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
EOS_ORIGIN = "root://eospublic.cern.ch//eos/opendata/="


@pytest.fixture(scope="module")
def mirror_home(
    sample_server: str, codp_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An instance listing 990001 (as the sample server publishes it) and 12341, holding the
    bytes of neither: the sample server is the origin of the one, CERN's EOS of the other."""
    base = tmp_path_factory.mktemp("mirror")
    records = base / "records"
    records.mkdir()
    sample = api_json(sample_server, SAMPLE)["metadata"]
    sample.pop("_file_indices", None)
    for entry in sample["files"]:
        entry.pop("availability", None)
    (records / "sample.json").write_text(json.dumps([sample]))
    (records / DOUBLEMU).write_bytes((codp_dir / DOUBLEMU).read_bytes())
    home = base / "home"
    run_openhep(home, "ingest", str(records))
    return home


@pytest.fixture(scope="module")
def mirror(mirror_home: Path, sample_server: str) -> Iterator[str]:
    """``openhep serve`` over the mirror, its origin rule pointing at the sample server."""
    origins = {"OPENHEP_FILE_ORIGINS": f"{EOS_ORIGIN}{sample_server}/eos/opendata/"}
    with serving(mirror_home, mirror_home.parent / "mirror.log", env=origins) as url:
        yield url


@pytest.fixture(scope="module")
def cut_off_mirror(mirror_home: Path) -> Iterator[str]:
    """The same mirror whose origin cannot be reached: a local port nothing listens on."""
    origins = {"OPENHEP_FILE_ORIGINS": f"{EOS_ORIGIN}http://127.0.0.1:{free_port()}/eos/opendata/"}
    with serving(mirror_home, mirror_home.parent / "cut-off.log", env=origins) as url:
        yield url


def test_download_files_fetches_the_true_bytes_through_the_redirect(
    mirror: str, sample_server: str, anchors: Path, tmp_path: Path
) -> None:
    (entry,) = api_json(mirror, SAMPLE)["metadata"]["files"]
    assert entry["availability"] == "remote"
    path = entry["uri"].removeprefix(EOS)
    with httpx.Client(trust_env=False, timeout=30) as http:
        for method in ("GET", "HEAD"):
            answer = http.request(method, mirror + path)
            assert answer.status_code == 307
            assert answer.headers["location"] == sample_server + path
            assert answer.content == b""
    download = run_client(mirror, "download-files", "--recid", SAMPLE, cwd=tmp_path)
    assert download.returncode == 0, download.stdout + download.stderr
    data = (anchors / "cms-samples" / entry["key"]).read_bytes()
    assert (tmp_path / SAMPLE / entry["key"]).read_bytes() == data
    assert (len(data), f"adler32:{zlib.adler32(data):08x}") == (entry["size"], entry["checksum"])
    verify = run_client(mirror, "verify-files", "--recid", SAMPLE, cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Success!" in verify.stdout + verify.stderr


@pytest.mark.parametrize("recid", ["12341", SAMPLE])
def test_with_the_origin_unreachable_download_files_fails_and_saves_nothing(
    cut_off_mirror: str, tmp_path: Path, recid: str
) -> None:
    # The issue's own example: 12341's 2.2 GB file is not held here.
    result = run_client(cut_off_mirror, "download-files", "--recid", recid, cwd=tmp_path)
    assert result.returncode != 0
    assert "Success!" not in result.stdout + result.stderr
    saved = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert saved == [], [p.read_bytes()[:200] for p in saved]
