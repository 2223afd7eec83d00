"""``/api/records/<recid>/events…``: the events of the real iSpy files and NanoAOD sample
through the HTTP API — pages of event ids, every event of both ``.ig`` files, the Hto4l
four-lepton mass (computed here independently from the zip's JSON), NanoAOD muons equal to
uproot's, the answer cache — and every error a client can cause: 400 (parameters, ids the
event does not have, a file that holds no events), 404 (record, file, event), 422 (damaged
files, with a message saying what); fuzzed: only 200 or 4xx."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import uproot
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.events import (
    BAD_JSON,
    BROKEN,
    DOUBLEMU_IG,
    DOUBLEMU_IG_FILE,
    EMBARGOED,
    HOSTILE,
    HOSTILE_KEY,
    HTO4L,
    HTO4L_FILE,
    NANO_DIMUON,
    NANO_DIMUON_FILE,
    TRUNCATED,
    UNKNOWN_TYPE,
    ZMUMU_CSV,
    ZMUMU_ROOT,
    build_events_home,
    four_lepton_candidates,
)
from openhep.settings import Settings
from openhep.web import create_app

#: The events of the two .ig files (data/ispy/PROVENANCE.txt; the zips' Events/ entries).
IG_EVENTS = {HTO4L: 11, DOUBLEMU_IG: 25}
PHYSICS_KEYS = ("pt", "eta", "phi")


@pytest.fixture(scope="module")
def home(codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_events_home(tmp_path_factory.mktemp("events"), codp_dir, anchors)


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home, file_origins=""))) as test_client:
        yield test_client


def api(recid: str, tail: str = "", **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"/api/records/{recid}/events{tail}" + (f"?{query}" if query else "")


def ok(client: TestClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    return answer


def problem(client: TestClient, path: str, status: int) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] and body["message"] == body["error"]
    message: str = body["error"]
    return message


# -- the three routes on real files -------------------------------------------------------------


@pytest.mark.parametrize(("recid", "key"), [(HTO4L, HTO4L_FILE), (DOUBLEMU_IG, DOUBLEMU_IG_FILE)])
def test_pages_of_event_ids_cover_the_file(client: TestClient, recid: str, key: str) -> None:
    answer = ok(client, api(recid, file=key, size="10"))
    total = IG_EVENTS[recid]
    assert (answer["total"], answer["page"], answer["size"], answer["file"]) == (total, 1, 10, key)
    assert answer["kind"] == "ig"
    seen = []
    for page in range(1, math.ceil(total / 10) + 2):
        events = ok(client, api(recid, file=key, size="10", page=str(page)))["events"]
        seen += events
    # Every event once, in order, with the run and event numbers of its zip entry.
    assert [e["index"] for e in seen] == list(range(total))
    assert all(set(e) == {"index", "run", "lumi", "event"} for e in seen)
    assert all(isinstance(e["run"], int) and isinstance(e["event"], int) for e in seen)
    # Without a file, the record's first event file is read.
    assert ok(client, api(recid))["file"] == key


@pytest.mark.parametrize("recid", [HTO4L, DOUBLEMU_IG])
def test_every_event_of_the_ig_files_loads_with_physics_objects(
    client: TestClient, recid: str
) -> None:
    listed = ok(client, api(recid, size="100"))["events"]
    for entry in listed:
        answer = ok(client, api(recid, f"/{entry['index']}"))
        assert (answer["run"], answer["event"], answer["lumi"]) == (
            entry["run"], entry["event"], entry["lumi"],
        )  # fmt: skip
        assert answer["index"] == entry["index"] and answer["total"] == IG_EVENTS[recid]
        collections = answer["collections"]
        assert collections, entry
        muons = [name for name in collections if "Muon" in name and collections[name]]
        assert muons, (entry, sorted(collections))
        ids: set[str] = set()
        for objects in collections.values():
            for obj in objects:
                assert isinstance(obj["id"], str) and "," not in obj["id"]
                assert " " not in obj["id"] and obj["id"] not in ids
                ids.add(obj["id"])
                for key in PHYSICS_KEYS:
                    assert isinstance(obj[key], float) and math.isfinite(obj[key]), obj
        draw = answer["draw"]
        assert draw["tracks"] and draw["muons"], sorted(draw)


def test_the_hto4l_four_lepton_mass_is_that_of_the_files_json(
    client: TestClient, anchors: Path
) -> None:
    candidates = four_lepton_candidates(anchors / "ispy" / HTO4L_FILE)
    assert len(candidates) == 11  # every event of the file holds one
    listed = ok(client, api(HTO4L, size="100"))["events"]
    index = {(e["run"], e["event"]): e["index"] for e in listed}
    for candidate in candidates:
        at = index[(candidate.run, candidate.event)]
        collections = ok(client, api(HTO4L, f"/{at}"))["collections"]
        ids = []
        for lepton in candidate.leptons:
            # The API's object of that row: same collection, same pt, eta, phi and charge.
            (match,) = [
                obj["id"]
                for obj in collections[lepton.collection]
                if math.isclose(obj["pt"], lepton.pt, rel_tol=1e-6)
                and math.isclose(obj["eta"], lepton.eta, abs_tol=1e-6)
                and obj.get("charge") == lepton.charge
            ]
            ids.append(match)
        answer = ok(client, api(HTO4L, f"/{at}/mass", ids=",".join(ids)))
        assert 120.0 <= answer["mass"] <= 130.0, (candidate, answer)
        assert math.isclose(answer["mass"], candidate.mass, rel_tol=1e-5), (candidate, answer)
        assert answer["ids"] == ids and answer["pt"] >= 0


def test_nanoaod_muons_are_the_files_values(client: TestClient, anchors: Path) -> None:
    listing = ok(client, api(NANO_DIMUON, size="100"))
    assert listing["kind"] == "nanoaod" and listing["file"] == NANO_DIMUON_FILE
    with uproot.open(anchors / "cms-samples" / NANO_DIMUON_FILE) as root:
        events = root["Events"]
        branches = ["run", "luminosityBlock", "event", "Muon_pt", "Muon_eta", "Muon_phi",
                    "Muon_charge"]  # fmt: skip
        arrays = events.arrays(branches, library="np")
    assert listing["total"] == len(arrays["run"])
    for i in range(min(5, listing["total"])):
        answer = ok(client, api(NANO_DIMUON, f"/{i}"))
        assert (answer["run"], answer["lumi"], answer["event"]) == (
            int(arrays["run"][i]), int(arrays["luminosityBlock"][i]), int(arrays["event"][i]),
        )  # fmt: skip
        muons = answer["collections"].get("Muon", [])
        assert [m["pt"] for m in muons] == pytest.approx(list(arrays["Muon_pt"][i]), rel=1e-6)
        assert [m["charge"] for m in muons] == list(arrays["Muon_charge"][i])
        if len(muons) >= 2:
            mass = ok(client, api(NANO_DIMUON, f"/{i}/mass", ids="Muon:0,Muon:1"))
            assert mass["mass"] > 0


def test_answers_are_kept_by_the_answer_cache(client: TestClient) -> None:
    path = api(HTO4L, "/0")
    first = client.get(path)
    again = client.get(path)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("x-cache") == "hit" and again.content == first.content
    assert first.headers["content-security-policy"].startswith("default-src 'none'")


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        (api("999999"), 404, "999999"),
        (api(EMBARGOED), 404, EMBARGOED),
        (api(HTO4L, file="nope.ig"), 404, "nope.ig"),
        (api(HTO4L, "/11"), 404, "11"),
        (api(HTO4L, "/-1"), 400, "index"),
        (api(HTO4L, "/x"), 400, "index"),
        (api(HTO4L, page="0"), 400, "page"),
        (api(HTO4L, size="101"), 400, "size"),
        (api(HTO4L, size="0"), 400, "size"),
        (api(HTO4L, color="red"), 400, "color"),
        (api(HTO4L, file="x" * 1025), 400, "file"),
        (api(HTO4L, "/0/mass"), 400, "ids"),
        (api(HTO4L, "/0/mass", ids="a,,b"), 400, "ids"),
        (api(HTO4L, "/0/mass", ids=",".join(f"X:{i}" for i in range(51))), 400, "50"),
        (api(HTO4L, "/0/mass", ids="X" * 101), 400, "ids"),
        (api(HTO4L, "/0/mass", ids="GlobalMuons_V1:0,GlobalMuons_V1:0"), 400, "twice"),
        (api(HTO4L, "/0/mass", ids="GlobalMuons_V1:0,Nothing:7"), 400, "Nothing:7"),
        (api(ZMUMU_CSV), 400, "no iSpy"),
        (api(ZMUMU_CSV, file="Zmumu_2010.csv"), 400, "Zmumu_2010.csv"),
        (api(ZMUMU_ROOT, file="uproot-Zmumu.root"), 400, "uproot-Zmumu.root"),
        (api(HTO4L, file="x\x01"), 400, "control"),
        ("/api/records/990008/events?file=%FF", 400, "UTF-8"),
    ],
)
def test_errors_say_what_to_change(client: TestClient, path: str, status: int, says: str) -> None:
    assert says in problem(client, path, status)


@pytest.mark.parametrize(
    ("key", "tail", "says"),
    [
        (TRUNCATED, "", TRUNCATED.split(".")[0]),
        (BAD_JSON, "/0", "JSON"),
        (UNKNOWN_TYPE, "/0", "quaternion"),
    ],
)
def test_damaged_files_are_422_with_a_clear_message(
    client: TestClient, key: str, tail: str, says: str
) -> None:
    message = problem(client, api(BROKEN, tail, file=key), 422)
    assert says.lower() in message.lower() or "zip" in message.lower(), message
    # And the app keeps answering.
    assert ok(client, api(HTO4L, "/0"))["index"] == 0


def test_a_hostile_key_is_just_a_key(client: TestClient) -> None:
    answer = ok(client, api(HOSTILE, file=HOSTILE_KEY))
    assert answer["file"] == HOSTILE_KEY and answer["total"] == IG_EVENTS[HTO4L]


# -- fuzzed parameters: only 200 or 4xx ----------------------------------------------------------

TEXT = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(-5, 200).map(str),
    st.sampled_from(["GlobalMuons_V1:0", "GlobalMuons_V1:0,GsfElectrons_V2:1", "1e3", "0x1"]),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    recid=st.sampled_from([HTO4L, DOUBLEMU_IG, NANO_DIMUON, ZMUMU_CSV, BROKEN, "0", "abc"]),
    index=st.one_of(st.integers(-2, 30).map(str), st.text(max_size=6)),
    route=st.sampled_from(["list", "event", "mass"]),
    file=TEXT,
    page=TEXT,
    size=TEXT,
    ids=TEXT,
)
def test_fuzzed_requests_answer_200_or_4xx(
    client: TestClient,
    recid: str,
    index: str,
    route: str,
    file: str | None,
    page: str | None,
    size: str | None,
    ids: str | None,
) -> None:
    params = {"file": file}
    if route == "list":
        tail = ""
        params |= {"page": page, "size": size}
    else:
        tail = f"/{quote(index, safe='')}" + ("/mass" if route == "mass" else "")
        if route == "mass":
            params["ids"] = ids
    query = {k: v for k, v in params.items() if v is not None}
    response = client.get(f"/api/records/{quote(recid)}/events{tail}", params=query)
    assert response.status_code in (200, 400, 404, 422), response.text
    if response.status_code != 200:
        assert response.json()["message"]
