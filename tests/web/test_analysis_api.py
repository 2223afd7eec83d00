"""``/api/analysis/histogram``: histograms of real sample files through the HTTP API — the Z
peak from the ROOT and the CSV record, JSON/CSV/PNG, the result cache, every error a client can
cause (400 with the position, 404, 413; fuzzed: only 200 or 400), the event stream, and a
stream whose client goes away (its job is cancelled)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.analysis import (
    DOUBLEMU,
    EMBARGOED,
    HZZ,
    ISPY,
    MANY,
    NANO_DIMUON,
    ZMUMU_CSV,
    ZMUMU_ROOT,
    build_analysis_home,
)
from _services.serve import serving
from openhep.catalog import Catalog
from openhep.cli._samples import SAMPLES
from openhep.model import validate_record
from openhep.services import HistogramQuery
from openhep.settings import Settings
from openhep.web import create_app

API = "/api/analysis/histogram"
RESULT_KEYS = {
    "edges", "counts", "sumw2", "entries", "underflow", "overflow", "skipped", "events_read",
    "seconds",
}  # fmt: skip
Z_MASS = 91.1876
#: The Z→μμ columns of both records (CODP's education format).
ZMUMU_COLUMNS = ("M", "E1", "px1", "py1", "pz1", "pt1", "eta1", "phi1", "Q1", "Run", "Event")


@pytest.fixture(scope="module")
def home(codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analysis_home(tmp_path_factory.mktemp("analysis"), codp_dir, anchors)


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home, file_origins=""))) as test_client:
        yield test_client


def zmumu(recid: str = ZMUMU_ROOT, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"recid": recid, "expression": "M", "bins": 60, "range": [60, 120]}
    if recid in (ZMUMU_ROOT, EMBARGOED):
        body["tree"] = "events"
    return body | fields


def peak(answer: dict[str, Any]) -> float:
    counts = answer["counts"]
    i = counts.index(max(counts))
    return float((answer["edges"][i] + answer["edges"][i + 1]) / 2)


def ok(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(API, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# -- the answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("recid", [ZMUMU_ROOT, ZMUMU_CSV])
def test_the_dimuon_mass_of_the_2010_events_peaks_at_the_z(client: TestClient, recid: str) -> None:
    answer = ok(client, zmumu(recid))
    assert set(answer) == RESULT_KEYS | {"cached", "request"}
    assert abs(peak(answer) - Z_MASS) <= 2.0, peak(answer)
    assert answer["events_read"] == 2304
    assert len(answer["edges"]) == 61 and len(answer["counts"]) == len(answer["sumw2"]) == 60
    assert answer["edges"][0] == 60 and answer["edges"][-1] == 120
    in_range = answer["entries"] - answer["underflow"] - answer["overflow"]
    assert sum(answer["counts"]) == pytest.approx(in_range)
    assert answer["request"]["recid"] == recid
    assert answer["request"]["expression"] == "M"


def test_the_root_and_the_csv_record_give_the_same_counts(client: TestClient) -> None:
    for expression in ("M", "mass(p4(E1, px1, py1, pz1), p4(E2, px2, py2, pz2))"):
        from_root = ok(client, zmumu(ZMUMU_ROOT, expression=expression, selection="Q1 != Q2"))
        from_csv = ok(client, zmumu(ZMUMU_CSV, expression=expression, selection="Q1 != Q2"))
        assert from_root["counts"] == from_csv["counts"], expression
        assert from_root["entries"] == from_csv["entries"] > 2000
        assert abs(peak(from_csv) - Z_MASS) <= 2.0


def test_a_second_request_is_answered_from_the_cache(client: TestClient) -> None:
    body = zmumu(ZMUMU_CSV, bins=37, range=[50.5, 130.25])
    first = ok(client, body)
    again = ok(client, body)
    assert (first["cached"], again["cached"]) == (False, True)
    assert {k: again[k] for k in RESULT_KEYS} == {k: first[k] for k in RESULT_KEYS}


@pytest.mark.parametrize(
    ("recid", "body"),
    [
        (DOUBLEMU, {"expression": "mass(Muon[0], Muon[1])",
                    "selection": "nMuon == 2 and Muon[0].charge != Muon[1].charge"}),
        (NANO_DIMUON, {"expression": "MET_pt"}),
        (HZZ, {"expression": "MET_px", "tree": "events"}),
    ],
)  # fmt: skip
def test_other_sample_records(client: TestClient, recid: str, body: dict[str, Any]) -> None:
    answer = ok(client, {"recid": recid, "bins": 40, "range": [0, 200], **body})
    assert answer["events_read"] > 0
    assert answer["entries"] > 0


def test_the_get_twin_answers_json_csv_and_png(client: TestClient) -> None:
    params = {"recid": ZMUMU_CSV, "expression": "M", "bins": "30", "lo": "60", "hi": "120"}
    posted = ok(client, zmumu(ZMUMU_CSV, bins=30))
    as_json = client.get(API, params=params)
    assert as_json.status_code == 200
    assert as_json.json()["counts"] == posted["counts"]

    as_csv = client.get(API, params=params | {"format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.splitlines()
    assert lines[0] == "low,high,count,sumw2"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 30
    assert [float(r[2]) for r in rows] == posted["counts"]
    assert float(rows[0][0]) == 60 and float(rows[-1][1]) == 120

    for log in ("0", "1"):
        as_png = client.get(API, params=params | {"format": "png", "log": log})
        assert as_png.status_code == 200
        assert as_png.headers["content-type"] == "image/png"
        assert as_png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert as_png.headers["x-content-type-options"] == "nosniff"


# -- errors: what to change, never a 500 -----------------------------------------------------------


def problem(client: TestClient, body: Any, status: int = 400) -> dict[str, Any]:
    response = (
        client.post(API, json=body)
        if not isinstance(body, bytes)
        else client.post(API, content=body, headers={"content-type": "application/json"})
    )
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    assert answer["error"] and answer["message"] == answer["error"]
    return answer


def test_an_unknown_name_answers_its_position_and_the_names_there_are(client: TestClient) -> None:
    answer = problem(client, zmumu(ZMUMU_CSV, expression="sqrt(px1**2 + pyy1**2)"))
    assert answer["position"] == len("sqrt(px1**2 + ")
    assert "py1" in answer["names"]
    assert answer["field"] == "expression"


def test_a_bad_selection_is_said_to_be_the_selection(client: TestClient) -> None:
    answer = problem(client, zmumu(ZMUMU_CSV, selection="Q1 !=* Q2"))
    assert answer["field"] == "selection"
    assert isinstance(answer["position"], int)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bins": 0}, "bins"),
        ({"bins": 10_001}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"bins": True}, "bins"),
        ({"range": [120, 60]}, "range"),
        ({"range": [1, 1]}, "range"),
        ({"range": [0]}, "range"),
        ({"range": ["a", 2]}, "range"),
        ({"expression": ""}, "expression"),
        ({"expression": "M" * 1001}, "expression"),
        ({"expression": ["M"]}, "expression"),
        ({"selection": "x\n"}, "selection"),
        ({"recid": "../etc"}, "recid"),
        ({"recid": None}, "recid"),
        ({"tree": 3}, "tree"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_say_which_field_to_change(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    answer = problem(client, zmumu(ZMUMU_CSV) | fields)
    assert answer["field"] == field, answer


@pytest.mark.parametrize(
    "raw",
    [
        b"", b"{", b"[1, 2]", b"null", b'"M"', b"\xff\xfe", b'{"recid": "990010",}',
        b'{"recid": "990010", "expression": "M", "bins": 5, "range": [0, 1e400]}',
    ],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_a_400(client: TestClient, raw: bytes) -> None:
    problem(client, raw)


def test_validated_runs_that_are_not_a_validated_runs_json_are_a_400(client: TestClient) -> None:
    problem(client, zmumu(DOUBLEMU, expression="nMuon", range=[0, 10], validated_runs=[1, 2]))


@pytest.mark.parametrize(
    "body",
    [
        zmumu("999999"),  # no such record
        zmumu(EMBARGOED),  # not released yet
        zmumu(ZMUMU_CSV, file="nothere.csv"),
    ],
)
def test_unknown_records_embargoed_ones_and_unknown_files_are_404(
    client: TestClient, body: dict[str, Any]
) -> None:
    answer = problem(client, body, 404)
    assert "2999" not in answer["error"]


def test_files_the_analysis_does_not_read_are_a_400(client: TestClient) -> None:
    answer = problem(client, {"recid": ISPY, "expression": "M", "bins": 2, "range": [0, 1]})
    assert "no ROOT or CSV file" in answer["error"]
    key = "Hto4l_120-130GeV.ig"
    answer = problem(client, {"recid": ISPY, "file": key, "expression": "M", "bins": 2,
                              "range": [0, 1]})  # fmt: skip
    assert answer["field"] == "file"


def test_a_body_over_the_limit_is_refused_before_it_is_read(home: Path) -> None:
    settings = Settings(home=home, file_origins="", max_body_bytes=1024)
    with TestClient(create_app(settings)) as small:
        body = zmumu(ZMUMU_CSV, selection="M > 0" + " or M > 0" * 200)
        response = small.post(API, json=body)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "query",
    [
        "recid=990010&expression=M&bins=10&lo=0",  # no hi
        "recid=990010&expression=M&bins=ten&lo=0&hi=1",
        "recid=990010&expression=M&bins=10&lo=0&hi=1&format=pdf",
        "recid=990010&expression=M&bins=10&lo=0&hi=1&log=maybe",
        "recid=990010&expression=M&bins=10&lo=nan&hi=1",
        "recid=990010&expression=M&bins=10&lo=0&hi=1&bin=3",
        "recid=990010&expression=%FF&bins=10&lo=0&hi=1",
        "recid=990010&expression=M%20%3E&bins=10&lo=0&hi=1",
    ],
)
def test_bad_get_requests_are_a_400(client: TestClient, query: str) -> None:
    response = client.get(f"{API}?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]


# -- fuzzing: only 200 or 400 --------------------------------------------------------------------

NAMES = st.sampled_from([*ZMUMU_COLUMNS, "E2", "Q2", "Type", "nMuon", "Muon", "x", "M_"])
FUNCTIONS = st.sampled_from(
    ["abs", "sqrt", "exp", "log", "sin", "min", "max", "sum", "count", "any", "all", "mass",
     "p4", "delta_r", "eval", "__import__", "open"]
)  # fmt: skip
OPERATORS = st.sampled_from(
    [" + ", " - ", " * ", " / ", " ** ", " % ", " == ", " != ", " < ", " >= ", " and ", " or ",
     " not ", " if ", "[", "]", "(", ")", ".", ",", "[0]", "[-1]", "[1]", ".pt", " lambda: ",
     "'", '"', "\\", "1e308", "0", "-", "**-1", ";", "\x00", "é"]
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str), st.floats(allow_nan=False, width=32).map(repr)
)
TOKENS = st.one_of(NAMES, NUMBERS, OPERATORS, FUNCTIONS.map(lambda f: f + "("))
TEXTS = st.one_of(st.lists(TOKENS, max_size=14).map("".join), st.text(max_size=30))
NUMERIC = st.one_of(
    st.integers(-5, 20_000), st.floats(allow_nan=True, allow_infinity=True), st.none(),
    st.text(max_size=5), st.booleans(),
)  # fmt: skip


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    expression=TEXTS,
    selection=st.one_of(st.none(), TEXTS),
    bins=NUMERIC,
    lo=NUMERIC,
    hi=NUMERIC,
    recid=st.sampled_from([ZMUMU_CSV, ZMUMU_ROOT]),
)
def test_fuzzed_requests_answer_200_or_400(
    client: TestClient,
    expression: str,
    selection: str | None,
    bins: Any,
    lo: Any,
    hi: Any,
    recid: str,
) -> None:
    body = {"recid": recid, "expression": expression, "selection": selection, "bins": bins,
            "range": [lo, hi], "tree": "events"}  # fmt: skip
    raw = json.dumps(body, allow_nan=True).encode()
    response = client.post(API, content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400), response.text
    answer = response.json()
    if response.status_code == 400:
        assert answer["error"]
        if "position" in answer:
            assert isinstance(answer["position"], int) and answer["position"] >= 0
    else:
        assert set(RESULT_KEYS) <= set(answer)


# -- progress as server-sent events ----------------------------------------------------------------


def events(text: str) -> list[tuple[str, Any]]:
    """The ``(event, data)`` of a server-sent event stream (comments left out)."""
    out = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


STREAM = {"accept": "text/event-stream"}
CANCELLED = re.compile(r"histogram of record (\d+) cancelled after (\d+) of (\d+) chunks")


def test_the_stream_reports_progress_then_the_result(client: TestClient) -> None:
    body = {"recid": MANY, "expression": "mass(Muon[0], Muon[1])", "bins": 50,
            "range": [0, 150]}  # fmt: skip
    response = client.post(API, json=body, headers=STREAM)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    found = events(response.text)
    kinds = [kind for kind, _ in found]
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"progress"}, kinds
    progress = [data for kind, data in found if kind == "progress"]
    assert progress[-1]["chunks_done"] == progress[-1]["chunks_total"]
    assert [p["events_read"] for p in progress] == sorted(p["events_read"] for p in progress)
    result = found[-1][1]
    assert result["events_read"] == progress[-1]["events_total"] == 24 * 1000
    assert result["counts"] == ok(client, body)["counts"]


def test_a_stream_ends_with_an_error_event_or_answers_404(client: TestClient) -> None:
    response = client.post(API, json=zmumu(ZMUMU_CSV, expression="Mass"), headers=STREAM)
    assert response.status_code == 200
    (kind, data), *_ = [e for e in events(response.text) if e[0] != "progress"]
    assert kind == "error" and data["status"] == 400 and "M" in data["names"]
    missing = client.post(API, json=zmumu("999999"), headers=STREAM)
    assert missing.status_code == 404


@pytest.mark.xdist_group("live")
def test_a_client_that_goes_away_cancels_its_job(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    # One worker process: the job's chunks run one after the other, so closing the stream at
    # the first progress event leaves most of them to cancel.
    env = {"OPENHEP_ANALYSIS_WORKERS": "1", "OPENHEP_ANALYSIS_CACHE": "off"}
    body = {"recid": MANY, "expression": "pt(Muon[0], Muon[1])", "bins": 77, "range": [0, 77]}
    with serving(home, log, env=env) as url, httpx.Client(trust_env=False, timeout=60) as http:
        seen: list[str] = []
        with http.stream("POST", url + API, json=body, headers=STREAM) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                    break  # the first event (a progress event): go away
        assert seen == ["progress"]
        # The server says so in its log once the job has stopped (bounded wait, no timing):
        # with how many of its chunks run.
        stopped = threading.Event()
        found = None
        for _ in range(600):
            found = CANCELLED.search(log.read_text())
            if found:
                stopped.set()
                break
            stopped.wait(0.1)
        assert found is not None, log.read_text()[-3000:]
        done, total = int(found.group(2)), int(found.group(3))
        assert found.group(1) == MANY
        assert done < total and total >= 24
        # And it still answers.
        again = http.post(url + API, json=zmumu(ZMUMU_CSV))
        assert again.status_code == 200


# -- nothing blocks the event loop; files read from their origin ---------------------------------


def test_a_running_histogram_does_not_hold_up_other_requests(client: TestClient) -> None:
    analyst = client.app.state.analyst  # type: ignore[attr-defined]
    entered, release = threading.Event(), threading.Event()
    real = analyst.histogram

    def slow(query: Any, **options: Any) -> Any:
        entered.set()
        release.wait(60)  # stands for a long job: it ends once the fast requests are answered
        return real(query, **options)

    analyst.histogram = slow
    finished: list[str] = []
    try:
        job = threading.Thread(
            target=lambda: finished.append(str(client.post(API, json=zmumu(ZMUMU_CSV)).status_code))
        )
        job.start()
        assert entered.wait(60)
        for path in (f"/record/{ZMUMU_CSV}", f"/visualise/histograms/{ZMUMU_CSV}", "/api/records/"):
            assert client.get(path).status_code == 200
            finished.append(path)
        release.set()
        job.join(60)
    finally:
        release.set()
        analyst.histogram = real
    assert finished[-1] == "200" and len(finished) == 4, finished


@pytest.mark.xdist_group("live")
def test_files_not_held_here_are_read_from_their_origin(home: Path, tmp_path: Path) -> None:
    """A second instance lists record 990010's file without its bytes; its origin is the first
    instance's ``/eos/opendata/``, which the analysis reads over HTTP range requests."""
    mirror = tmp_path / "mirror"
    with Catalog.open(Settings(home=home)) as catalog:
        record = dict(catalog.get(ZMUMU_CSV).metadata)
    with Catalog.open(Settings(home=mirror)) as catalog:
        catalog.write([validate_record(record)])
    uri = record["files"][0]["uri"]
    with serving(home, tmp_path / "origin.log") as origin:
        rules = f"root://eospublic.cern.ch//eos/opendata/={origin}/eos/opendata/"
        with TestClient(create_app(Settings(home=mirror, file_origins=rules))) as remote:
            analyst = remote.app.state.analyst  # type: ignore[attr-defined]
            job = analyst.prepare(HistogramQuery.build(recid=ZMUMU_CSV, expression="M", bins=60,
                                                       lo=60, hi=120))  # fmt: skip
            assert job.locations == [
                f"{origin}/eos/opendata/"
                + uri.removeprefix("root://eospublic.cern.ch//eos/opendata/")
            ]
            answer = remote.post(API, json=zmumu(ZMUMU_CSV))
            assert answer.status_code == 200, answer.text
            local = ok_answer_of(home)
            assert answer.json()["counts"] == local["counts"]
            assert abs(peak(answer.json()) - Z_MASS) <= 2


def ok_answer_of(home: Path) -> dict[str, Any]:
    with TestClient(create_app(Settings(home=home, file_origins=""))) as local:
        response = local.post(API, json=zmumu(ZMUMU_CSV))
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer


def test_every_variable_the_sample_records_offer_is_a_histogram(client: TestClient) -> None:
    """What the histogram page's picker offers (``dataset_semantics`` not typed ``string``)
    runs on its record's files."""
    offered = [
        (sample.recid, entry["variable"])
        for sample in SAMPLES
        for entry in sample.extra.get("dataset_semantics", [])
        if entry.get("type") != "string"
    ]
    assert len(offered) > 40
    for recid, variable in offered:
        response = client.post(
            API, json={"recid": recid, "expression": variable, "bins": 10, "range": [0, 100]}
        )
        assert response.status_code == 200, (recid, variable, response.text)
        assert response.json()["events_read"] > 0
