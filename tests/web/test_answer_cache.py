"""Answers kept until the catalogue changes (``openhep.web._cache``): served again while the
catalogue is unchanged, never once it has changed — a new version, a file added or found
corrupt, an embargo ended — in-process and across the workers of a live ``openhep serve``.

Records are the real CODP DoubleMuParked derived records; bytes a real CMS sample.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openhep.web
from _services.serve import run_openhep, serving
from openhep.catalog import CatalogState
from openhep.model import validate_record
from openhep.services import Portal
from openhep.settings import Settings
from openhep.web import create_app
from openhep.web._cache import CACHED_PATHS, Answer, AnswerCache, is_cached

RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
RECID = "12341"


@pytest.fixture(scope="module")
def records(codp_dir: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((codp_dir / RECORDS_FILE).read_text())
    return found


def new_home(root: Path, codp_dir: Path) -> Path:
    home = root / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    return home


@pytest.fixture
def home(tmp_path: Path, codp_dir: Path) -> Path:
    return new_home(tmp_path, codp_dir)


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home))) as test_client:
        yield test_client


def portal_of(client: TestClient) -> Portal:
    found: Portal = client.app.state.portal  # type: ignore[attr-defined]
    return found


def retitle(portal: Portal, records: list[dict[str, Any]], recid: str, title: str) -> None:
    """Write a new version of ``recid`` with ``title`` (what a curator's ingest does)."""
    data = next(r for r in records if str(r["recid"]) == recid)
    portal.catalog.write([validate_record({**data, "title": title})])


PATHS = [
    f"/api/records/{RECID}",
    f"/record/{RECID}",
    "/api/records/?q=DoubleMuParked",
    "/search?q=DoubleMuParked",
    "/",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_repeated_request_is_answered_from_the_cache(client: TestClient, path: str) -> None:
    first = client.get(path)
    second = client.get(path)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]


@pytest.mark.parametrize("path", PATHS)
def test_a_new_version_shows_in_the_very_next_answer(
    client: TestClient, records: list[dict[str, Any]], path: str
) -> None:
    client.get(path)
    assert client.get(path).headers["x-cache"] == "hit"
    retitle(portal_of(client), records, RECID, "DoubleMuParked, retitled by a curator")
    after = client.get(path)
    assert after.headers["x-cache"] == "miss"
    assert "retitled by a curator" in after.text
    assert client.get(path).headers["x-cache"] == "hit"


def test_a_file_found_corrupt_and_repaired_shows_at_once(client: TestClient, anchors: Path) -> None:
    portal = portal_of(client)
    sample = (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
    portal.files.add(RECID, [("Zmumu.root", [sample])])
    path = f"/api/records/{RECID}"

    def availability() -> tuple[str, str]:
        answer = client.get(path)
        entry = next(f for f in answer.json()["metadata"]["files"] if f["key"] == "Zmumu.root")
        return str(entry["availability"]), answer.headers["x-cache"]

    assert availability() == ("online", "miss")
    assert availability() == ("online", "hit")
    [stored] = [r for r in portal.catalog.replicas if r.path.endswith("/Zmumu.root")]
    portal.catalog.replicas.mark(stored.path, "corrupt", checked_at=datetime.now(UTC))
    assert availability() == ("corrupt", "miss")
    # A fixity check that finds the same state again changes nothing: still served.
    portal.catalog.replicas.mark(stored.path, "corrupt", checked_at=datetime.now(UTC))
    assert availability() == ("corrupt", "hit")
    portal.catalog.replicas.mark(stored.path, "available", checked_at=datetime.now(UTC))
    assert availability() == ("online", "miss")


def test_a_record_appears_when_its_embargo_ends(
    client: TestClient, records: list[dict[str, Any]]
) -> None:
    portal = portal_of(client)
    # Far enough ahead that the answers before it are made before it on a loaded machine.
    release = datetime.now(UTC) + timedelta(seconds=8)
    data = {**records[0], "recid": "990777", "doi": None, "title": "Embargoed until now"}
    data = {k: v for k, v in data.items() if v is not None}
    portal.catalog.write([validate_record({**data, "release_date": release.isoformat()})])
    search = "/api/records/?q=title:embargoed"
    assert client.get(search).json()["hits"]["total"] == 0
    assert client.get(search).headers["x-cache"] == "hit"
    assert client.get("/record/990777").status_code == 404
    assert datetime.now(UTC) < release, "the machine was too slow to answer before the release"
    time.sleep(max(0.0, (release - datetime.now(UTC)).total_seconds()) + 0.2)
    after = client.get(search)
    assert after.json()["hits"]["total"] == 1
    assert after.headers["x-cache"] == "miss"
    assert client.get("/record/990777").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer whatever"},
        {"Range": "bytes=0-10"},
        {"If-None-Match": '"x"'},
        {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"},
        {"Cookie": "session=1"},
    ],
)
def test_personal_or_partial_requests_go_straight_through(
    client: TestClient, headers: dict[str, str]
) -> None:
    path = f"/api/records/{RECID}"
    client.get(path)
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200
    assert "x-cache" not in answer.headers


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/99999999",  # 404
        "/record/99999999",  # 404 page
        "/api/records/?q=(muon",  # 400
        "/api/records/?size=0",  # 400
        f"/record/{RECID}/files/nothing.root",  # file route: never kept
    ],
)
def test_errors_and_files_are_never_kept(client: TestClient, path: str) -> None:
    for _ in range(2):
        answer = client.get(path)
        assert answer.status_code >= 400
        assert answer.headers.get("x-cache") is None


def test_what_is_accepted_is_part_of_the_key(client: TestClient) -> None:
    path = f"/api/records/{RECID}"
    plain = client.get(path)
    linked = client.get(path, headers={"Accept": "application/ld+json"})
    assert plain.headers["content-type"].startswith("application/json")
    assert linked.headers["content-type"].startswith("application/ld+json")
    assert linked.json()["@context"]
    again = client.get(path, headers={"Accept": "application/ld+json"})
    assert (again.headers["x-cache"], again.content) == ("hit", linked.content)


def test_heads_are_not_kept(client: TestClient) -> None:
    assert "x-cache" not in client.head(f"/record/{RECID}").headers


def test_the_cache_can_be_turned_off(home: Path) -> None:
    with TestClient(create_app(Settings(home=home, answer_cache_bytes=0))) as plain:
        for _ in range(2):
            answer = plain.get(f"/api/records/{RECID}")
            assert answer.status_code == 200
            assert "x-cache" not in answer.headers


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).answer_cache_bytes == 64 << 20
    assert Settings.from_env({"OPENHEP_ANSWER_CACHE_MB": "0"}).answer_cache_bytes == 0
    assert Settings.from_env({"OPENHEP_ANSWER_CACHE_MB": "8"}).answer_cache_bytes == 8 << 20
    for bad in ("-1", "lots", "1.5", str(1 << 30)):
        with pytest.raises(ValueError, match="OPENHEP_ANSWER_CACHE_MB"):
            Settings.from_env({"OPENHEP_ANSWER_CACHE_MB": bad})


def answer(size: int) -> Answer:
    return Answer(200, [], b"x" * size)


def key(name: str) -> tuple[str, bytes, bytes, str, str, bytes]:
    return (name, b"", b"", "http", "", b"")


def test_the_cache_is_bounded_in_bytes_and_forgets_the_least_recent() -> None:
    cache = AnswerCache(16_000)
    epoch = cache.scope(CatalogState(1, 0), 0.0, lambda: float("inf"))
    for name in "abcdefgh":
        cache.put(key(name), answer(800), epoch)
    assert cache.get(key("a")) is not None  # now the most recent
    for name in "ijklmnopq":  # each 1,000 bytes with its overhead: 17 in all, one too many
        cache.put(key(name), answer(800), epoch)
    assert (len(cache), cache.bytes) == (16, 16_000)
    assert cache.get(key("a")) is not None
    assert cache.get(key("b")) is None  # the least recently used went first
    cache.put(key("big"), answer(1_001), epoch)  # over a sixteenth: not kept
    assert cache.get(key("big")) is None


def test_an_answer_computed_before_a_change_is_not_kept_after_it() -> None:
    cache = AnswerCache(1 << 20)
    started = cache.scope(CatalogState(1, 0), 0.0, lambda: 100.0)
    assert cache.scope(CatalogState(1, 0), 50.0, lambda: 100.0) == started
    # Meanwhile the catalogue changed (or, below, an embargo ended): the late answer is dropped.
    later = cache.scope(CatalogState(2, 0), 51.0, lambda: 100.0)
    cache.put(key("a"), answer(10), started)
    assert cache.get(key("a")) is None
    cache.put(key("a"), answer(10), later)
    assert cache.get(key("a")) is not None
    assert cache.scope(CatalogState(2, 0), 100.0, lambda: float("inf")) != later
    assert cache.get(key("a")) is None
    assert cache.scope(CatalogState(2, 1), 101.0, lambda: float("inf")) != later


@pytest.fixture(scope="module")
def read_only_home(tmp_path_factory: pytest.TempPathFactory, codp_dir: Path) -> Path:
    return new_home(tmp_path_factory.mktemp("cache-fuzz"), codp_dir)


@pytest.fixture(scope="module")
def both(read_only_home: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(create_app(Settings(home=read_only_home))) as cached,
        TestClient(create_app(Settings(home=read_only_home, answer_cache_bytes=0))) as plain,
    ):
        yield cached, plain


PARAMS = st.dictionaries(
    st.sampled_from(["q", "type", "experiment", "sort", "page", "size", "year", "keywords"]),
    st.sampled_from(["muon", "DoubleMuParked", "CMS", "Dataset", "2012", "1", "2", "title", ""])
    | st.text(max_size=8),
    max_size=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=PARAMS, page=st.booleans())
def test_a_kept_answer_is_the_answer(
    both: tuple[TestClient, TestClient], params: dict[str, str], page: bool
) -> None:
    """Whatever the query, what the cache serves is what the app computes."""
    cached, plain = both
    path = ("/search?" if page else "/api/records/?") + urlencode(params)
    computed = plain.get(path)
    for _ in range(2):
        served = cached.get(path)
        assert (served.status_code, served.content) == (computed.status_code, computed.content)


CHANGED_PATHS = [
    f"/api/records/{RECID}",
    f"/record/{RECID}",
    "/api/records/?q=DoubleMuParked",
    "/api/records/?q=title:retitled",
    "/search?q=DoubleMuParked&sort=title",
    "/",
]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.sampled_from(CHANGED_PATHS)),
        st.tuples(st.just("retitle"), st.just(RECID)),
        st.tuples(st.just("add"), st.sampled_from(["990701", "990702", "990703"])),
        st.tuples(st.just("mark"), st.sampled_from(["corrupt", "available"])),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture(scope="module")
def changing(
    tmp_path_factory: pytest.TempPathFactory, codp_dir: Path, anchors: Path
) -> Iterator[tuple[TestClient, TestClient, str]]:
    """A cached and an uncached app over one home that the test changes, and the store path
    of a file of record RECID (whose state the test flips)."""
    home = new_home(tmp_path_factory.mktemp("cache-changes"), codp_dir)
    with (
        TestClient(create_app(Settings(home=home))) as cached,
        TestClient(create_app(Settings(home=home, answer_cache_bytes=0))) as plain,
    ):
        portal = portal_of(cached)
        sample = (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
        portal.files.add(RECID, [("Zmumu.root", [sample])])
        [stored] = [r for r in portal.catalog.replicas if r.path.endswith("/Zmumu.root")]
        yield cached, plain, stored.path


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_whatever_changes_the_cache_answers_what_the_app_computes(
    changing: tuple[TestClient, TestClient, str],
    records: list[dict[str, Any]],
    steps: list[tuple[str, str]],
) -> None:
    """Interleaved reads and changes (new versions, new records, a file found corrupt and
    good again): every answer served with the cache on equals the one computed with it off."""
    cached, plain, path = changing
    portal = portal_of(cached)
    for number, (action, what) in enumerate(steps):
        if action == "get":
            served, computed = cached.get(what), plain.get(what)
            assert (served.status_code, served.content) == (computed.status_code, computed.content)
        elif action == "retitle":
            retitle(portal, records, what, f"Retitled {what} at step {number} {time.time_ns()}")
        elif action == "add":
            data = {**records[0], "recid": what, "title": f"Retitled copy {time.time_ns()}"}
            data.pop("doi", None)
            portal.catalog.write([validate_record(data)])
        else:
            portal.catalog.replicas.mark(path, what, checked_at=datetime.now(UTC))  # type: ignore[arg-type]


@pytest.mark.xdist_group("cache-live")
def test_every_worker_of_a_live_server_sees_a_change_at_once(
    tmp_path: Path, codp_dir: Path, records: list[dict[str, Any]]
) -> None:
    home = new_home(tmp_path, codp_dir)
    changed = tmp_path / "changed.json"
    data = next(r for r in records if str(r["recid"]) == RECID)
    changed.write_text(json.dumps([{**data, "title": "Changed by another process"}]))
    with (
        serving(home, tmp_path / "serve.log", "--workers", "2") as url,
        httpx.Client(base_url=url, trust_env=False, timeout=30.0) as http,
    ):
        paths = [f"/api/records/{RECID}", "/search?q=DoubleMuParked"]
        # Enough requests, on new connections, that both workers keep their answers.
        for _ in range(12):
            for path in paths:
                with httpx.Client(base_url=url, trust_env=False, timeout=30.0) as fresh:
                    assert fresh.get(path).status_code == 200
        assert http.get(paths[0]).headers["x-cache"] == "hit"
        run_openhep(home, "ingest", str(changed))
        for _ in range(12):
            for path in paths:
                with httpx.Client(base_url=url, trust_env=False, timeout=30.0) as fresh:
                    answer = fresh.get(path)
                assert "Changed by another process" in answer.text, path


def test_every_path_the_cache_names_has_a_cached_handler(home: Path) -> None:
    """The middleware offers the cache to the paths of CACHED_PATHS; only a handler wrapped in
    ``cached`` looks in it (and lets its answer be kept): the two lists must agree, both ways."""
    app = create_app(Settings(home=home))
    # Every router of openhep.web's modules (FastAPI keeps included ones out of app.routes).
    modules = [
        importlib.import_module(found.name)
        for found in pkgutil.walk_packages(openhep.web.__path__, "openhep.web.")
    ]
    routers = [
        app,
        *(m.router for m in modules if isinstance(getattr(m, "router", None), APIRouter)),
    ]
    assert len(routers) >= 11
    named = 0
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        sample = re.sub(r"\{(\w+)\}", lambda m: "12341" if m[1] == "recid" else "a", route.path)
        sample = sample.replace("records-a.xml", "records-1.xml")
        assert bool(CACHED_PATHS.match(sample)) == is_cached(route.endpoint), route.path
        named += bool(CACHED_PATHS.match(sample))
    assert named >= 15


def test_an_answer_kept_while_a_request_waited_is_served_by_its_handler(
    client: TestClient,
) -> None:
    """A request that found nothing kept when it arrived looks again in its handler's thread:
    an answer another request kept meanwhile is served (x-cache: hit), not computed again."""
    portal = portal_of(client)
    real_state = portal.answer_state
    entered, release = threading.Event(), threading.Event()
    calls = 0
    lock = threading.Lock()

    def answer_state() -> Any:
        nonlocal calls
        with lock:
            calls += 1
            first = calls == 1
        if first:  # the waiting request: held until the other one's answer is kept
            entered.set()
            release.wait(60.0)
        return real_state()

    portal.answer_state = answer_state  # type: ignore[method-assign]
    path = f"/record/{RECID}"
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(client.get(path)))
    waiting.start()
    assert entered.wait(60.0), "the cache never read the catalogue's state"
    other = client.get(path)
    release.set()
    waiting.join(60.0)
    [waited] = answers
    assert other.headers["x-cache"] == "miss"
    assert (waited.headers["x-cache"], waited.content) == ("hit", other.content)
    assert calls == 2
