"""The CODP-compatible REST API over the 7,535 real records, checked against the records' JSON.

Every expected count and recid set is computed here from ``codp_records`` (read with plain
``json``), never from openhep. All the records are public (the latest ``date_published`` is 2026)
and none has ``distribution.availability``, so none is on-demand: all of them count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from posixpath import basename
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import markupsafe
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.jsontext import strings
from openhep.search import FILTER_NAMES

Record = dict[str, Any]

TOTAL = 7535
CHECKSUM = re.compile(r"^adler32:[0-9a-f]{8}$|^sha1:[0-9a-f]{40}$")

# Every value of the records, spelled out so that test ids read well; the first test checks
# that these lists are exactly what the records hold.
EXPERIMENTS = ("ALICE", "ATLAS", "CMS", "DELPHI", "LHCb", "OPERA", "PHENIX", "TOTEM")
TYPES = ("Dataset", "Documentation", "Environment", "Software", "Supplementaries")
SUBTYPES = (
    ("Dataset", "Collision"),
    ("Dataset", "Derived"),
    ("Dataset", "Simulated"),
    ("Documentation", "Activities"),
    ("Documentation", "Authors"),
    ("Documentation", "Guide"),
    ("Documentation", "Help"),
    ("Documentation", "Policy"),
    ("Documentation", "Report"),
    ("Environment", "Condition"),
    ("Environment", "VM"),
    ("Environment", "Validation"),
    ("Software", "Analysis"),
    ("Software", "Framework"),
    ("Software", "Tool"),
    ("Software", "Validation"),
    ("Software", "Workflow"),
    ("Supplementaries", "Configuration"),
    ("Supplementaries", "Configuration HLT"),
    ("Supplementaries", "Configuration LHE"),
    ("Supplementaries", "Configuration RECO"),
    ("Supplementaries", "Configuration SIM"),
    ("Supplementaries", "Correction"),
    ("Supplementaries", "Luminosity"),
    ("Supplementaries", "Trigger"),
)


# -- what the records say, computed independently ----------------------------------------------


def years(record: Record) -> set[int]:
    return {int(d[:4]) for d in record.get("date_created") or []}


def number_events(record: Record) -> int | None:
    value: int | None = (record.get("distribution") or {}).get("number_events")
    return value


def words(text: str) -> list[str]:
    """tantivy's default tokenizer: runs of letters and digits, lower-cased."""
    return re.findall(r"[^\W_]+", text.lower())


def has_phrase(text: str, phrase: str) -> bool:
    return f" {' '.join(words(phrase))} " in f" {' '.join(words(text))} "


def normalized_checksum(value: str) -> str:
    algorithm, _, digest = value.partition(":")
    if algorithm in ("adler32", "alder32"):
        return f"adler32:{int(digest, 16):08x}"
    return f"{algorithm}:{digest.lower()}"


def matching(records: list[Record], predicate: Callable[[Record], bool]) -> set[str]:
    return {r["recid"] for r in records if predicate(r)}


def in_range(low: int | None, high: int | None) -> Callable[[int], bool]:
    return lambda year: (low is None or year >= low) and (high is None or year <= high)


# -- talking to the API --------------------------------------------------------------------------


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/records/", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: TestClient, **params: Any) -> tuple[list[Record], int]:
    """Every hit of a search, following ``links.next`` from the first page (size 1000)."""
    response = client.get("/api/records/", params={"size": 1000, **params})
    hits: list[Record] = []
    for _ in range(TOTAL // 1000 + 2):
        assert response.status_code == 200, response.text
        body = response.json()
        hits += body["hits"]["hits"]
        following = body["links"].get("next")
        if following is None:
            assert len(hits) == body["hits"]["total"], "the last page came before the end"
            return hits, body["hits"]["total"]
        response = client.get(following)
    pytest.fail(f"links.next never ended ({len(hits)} hits so far)")


def recids_of(hits: list[Record]) -> set[str]:
    found = [h["id"] for h in hits]
    assert len(found) == len(set(found)), "a record came twice"
    return set(found)


@pytest.fixture(scope="module")
def everything(client: TestClient) -> tuple[list[Record], int]:
    """The whole catalogue as the API lists it, files included, walked with ``links.next``."""
    return walk(client)


# -- the parameter lists ---------------------------------------------------------------------------


def test_the_parameter_lists_name_every_value_of_the_records(codp_records: list[Record]) -> None:
    assert len(codp_records) == TOTAL
    assert {e for r in codp_records for e in r["experiment"]} == set(EXPERIMENTS)
    assert {r["type"]["primary"] for r in codp_records} == set(TYPES)
    pairs = {(r["type"]["primary"], s) for r in codp_records for s in r["type"]["secondary"]}
    assert pairs == set(SUBTYPES)
    # The premises of the counts below: everything is public and nothing is on demand.
    assert max(r["date_published"] for r in codp_records) <= "2026"
    assert not any("release_date" in r for r in codp_records)
    assert not any((r.get("distribution") or {}).get("availability") for r in codp_records)


# -- filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_filter(client: TestClient, codp_records: list[Record], experiment: str) -> None:
    expected = matching(codp_records, lambda r: experiment in r["experiment"])
    assert search(client, experiment=experiment, size=1)["hits"]["total"] == len(expected)


@pytest.mark.parametrize("primary", TYPES)
def test_type_filter(client: TestClient, codp_records: list[Record], primary: str) -> None:
    expected = matching(codp_records, lambda r: r["type"]["primary"] == primary)
    assert search(client, type=primary, size=1)["hits"]["total"] == len(expected)


@pytest.mark.parametrize(("primary", "secondary"), SUBTYPES, ids=[f"{p}/{s}" for p, s in SUBTYPES])
def test_type_and_subtype_filter(
    client: TestClient, codp_records: list[Record], primary: str, secondary: str
) -> None:
    expected = matching(
        codp_records,
        lambda r: r["type"]["primary"] == primary and secondary in r["type"]["secondary"],
    )
    body = search(client, type=primary, subtype=secondary, size=1)
    assert body["hits"]["total"] == len(expected)
    # CODP's links carry the subtype alone; "Primary::secondary" names the same records.
    qualified = search(client, subtype=f"{primary}::{secondary}", size=1)
    assert qualified["hits"]["total"] == len(expected)


YEAR_FILTERS = {
    "2011": in_range(2011, 2011),
    "2010--2012": in_range(2010, 2012),
    "2015--": in_range(2015, None),
    "--2010": in_range(None, 2010),
    "2014": in_range(2014, 2014),  # no record was created in 2014
}


@pytest.mark.parametrize("year", YEAR_FILTERS)
def test_year_filter(client: TestClient, codp_records: list[Record], year: str) -> None:
    inside = YEAR_FILTERS[year]
    expected = matching(codp_records, lambda r: any(inside(y) for y in years(r)))
    hits, total = walk(client, year=year, skip_files=1)
    assert total == len(expected)
    assert recids_of(hits) == expected


def test_several_values_of_one_filter_mean_any_of_them(
    client: TestClient, codp_records: list[Record]
) -> None:
    expected = matching(codp_records, lambda r: bool(years(r) & {2008, 2016}))
    assert search(client, year=["2008", "2016"], size=1)["hits"]["total"] == len(expected)
    both = matching(codp_records, lambda r: bool({"OPERA", "TOTEM"} & set(r["experiment"])))
    assert search(client, experiment=["OPERA", "TOTEM"], size=1)["hits"]["total"] == len(both)
    # Every subtype the records use, named at once, finds every record.
    secondaries = sorted({s for _, s in SUBTYPES})
    assert search(client, subtype=secondaries, size=1)["hits"]["total"] == TOTAL


def test_number_events_filter(client: TestClient, codp_records: list[Record]) -> None:
    expected = matching(codp_records, lambda r: 1000 <= (number_events(r) or -1) <= 9999)
    hits, total = walk(client, number_events="1000--9999", skip_files=1)
    assert (total, recids_of(hits)) == (len(expected), expected)


def test_filters_combine_with_and(client: TestClient, codp_records: list[Record]) -> None:
    expected = matching(
        codp_records,
        lambda r: (
            "CMS" in r["experiment"] and r["type"]["primary"] == "Dataset" and 2012 in years(r)
        ),
    )
    hits, total = walk(client, experiment="CMS", type="Dataset", year="2012", skip_files=1)
    assert (total, recids_of(hits)) == (len(expected), expected)


# -- facets ----------------------------------------------------------------------------------------


def buckets(aggregation: dict[str, Any]) -> dict[str, int]:
    found = [(b["key"], b["doc_count"]) for b in aggregation["buckets"]]
    assert len(found) == len({k for k, _ in found}), "a bucket came twice"
    return dict(found)


def test_facets_count_the_records(client: TestClient, codp_records: list[Record]) -> None:
    aggregations = search(client, size=1)["aggregations"]
    per_experiment = Counter(e for r in codp_records for e in set(r["experiment"]))
    assert buckets(aggregations["experiment"]) == dict(per_experiment)
    per_year = Counter(str(y) for r in codp_records for y in years(r))
    assert buckets(aggregations["year"]) == dict(per_year)

    per_type = Counter(r["type"]["primary"] for r in codp_records)
    assert buckets(aggregations["type"]) == dict(per_type)
    for bucket in aggregations["type"]["buckets"]:
        primary = bucket["key"]
        per_subtype = Counter(
            s
            for r in codp_records
            if r["type"]["primary"] == primary
            for s in r["type"]["secondary"]
        )
        assert buckets(bucket["subtype"]) == dict(per_subtype), primary


def test_selected_facets_keep_their_alternatives(
    client: TestClient, codp_records: list[Record]
) -> None:
    # Post-filter semantics: the experiment facet ignores the experiment selection, the other
    # facets count only what the selection leaves.
    body = search(client, experiment="CMS", size=1)
    cms = [r for r in codp_records if "CMS" in r["experiment"]]
    assert body["hits"]["total"] == len(cms)
    everywhere = Counter(e for r in codp_records for e in set(r["experiment"]))
    assert buckets(body["aggregations"]["experiment"]) == dict(everywhere)
    assert buckets(body["aggregations"]["type"]) == dict(Counter(r["type"]["primary"] for r in cms))

    both = search(client, experiment="CMS", type="Dataset", size=1)["aggregations"]
    cms_types = Counter(r["type"]["primary"] for r in cms)
    assert buckets(both["type"]) == dict(cms_types)
    datasets = [r for r in codp_records if r["type"]["primary"] == "Dataset"]
    assert buckets(both["experiment"]) == dict(
        Counter(e for r in datasets for e in set(r["experiment"]))
    )


# -- queries ---------------------------------------------------------------------------------------


QUERIES: dict[str, tuple[Callable[[Record], bool], int | None]] = {
    # q: (which records it must find, how many there are if the brief fixes it)
    "title:muon": (lambda r: "muon" in words(r["title"]), None),
    "collision_information.energy:13TeV": (
        lambda r: "13tev" in words((r.get("collision_information") or {}).get("energy", "")),
        1747,
    ),
    "distribution.number_events:[1000 TO 5000]": (
        lambda r: 1000 <= (number_events(r) or -1) <= 5000,
        72,
    ),
    "number_events:{1000 TO 5000]": (lambda r: 1000 < (number_events(r) or -1) <= 5000, None),
    "experiment:OPERA AND type:Dataset": (
        lambda r: "OPERA" in r["experiment"] and r["type"]["primary"] == "Dataset",
        None,
    ),
    "title:muon OR title:electron": (
        lambda r: bool({"muon", "electron"} & set(words(r["title"]))),
        None,
    ),
    "experiment:ALICE NOT type:Dataset": (
        lambda r: "ALICE" in r["experiment"] and r["type"]["primary"] != "Dataset",
        None,
    ),
}


@pytest.mark.parametrize("q", QUERIES)
def test_query_finds_exactly_the_matching_records(
    client: TestClient, codp_records: list[Record], q: str
) -> None:
    predicate, count = QUERIES[q]
    expected = matching(codp_records, predicate)
    if count is not None:
        assert len(expected) == count
    assert expected, "a query that finds nothing checks little"
    hits, total = walk(client, q=q, skip_files=1)
    assert total == len(expected)
    assert recids_of(hits) == expected


def test_phrase_query_finds_every_title_holding_it(
    client: TestClient, codp_records: list[Record]
) -> None:
    expected = matching(codp_records, lambda r: "higgs boson" in r["title"].lower())
    assert expected
    hits, total = walk(client, q='"Higgs boson"', skip_files=1)
    assert total == len(hits)
    assert recids_of(hits) >= expected
    for hit in hits:
        assert any(has_phrase(s, "Higgs boson") for s in strings(hit["metadata"])), hit["id"]


# -- did you mean ----------------------------------------------------------------------------------


def has_word(word: str) -> Callable[[Any], bool]:
    return lambda value: any(word in words(s) for s in strings(value))


SUGGESTED: dict[str, tuple[str, Callable[[Record], bool]]] = {
    # q finding nothing: (its first suggestion, which records that one finds)
    "keywords:CMS": ("experiment:CMS", lambda r: has_word("cms")(r["experiment"])),
    "Experiment:ATLAS": ("experiment:ATLAS", lambda r: has_word("atlas")(r["experiment"])),
    "experiment:CSM": ("experiment:CMS", lambda r: has_word("cms")(r["experiment"])),
    "title:Exotica": (
        "category:Exotica",
        lambda r: has_word("exotica")((r.get("categories") or {}).get("primary")),
    ),
    "muonn": ("muon", has_word("muon")),
    # Only in a file name: free words leave URIs out, files.uri searches them.
    "triboson": ("files.uri:triboson", lambda r: has_word("triboson")(r.get("files"))),
    "configfile": ("files.uri:configfile", lambda r: has_word("configfile")(r.get("files"))),
}


@pytest.mark.parametrize("q", SUGGESTED)
def test_a_query_finding_nothing_is_offered_queries_that_would(
    client: TestClient, codp_records: list[Record], q: str
) -> None:
    first, finds = SUGGESTED[q]
    body = search(client, q=q, size=1)
    assert body["hits"]["total"] == 0
    suggestions = body["suggestions"]
    assert suggestions[0]["q"] == first
    assert suggestions[0]["total"] == len(matching(codp_records, finds))
    for suggestion in suggestions:  # every one a link that finds what it says
        answer = client.get(suggestion["links"]["self"]).json()
        assert answer["hits"]["total"] == suggestion["total"] > 0
        assert answer["suggestions"] == []


def test_suggestions_keep_the_filters_and_find_records_with_them(client: TestClient) -> None:
    body = search(client, q="keywords:CMS", type="Software", size=5)
    assert body["hits"]["total"] == 0
    assert body["suggestions"]
    for suggestion in body["suggestions"]:
        link = suggestion["links"]["self"]
        assert dict(parse_qsl(urlsplit(link).query)) == {
            "q": suggestion["q"], "type": "Software", "size": "5"
        }  # fmt: skip
        answer = client.get(link).json()
        assert answer["hits"]["total"] == suggestion["total"] > 0
        assert {hit["metadata"]["type"]["primary"] for hit in answer["hits"]["hits"]} == {
            "Software"
        }


@pytest.mark.parametrize("q", ["muon", "", "zzzzqqqxx", "muon zzzzqqqxx", "-muon"])
def test_no_suggestion_unless_one_finds_records(client: TestClient, q: str) -> None:
    # Found records, or no word with anything near it: nothing to suggest.
    assert search(client, q=q, size=1)["suggestions"] == []


# -- the answer's shape ----------------------------------------------------------------------------


def test_every_record_is_listed_once_with_codp_fields(
    everything: tuple[list[Record], int], codp_records: list[Record]
) -> None:
    hits, total = everything
    assert type(total) is int
    assert total == TOTAL
    assert recids_of(hits) == {r["recid"] for r in codp_records}
    by_recid = {r["recid"]: r for r in codp_records}
    for hit in hits:
        assert set(hit) >= {"id", "created", "updated", "metadata", "links"}
        metadata = hit["metadata"]
        assert metadata["recid"] == hit["id"]
        assert isinstance(metadata["recid"], str)
        source = by_recid[hit["id"]]
        assert len(metadata.get("files", [])) == len(source.get("files", []))
        for shown, stored in zip(metadata.get("files", []), source.get("files", []), strict=True):
            assert {"uri", "size", "checksum", "key"} <= set(shown)
            assert CHECKSUM.match(shown["checksum"]), shown["checksum"]
            assert shown["checksum"] == normalized_checksum(stored["checksum"])
            assert (shown["uri"], shown["size"]) == (stored["uri"], stored["size"])
            assert shown["key"] == basename(stored["uri"])


def test_skip_files_leaves_files_out(client: TestClient) -> None:
    body = search(client, q="recid:1 OR recid:270", skip_files=1)
    assert {h["id"] for h in body["hits"]["hits"]} == {"1", "270"}
    assert all("files" not in h["metadata"] for h in body["hits"]["hits"])
    with_files = search(client, q="recid:1 OR recid:270")
    assert all(h["metadata"]["files"] for h in with_files["hits"]["hits"])


def test_page_size_is_bounded(client: TestClient) -> None:
    response = client.get("/api/records/", params={"size": 1001})
    assert response.status_code == 400
    assert response.json()["message"]
    assert len(search(client, size=1000, skip_files=1)["hits"]["hits"]) == 1000


def test_pages_beyond_the_end_are_empty(client: TestClient) -> None:
    body = search(client, page=100, size=100)
    assert body["hits"]["hits"] == []
    assert body["hits"]["total"] == TOTAL
    last = search(client, page=76, size=100, skip_files=1)
    assert len(last["hits"]["hits"]) == TOTAL - 7500


def test_pages_tile_the_results(client: TestClient) -> None:
    pages = [search(client, page=p, size=7, sort="title", skip_files=1) for p in (1, 2, 3)]
    joined = [h["id"] for page in pages for h in page["hits"]["hits"]]
    whole = [h["id"] for h in search(client, size=21, sort="title", skip_files=1)["hits"]["hits"]]
    assert joined == whole


@pytest.mark.parametrize(("sort", "descending"), [("title", False), ("title_desc", True)])
def test_title_sorts(
    client: TestClient, codp_records: list[Record], sort: str, descending: bool
) -> None:
    hits, total = walk(client, sort=sort, skip_files=1)
    assert total == len(hits) == TOTAL
    titles = [h["metadata"]["title"].lower() for h in hits]
    assert titles == sorted((r["title"].lower() for r in codp_records), reverse=descending)


def test_mostrecent_sort(client: TestClient, everything: tuple[list[Record], int]) -> None:
    # Without a query the default order is the most recent first: ``everything`` walked it.
    hits, _ = everything
    published = [h["metadata"]["date_published"] for h in hits]
    assert published == sorted(published, reverse=True)
    for page in (1, 5):
        explicit = search(client, sort="mostrecent", size=200, page=page, skip_files=1)
        shown = [h["id"] for h in explicit["hits"]["hits"]]
        assert shown == [h["id"] for h in hits[(page - 1) * 200 : page * 200]]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "newest"},
        {"search_after": "not-a-cursor"},
        {"year": "twelve"},
        {"number_events": "--"},
        {"size": "0"},
        {"page": "0"},
        {"page": "two"},
        {"q": "x" * 2001},
        {"q": "title:(muon"},
        {"q": "year:[2010 TO"},
    ],
    ids=str,
)
def test_bad_searches_are_refused_with_a_message(
    client: TestClient, params: dict[str, str]
) -> None:
    response = client.get("/api/records/", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["message"].strip()


def test_searches_without_the_trailing_slash_are_answered(client: TestClient) -> None:
    # cernopendata-client asks for /api/records?page=1&size=1&q=doi:"…".
    response = client.get('/api/records?page=1&size=1&q=doi:"10.7483/OPENDATA.CMS.A342.9982"')
    assert response.status_code == 200
    body = response.json()
    assert body["hits"]["total"] == 1
    assert body["hits"]["hits"][0]["id"] == "1"


def test_on_demand_records_are_none_here(client: TestClient) -> None:
    assert search(client, ondemand="true", size=1)["hits"]["total"] == TOTAL
    assert buckets(search(client, size=1)["aggregations"]["availability"]) == {"online": TOTAL}


# -- one record ------------------------------------------------------------------------------------


def pick(codp_records: list[Record], kind: str) -> Record:
    predicates: dict[str, Callable[[Record], bool]] = {
        "recid 1": lambda r: r["recid"] == "1",
        "sha1 checksums": lambda r: any(
            f["checksum"].startswith("sha1:") for f in r.get("files", [])
        ),
        "short adler32": lambda r: any(
            re.fullmatch(r"adler32:[0-9a-fA-F]{1,7}", f["checksum"]) for f in r.get("files", [])
        ),
        "alder32 misspelt": lambda r: any(
            f["checksum"].startswith("alder32:") for f in r.get("files", [])
        ),
        "no files": lambda r: not r.get("files"),
        "several experiments": lambda r: len(r["experiment"]) > 1,
        "non-ascii title": lambda r: not r["title"].isascii(),
    }
    return min((r for r in codp_records if predicates[kind](r)), key=lambda r: int(r["recid"]))


RECORD_KINDS = (
    "recid 1",
    "sha1 checksums",
    "short adler32",
    "alder32 misspelt",
    "no files",
    "several experiments",
    "non-ascii title",
)


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_record_is_its_stored_json(
    client: TestClient, codp_records: list[Record], kind: str
) -> None:
    source = pick(codp_records, kind)
    recid = source["recid"]
    response = client.get(f"/api/records/{recid}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["id"] == recid
    assert body["links"]["self"].endswith(f"/api/records/{recid}")
    metadata = body["metadata"]
    # No file index contents are ingested from the CODP JSON, so none are listed yet; a record
    # without files may list an empty ``files``.
    assert metadata.pop("_file_indices", []) == []
    expected = dict(source)
    # CODP's files are on EOS, not held by this instance: each is listed as ``remote``.
    expected_files = [
        {
            **f,
            "checksum": normalized_checksum(f["checksum"]),
            "key": basename(f["uri"]),
            "availability": "remote",
        }
        for f in expected.pop("files", [])
    ]
    assert metadata.pop("files", []) == expected_files
    assert metadata == expected


def test_record_without_files_on_request(client: TestClient) -> None:
    body = client.get("/api/records/1", params={"skip_files": 1}).json()
    assert "files" not in body["metadata"]
    assert body["metadata"]["title"] == "/BTau/Run2010B-Apr21ReReco-v1/AOD"


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/999999999",
        "/api/records/999999999/versions",
        "/record/999999999",
        "/api/records/1?version=2",
    ],
)
def test_unknown_records_are_404_with_a_message(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert "does not exist" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/abc",
        "/api/records/1.5",
        "/api/records/-1",
        "/api/records/1234567890123",
        "/api/records/abc/versions",
        "/record/abc",
        "/api/records/1?version=0",
        "/api/records/1?version=x",
    ],
)
def test_malformed_record_requests_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404)
    body = response.json()
    assert body["status"] == response.status_code
    assert body["message"]


def test_versions_of_a_record(client: TestClient) -> None:
    body = client.get("/api/records/1/versions").json()
    assert body["id"] == "1"
    assert [v["version"] for v in body["versions"]] == [1]
    first = client.get(body["versions"][0]["links"]["self"])
    assert first.status_code == 200
    assert first.json()["metadata"]["recid"] == "1"


@pytest.mark.parametrize("kind", ["recid 1", "non-ascii title"])
def test_record_page(client: TestClient, codp_records: list[Record], kind: str) -> None:
    source = pick(codp_records, kind)
    response = client.get(f"/record/{source['recid']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # Jinja2 escapes as markupsafe does ("'" as &#39;, where html.escape writes &#x27;).
    assert str(markupsafe.escape(source["title"])) in response.text


def test_record_page_escapes_the_title(client: TestClient, codp_records: list[Record]) -> None:
    source = next(r for r in codp_records if ">" in r["title"])
    page = client.get(f"/record/{source['recid']}").text
    # Scripts (the JSON-LD block) hold JSON, not HTML: the markup is what must be escaped.
    markup = re.sub(r"<script\b.*?</script>", "", page, flags=re.DOTALL)
    assert str(markupsafe.escape(source["title"])) in markup
    assert source["title"] not in markup


def test_record_as_schema_org(client: TestClient, codp_records: list[Record]) -> None:
    source = pick(codp_records, "recid 1")
    response = client.get("/api/records/1", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    body = response.json()
    assert body["@context"] == "https://schema.org"
    assert body["@type"] == "Dataset"
    assert body["name"] == source["title"]
    assert body["url"].endswith("/record/1")
    assert f"https://doi.org/{source['doi']}" in body["identifier"]


def test_openapi_document(client: TestClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert re.match(r"^3\.\d+\.\d+$", spec["openapi"])
    assert spec["info"]["title"]
    for path in ("/api/records/", "/api/records/{recid}", "/api/records/{recid}/versions"):
        assert "get" in spec["paths"][path], path
        assert spec["paths"][path]["get"]["responses"], path
    assert "/record/{recid}" in spec["paths"]
    documented = {p["name"] for p in spec["paths"]["/api/records/"]["get"]["parameters"]}
    assert {"q", "page", "size", "sort", "skip_files", "search_after"} <= documented
    assert set(FILTER_NAMES) <= documented


# -- nothing a client sends makes the server fail --------------------------------------------------


def assert_answered_or_refused(client: TestClient, params: Any) -> None:
    response = client.get("/api/records/", params=params)
    assert response.status_code in (200, 400), (params, response.status_code, response.text)
    body = response.json()
    if response.status_code == 400:
        assert isinstance(body["message"], str)
        assert body["message"].strip()
        q = dict(params).get("q") if isinstance(params, dict) else None
        if q is not None and body["message"].startswith("q: ") and len(q) <= 2000:
            # A query that cannot be read says where it broke.
            assert re.search(r"character \d+", body["message"]), body["message"]
    else:
        assert isinstance(body["hits"]["total"], int)
        for suggestion in body["suggestions"]:
            answer = client.get(suggestion["links"]["self"])
            assert answer.status_code == 200, (params, suggestion)
            assert answer.json()["hits"]["total"] == suggestion["total"] > 0


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Lucene's metacharacters one by one, its operators, and a few fields and words to combine.
METACHARACTERS = [
    *'()[]{}":*?\\-+!&|~^/ ',
    *("AND", "OR", "NOT", "TO", " AND ", " OR ", " NOT ", " TO ", "&&", "||", "*:*"),
    *("title:", "year:", "recid:", "doi:", "number_events:", "collision_information.energy:"),
    *("muon", "2012", "13TeV", "é"),
]
lucene_soup = st.lists(st.sampled_from(METACHARACTERS), max_size=40).map("".join)


@FUZZ
@given(q=st.text())
def test_any_query_text_is_answered_or_refused(client: TestClient, q: str) -> None:
    assert_answered_or_refused(client, {"q": q, "size": 1})


@FUZZ
@given(q=lucene_soup)
def test_any_lucene_soup_is_answered_or_refused(client: TestClient, q: str) -> None:
    assert_answered_or_refused(client, {"q": q, "size": 1})


@FUZZ
@given(
    filters=st.dictionaries(
        st.sampled_from(FILTER_NAMES), st.lists(st.text(), min_size=1, max_size=3), max_size=4
    ),
    extra=st.dictionaries(
        st.sampled_from(["sort", "page", "size", "search_after", "skip_files", "ondemand"]),
        st.one_of(
            st.text(),
            st.sampled_from(["bestmatch", "mostrecent", "title", "title_desc"]),
            st.integers(-(2**70), 2**70).map(str),
        ),
        max_size=4,
    ),
)
def test_any_filters_and_paging_are_answered_or_refused(
    client: TestClient, filters: dict[str, list[str]], extra: dict[str, str]
) -> None:
    params = [(name, value) for name, values in filters.items() for value in values]
    assert_answered_or_refused(client, [*params, *extra.items()])


@FUZZ
@given(
    name=st.sampled_from(["year", "number_events"]),
    value=st.one_of(
        st.text(alphabet="0123456789- ", max_size=30),
        st.from_regex(r"\A[0-9]{0,25}(--)?[0-9]{0,25}\Z"),
    ),
)
def test_any_range_filter_is_answered_or_refused(client: TestClient, name: str, value: str) -> None:
    assert_answered_or_refused(client, {name: value, "size": 1})


@pytest.mark.parametrize("name", ["subtype", "subcategory", "experiment", "keywords", "year"])
@pytest.mark.parametrize(
    ("count", "length", "char"),
    [
        (1, 5000, "x"),
        (1, 1250, "\U0010ffff"),
        (600, 8, "x"),
        # Within any sensible bound on values, still more than a regex of them may hold.
        (10, 200, "x"),
        (50, 200, "x"),
        (5, 200, "é"),
        (1, 200, "\U0010ffff"),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else f"U+{ord(v):04X}",
)
def test_long_or_many_filter_values_are_answered_or_refused(
    client: TestClient, name: str, count: int, length: int, char: str
) -> None:
    values = [f"{i:03d}{char * (length - 3)}" for i in range(count)]
    assert_answered_or_refused(client, [*((name, v) for v in values), ("size", "1")])
