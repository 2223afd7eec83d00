"""No blocking call on the event loop: a request whose catalogue or index work is slow holds up
no other request (the handlers are plain ``def``, run in the thread pool; the answer cache
reads the catalogue's state in the handler's thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from openhep.search import SearchRequest
from openhep.services import Portal
from openhep.settings import Settings
from openhep.web import create_app

#: The query the test makes slow.
SLOW = "slowpoke"
#: How long the slow search waits for the fast requests at most: only a bound on a broken run
#: (then the fast requests finish after it, and the test fails on the order, not on a time).
PATIENCE_S = 60.0


@pytest.fixture
def app_client(web_home: Path) -> Iterator[TestClient]:
    # An app of its own: its portal's search is wrapped below.
    with TestClient(create_app(Settings(home=web_home))) as test_client:
        yield test_client


def test_a_slow_search_does_not_hold_up_fast_requests(app_client: TestClient) -> None:
    portal: Portal = app_client.app.state.portal  # type: ignore[attr-defined]
    first = portal.search(SearchRequest(size=1)).hits[0].recid
    entered, release = threading.Event(), threading.Event()
    real_search = portal.search_service.search

    def search(request: Any, **options: Any) -> Any:
        if request.q == SLOW:
            entered.set()
            # Stands for a costly query: it ends once the fast requests are answered.
            release.wait(PATIENCE_S)
        return real_search(request, **options)

    portal.search_service.search = search  # type: ignore[method-assign]
    fast = [
        "/api/records/?q=muon",
        f"/api/records/{first}",
        f"/record/{first}",
        "/search?q=higgs",
        "/",
    ]
    finished: list[str] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def get(path: str) -> None:
        # Each path asked once: the answer cache reads the catalogue's state, finds no answer
        # and lets the handler compute it.
        response = app_client.get(path)
        with lock:
            finished.append(path)
            statuses[path] = response.status_code

    slow = threading.Thread(target=get, args=(f"/api/records/?q={SLOW}",))
    slow.start()
    assert entered.wait(PATIENCE_S), "the slow search never started"
    threads = [threading.Thread(target=get, args=(path,)) for path in fast]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE_S)
    release.set()
    slow.join(PATIENCE_S)
    for thread in threads:
        thread.join(PATIENCE_S)
    assert sorted(finished) == sorted([*fast, f"/api/records/?q={SLOW}"])
    assert set(statuses.values()) == {200}, statuses
    # Every fast request was answered while the slow one was still waiting.
    assert finished[-1] == f"/api/records/?q={SLOW}", finished


def test_a_slow_read_of_the_catalogue_state_does_not_hold_up_other_requests(
    app_client: TestClient,
) -> None:
    """The answer cache reads the catalogue's state for every cacheable request (in the
    handler's thread): the first read made slow, the other requests are answered meanwhile."""
    portal: Portal = app_client.app.state.portal  # type: ignore[attr-defined]
    first = portal.search(SearchRequest(size=1)).hits[0].recid
    entered, release = threading.Event(), threading.Event()
    real_state = portal.answer_state
    calls = 0
    lock = threading.Lock()

    def answer_state() -> Any:
        nonlocal calls
        with lock:
            calls += 1
            slow = calls == 1
        if slow:
            entered.set()
            release.wait(PATIENCE_S)
        return real_state()

    portal.answer_state = answer_state  # type: ignore[method-assign]
    finished: list[str] = []

    def get(path: str) -> None:
        response = app_client.get(path)
        assert response.status_code == 200, path
        with lock:
            finished.append(path)

    slow = threading.Thread(target=get, args=("/api/records/?q=muon",))
    slow.start()
    assert entered.wait(PATIENCE_S), "the cache never read the catalogue's state"
    fast = [f"/api/records/{first}", f"/record/{first}", "/search?q=higgs"]
    threads = [threading.Thread(target=get, args=(path,)) for path in fast]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE_S)
    release.set()
    slow.join(PATIENCE_S)
    assert sorted(finished) == sorted([*fast, "/api/records/?q=muon"])
    assert finished[-1] == "/api/records/?q=muon", finished
    assert calls == 4


@pytest.mark.parametrize("threads", [1, 3])
def test_requests_are_answered_in_as_many_threads_as_the_setting_says(
    web_home: Path, threads: int
) -> None:
    """``OPENHEP_REQUEST_THREADS`` searches run at once, in the request threads; the next
    waits for one of them (file streams get as many of anyio's threads)."""
    from anyio import to_thread

    settings = Settings(home=web_home, request_threads=threads)
    with TestClient(create_app(settings)) as client:
        portal: Portal = client.app.state.portal  # type: ignore[attr-defined]
        real_search = portal.search_service.search
        inside: list[str] = []
        lock = threading.Lock()
        entered, release = threading.Semaphore(0), threading.Event()

        def search(request: Any, **options: Any) -> Any:
            with lock:
                inside.append(threading.current_thread().name)
            entered.release()
            release.wait(PATIENCE_S)
            return real_search(request, **options)

        portal.search_service.search = search  # type: ignore[method-assign]
        statuses: list[int] = []

        def get(n: int) -> None:
            statuses.append(client.get("/api/records/", params={"q": f"slow{n}"}).status_code)

        clients = [threading.Thread(target=get, args=(n,)) for n in range(threads + 1)]
        for thread in clients:
            thread.start()
        for _ in range(threads):
            assert entered.acquire(timeout=PATIENCE_S), "fewer searches ran than threads"
        # One more request than threads: it waits for a thread (bounded by PATIENCE_S only
        # if the bound is broken; then the count below is wrong and the test fails).
        assert not entered.acquire(timeout=0.5)
        assert len(inside) == threads
        assert all(name.startswith("openhep-request") for name in inside), inside
        release.set()
        for thread in clients:
            thread.join(PATIENCE_S)
        assert statuses == [200] * (threads + 1)
        assert len(inside) == threads + 1
        assert client.portal is not None
        limiter = client.portal.call(to_thread.current_default_thread_limiter)
        assert limiter.total_tokens == threads
