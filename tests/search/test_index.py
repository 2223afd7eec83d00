"""The search index follows the catalogue: at once, after crashes, across embargoes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import tantivy
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from _records import record
from openhep.catalog import Catalog
from openhep.model import validate_record
from openhep.search import SearchRequest, SearchRequestError
from openhep.search._index import SearchIndex
from openhep.search._query import build
from openhep.search._schema import (
    SCHEMA_VERSION,
    build_schema,
    title_sort_keys,
    title_sort_value,
    to_document,
)
from openhep.services import Portal
from openhep.settings import Settings
from openhep.web import create_app


def titles(portal: Portal, q: str, **filters: list[str]) -> list[str]:
    result = portal.search(SearchRequest(q=q, size=100, filters=filters))
    return sorted(h.metadata["title"] for h in result.hits)


def test_ingested_and_updated_records_are_searchable_at_once(portal: Portal) -> None:
    portal.catalog.write([validate_record(record("1", "Dimuon spectrum"))])
    assert titles(portal, "dimuon") == ["Dimuon spectrum"]
    portal.catalog.write([validate_record(record("1", "Dielectron spectrum"))])
    assert titles(portal, "dimuon") == []
    assert titles(portal, "dielectron") == ["Dielectron spectrum"]
    assert portal.index.seq == portal.catalog.last_change() == 2


def test_embargoed_records_appear_when_their_release_date_passes(portal: Portal) -> None:
    portal.catalog.write(
        [validate_record(record("1", "Released muons", release_date="2026-12-01"))]
    )
    before = datetime(2026, 11, 30, tzinfo=UTC)
    after = datetime(2026, 12, 1, tzinfo=UTC)
    assert portal.search(SearchRequest(q="muons"), now=before).total == 0
    assert portal.search(SearchRequest(), now=before).aggregations["experiment"]["buckets"] == []
    assert portal.search(SearchRequest(q="muons"), now=after).total == 1
    # Facet counts, cached while nothing changes, follow the release too.
    buckets = portal.search(SearchRequest(), now=after).aggregations["experiment"]["buckets"]
    assert buckets == [{"key": "CMS", "doc_count": 1}]


def test_facet_counts_follow_every_ingest(portal: Portal) -> None:
    def cms() -> list[dict[str, Any]]:
        buckets: list[dict[str, Any]] = portal.search(SearchRequest()).aggregations["experiment"][
            "buckets"
        ]
        return buckets

    portal.catalog.write([validate_record(record("1", "One"))])
    assert cms() == [{"key": "CMS", "doc_count": 1}]
    assert cms() == [{"key": "CMS", "doc_count": 1}]  # from the cache
    portal.catalog.write([validate_record(record("2", "Two"))])
    assert cms() == [{"key": "CMS", "doc_count": 2}]


def test_a_stale_or_missing_index_is_brought_up_to_date(catalog_url: str, tmp_path: Path) -> None:
    with Catalog.open(url=catalog_url) as catalog:
        catalog.write([validate_record(record("1", "First muon"))])
        index = SearchIndex(tmp_path / "index")
        assert index.sync(catalog) == 1
        # Changes made while no portal was running (e.g. by `openhep ingest`)…
        catalog.write([validate_record(record("2", "Second muon"))])
        # …and a crash that lost the state file after the index committed: both repaired.
        (tmp_path / "index" / "openhep-index.json").unlink()
        reopened = SearchIndex(tmp_path / "index")
        reopened.sync(catalog)
        result = Portal(catalog, reopened).search(SearchRequest(q="muon"))
        assert sorted(h.recid for h in result.hits) == ["1", "2"]


def test_an_index_of_another_schema_version_is_rebuilt(catalog_url: str, tmp_path: Path) -> None:
    with Catalog.open(url=catalog_url) as catalog:
        catalog.write([validate_record(record("1", "Muon"))])
        SearchIndex(tmp_path / "index").sync(catalog)
        state = tmp_path / "index" / "openhep-index.json"
        state.write_bytes(orjson.dumps({"schema_version": SCHEMA_VERSION + 99, "seq": 1}))
        index = SearchIndex(tmp_path / "index")
        assert index.num_docs() == 0
        index.sync(catalog)
        assert index.num_docs() == 1


def test_an_instance_upgraded_from_schema_3_rebuilds_its_index_at_start(
    catalog_url: str, tmp_path: Path
) -> None:
    # Version 3 searched a dozen fields, the accelerator not among them: its index holds this
    # record as if it had none. An instance upgraded over it must not keep answering from it.
    home = tmp_path / "home"
    opera = record("13102", "OPERA events", experiment=["OPERA"], accelerator="CERN-SPS")
    with Catalog.open(url=catalog_url) as catalog:
        catalog.write([validate_record(opera)])
        last = catalog.last_change()
        stored = catalog.get("13102")
    (home / "index").mkdir(parents=True)
    stale = tantivy.Index(build_schema(), path=str(home / "index"))
    writer = stale.writer()
    without = {k: v for k, v in opera.items() if k != "accelerator"}
    writer.add_document(to_document(without, stored.created, stored.updated, stored.visible_from))
    writer.commit()
    (home / "index" / "openhep-index.json").write_bytes(
        orjson.dumps({"schema_version": 3, "seq": last})
    )
    stale.reload()
    assert stale.searcher().search(build("sps", stale), 1).count == 0

    with TestClient(create_app(Settings(home=home, database_url=catalog_url))) as client:
        # Rebuilt while starting, before the first request.
        state = orjson.loads((home / "index" / "openhep-index.json").read_bytes())
        assert state == {"schema_version": SCHEMA_VERSION, "seq": last}
        body = client.get("/api/records/", params={"q": "sps"}).json()
        assert [hit["id"] for hit in body["hits"]["hits"]] == ["13102"]
        assert (
            client.get("/api/records/", params={"q": "accelerator:SPS"}).json()["hits"]["total"]
            == 1
        )


def test_rebuild_matches_the_catalogue(portal: Portal) -> None:
    portal.catalog.write([validate_record(record(str(i), f"Record {i}")) for i in range(1, 31)])
    portal.refresh()
    assert portal.index.rebuild(portal.catalog) == 30
    assert portal.search(SearchRequest(size=5)).total == 30


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("year", "last year", "expected a number or a range"),
        ("number_events", "lots", "expected a number or a range"),
        ("colour", "red", "unknown filter 'colour'"),
    ],
)
def test_bad_filters_say_what_to_change(
    portal: Portal, field: str, value: str, message: str
) -> None:
    with pytest.raises(SearchRequestError, match=message):
        portal.search(SearchRequest(filters={field: [value]}))


@pytest.mark.parametrize("sort", ["title", "mostrecent", "bestmatch"])
def test_cursors_walk_to_the_end_and_refuse_foreign_cursors(portal: Portal, sort: str) -> None:
    years = ["2019", "2024", "2014"]
    portal.catalog.write(
        [
            validate_record(record(str(i), f"Record {i}", date_published=years[i % 3]))
            for i in range(1, 26)
        ]
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = portal.search(SearchRequest(q="record", size=10, sort=sort, cursor=cursor))
        assert page.total == 25
        seen += [h.recid for h in page.hits]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen, key=int) == [str(i) for i in range(1, 26)]
    if sort == "mostrecent":  # the order is the order a single page gives
        whole = portal.search(SearchRequest(q="record", size=100, sort=sort))
        assert seen == [h.recid for h in whole.hits]
    other = "title" if sort != "title" else "mostrecent"
    with pytest.raises(SearchRequestError, match="not a cursor"):
        portal.search(SearchRequest(q="record", sort=other, cursor=cursor))
    with pytest.raises(SearchRequestError, match="not a cursor"):
        portal.search(SearchRequest(cursor="garbage!"))


def test_a_sibling_worker_sees_the_index_another_worker_updated(
    catalog_url: str, tmp_path: Path
) -> None:
    with Catalog.open(url=catalog_url) as catalog:
        first, second = SearchIndex(tmp_path / "index"), SearchIndex(tmp_path / "index")
        catalog.write([validate_record(record("1", "Muon"))])
        assert first.sync(catalog) == 1
        # The second worker finds the work done (state file at the catalogue's head)…
        assert second.sync(catalog) == 0
        # …and its reader sees the first worker's commit.
        assert second.num_docs() == 1
        assert Portal(catalog, second).search(SearchRequest(q="muon")).total == 1


@given(st.text(max_size=80), st.text(max_size=80))
def test_the_numeric_title_key_never_contradicts_title_order(a: str, b: str) -> None:
    first, second = sorted([title_sort_value(a, "1"), title_sort_value(b, "2")])
    assert title_sort_keys(first) <= title_sort_keys(second)


@pytest.mark.parametrize("sort", ["title", "title_desc"])
def test_deep_title_pages_are_the_pages_of_title_order(portal: Portal, sort: str) -> None:
    # Long shared beginnings (equal numeric keys), equal titles, case and non-ASCII titles.
    stems = [
        "/DoubleMuParked/Run2012B-22Jan2013-v1/AOD-Configuration file for HLT step /cdaq/x",
        "/DoubleMu/Run2011",
        "Ärger",
        "cms open data",
        "CMS Open",
    ]
    portal.catalog.write(
        [
            validate_record(record(str(i), f"{stems[i % 5]}{'ABC'[i % 3]}-v{i % 7} {i % 11}"))
            for i in range(1, 301)
        ]
    )
    whole = [h.recid for h in portal.search(SearchRequest(size=1000, sort=sort)).hits]
    expected = sorted(
        (h for h in portal.search(SearchRequest(size=1000)).hits),
        key=lambda h: title_sort_value(h.metadata["title"], h.recid),
        reverse=sort == "title_desc",
    )
    assert whole == [h.recid for h in expected]
    for size in (7, 10, 50):
        pages = [
            portal.search(SearchRequest(size=size, sort=sort, page=p))
            for p in range(1, 302 // size + 2)
        ]
        assert [h.recid for page in pages for h in page.hits] == whole
        assert {page.total for page in pages} == {300}


def test_on_demand_records_are_left_out_unless_asked_for(portal: Portal) -> None:
    portal.catalog.write([validate_record(record("1", "Online muons"))])
    assert portal.search(SearchRequest(q="muons")).total == 1  # an index without any on demand
    portal.catalog.write(
        [validate_record(record("2", "Archived muons", distribution={"availability": "ondemand"}))]
    )
    assert [h.recid for h in portal.search(SearchRequest(q="muons")).hits] == ["1"]
    asked = portal.search(SearchRequest(q="muons", ondemand=True))
    assert sorted(h.recid for h in asked.hits) == ["1", "2"]
    assert portal.search(SearchRequest()).aggregations["availability"]["buckets"] == [
        {"key": "online", "doc_count": 1}
    ]


@pytest.mark.parametrize("chosen", [1, 3, 16, 17, 40])
def test_a_filter_of_any_number_of_values_finds_the_records_of_any_of_them(
    portal: Portal, chosen: int
) -> None:
    # Up to 16 values are term queries, more a term-set query: the same records either way,
    # and a filter never reorders the best matches (it scores every record it keeps alike).
    words = [f"kw{n:02d}" for n in range(40)]
    portal.catalog.write(
        [
            validate_record(record(str(n + 1), "Muon " * (n % 4 + 1), keywords=[word, "all"]))
            for n, word in enumerate(words)
        ]
    )
    wanted = words[:chosen]
    found = portal.search(SearchRequest(q="muon", size=50, filters={"keywords": wanted}))
    assert sorted(h.recid for h in found.hits) == sorted(str(n + 1) for n in range(chosen))
    unfiltered = portal.search(SearchRequest(q="muon", size=50))
    assert [h.recid for h in found.hits] == [
        h.recid for h in unfiltered.hits if h.metadata["keywords"][0] in wanted
    ]
    counts = found.aggregations["keywords"]["buckets"]  # a group's counts ignore its selection
    assert {b["key"]: b["doc_count"] for b in counts}["all"] == 40


def test_a_record_finds_the_public_records_whose_relations_name_it(portal: Portal) -> None:
    parent = validate_record(
        record("1", "Parent", relations=[{"type": "isChildOf", "recid": "1"}])  # names itself
    )
    children = [
        validate_record(record(recid, f"Child {recid}", **extra))
        for recid, extra in (
            ("12", {"relations": [{"type": "isChildOf", "recid": "1"}]}),
            ("3", {"relations": [{"type": "isChildOf", "recid": "1"}]}),
            (
                "4",
                {"relations": [{"type": "isChildOf", "recid": "1"}], "release_date": "2999-01-01"},
            ),
            ("5", {"relations": [{"type": "isChildOf", "recid": "11"}]}),
        )
    ]
    portal.catalog.write([parent, *children])
    total, named = portal.naming("1", limit=10)
    assert total == 2  # not itself, not the embargoed record, not one naming another recid
    assert [(n.recid, n.relation) for n in named] == [("3", "isChildOf"), ("12", "isChildOf")]
    assert portal.naming("1", limit=1)[0] == 2
    after = datetime(2999, 1, 1, tzinfo=UTC)
    assert portal.search_service.naming("1", limit=10, now=after)[0] == 3
