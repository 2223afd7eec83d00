"""Query strings the search reads strictly: percent-encoded bytes that are not UTF-8 answer 400
(JSON from the API, the HTML error page for the search page), never a search for U+FFFD; and a
query's wildcards are capped with a 400 that names the limit and where it was passed."""

from __future__ import annotations

import html
from urllib.parse import quote, quote_from_bytes

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.html import html_problems
from openhep.search import FILTER_NAMES, MAX_WILDCARDS

HTML = {"accept": "text/html"}

#: (parameter, raw percent-encoded value): bytes that are no UTF-8 text.
NOT_UTF8 = [
    ("q", "%FF"),  # never in UTF-8
    ("q", "caf%E9"),  # Latin-1 é
    ("q", "muon%C3"),  # a sequence cut short
    ("experiment", "CM%80S"),  # a lone continuation byte
    ("type", "%ED%A0%80"),  # an encoded surrogate
    ("sort", "title%C0%AF"),  # an overlong '/'
    ("year", "2012%F5"),
]


@pytest.mark.parametrize(("name", "value"), NOT_UTF8, ids=str)
def test_the_api_refuses_parameters_that_are_not_utf8(
    client: TestClient, name: str, value: str
) -> None:
    response = client.get(f"/api/records/?size=1&{name}={value}")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["message"].startswith(f"{name}: not valid UTF-8 at byte ")
    assert "percent-encode the text as UTF-8" in body["message"]


@pytest.mark.parametrize(("name", "value"), NOT_UTF8, ids=str)
def test_the_search_page_refuses_parameters_that_are_not_utf8(
    client: TestClient, name: str, value: str
) -> None:
    response = client.get(f"/search?{name}={value}", headers=HTML)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert f"{name}: not valid UTF-8" in html.unescape(response.text)
    assert html_problems(response.text) == []


def test_the_record_api_refuses_parameters_that_are_not_utf8(client: TestClient) -> None:
    response = client.get("/api/records/1?skip_files=%FF")
    assert response.status_code == 400
    assert response.json()["message"].startswith("skip_files: not valid UTF-8")


def test_a_parameter_name_that_is_not_utf8_is_refused(client: TestClient) -> None:
    response = client.get("/api/records/?q%FF=muon")
    assert response.status_code == 400
    assert "parameter name is not valid UTF-8" in response.json()["message"]


def test_utf8_text_is_searched_as_sent(client: TestClient) -> None:
    # The same search, percent-encoded by hand and by the client: the same answer.
    by_hand = client.get("/api/records/?size=1&q=M%C3%BCon+%E2%80%93+muon")
    by_client = client.get("/api/records/", params={"size": "1", "q": "Müon \u2013 muon"})
    assert by_hand.status_code == by_client.status_code == 200
    assert by_hand.json()["hits"]["total"] == by_client.json()["hits"]["total"]


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["q", "sort", *FILTER_NAMES]


@FUZZ
@given(name=st.sampled_from(NAMES), raw=st.binary(max_size=12), page=st.booleans())
def test_any_bytes_in_a_parameter_answer_200_or_400(
    client: TestClient, name: str, raw: bytes, page: bool
) -> None:
    path = "/search" if page else "/api/records/"
    response = client.get(f"{path}?size=1&{name}={quote_from_bytes(raw)}", headers=HTML)
    assert response.status_code in (200, 400), (name, raw, response.status_code)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        assert response.status_code == 400
        message = html.unescape(response.text) if page else response.json()["message"]
        assert f"{name}: not valid UTF-8" in message
        return
    # Text that is UTF-8 is read exactly as the client's own encoding of it.
    again = client.get(path, params={"size": "1", name: text}, headers=HTML)
    assert response.status_code == again.status_code


def test_a_query_with_too_many_wildcards_is_refused_with_the_limit_and_where(
    client: TestClient,
) -> None:
    q = " ".join(["mu*"] * MAX_WILDCARDS)
    assert client.get("/api/records/", params={"q": q, "size": "1"}).status_code == 200
    q += " ele*"
    response = client.get("/api/records/", params={"q": q, "size": "1"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert f"at most {MAX_WILDCARDS} '*' and '?'" in message
    assert f"at character {q.index('ele*')}" in message
    page = client.get(f"/search?q={quote(q)}", headers=HTML)
    assert page.status_code == 400
    assert f"at most {MAX_WILDCARDS}" in html.unescape(page.text)
