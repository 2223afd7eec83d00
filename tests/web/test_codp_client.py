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
from pathlib import Path
from typing import Any

import httpx
import pytest

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
