"""Malformed .ig files: each is refused with an EventFileError whose message says what is
wrong and where (the web answers 422 with it)."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openhep.events import MAX_EVENT_BYTES, EventFileError, open_events

GOOD = json.dumps(
    {
        "Types": {
            "Event_V2": [["run", "int"], ["event", "int"], ["ls", "int"]],
            "PFMETs_V1": [["phi", "double"], ["pt", "double"]],
        },
        "Collections": {"Event_V2": [[1, 2, 3]], "PFMETs_V1": [[0.5, 20.0]]},
        "Associations": {},
    }
).encode()
ENTRY = "Events/Run_1/Event_2"


def event_error(path: Path, index: int = 0) -> str:
    source = open_events(str(path))
    try:
        with pytest.raises(EventFileError) as caught:
            source.event(index)
    finally:
        source.close()
    return caught.value.message


def test_a_good_small_file_reads(make_ig: Callable[..., Path]) -> None:
    event = open_events(str(make_ig({ENTRY: GOOD}))).event(0)
    assert (event.run, event.lumi, event.event) == (1, 3, 2)
    assert event.collections["PFMETs_V1"][0] == {
        "id": "PFMETs_V1:0",
        "type": "met",
        "phi": 0.5,
        "pt": 20.0,
        "eta": 0.0,
    }


def test_truncated_zip(anchors: Path, tmp_path: Path) -> None:
    whole = (anchors / "ispy" / "Hto4l_120-130GeV.ig").read_bytes()
    cut = tmp_path / "cut.ig"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(EventFileError, match=r"cut.ig: not a readable .ig file \(a zip archive\)"):
        open_events(str(cut))


def test_damaged_entry(make_ig: Callable[..., Path]) -> None:
    path = make_ig({ENTRY: GOOD * 50})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(ENTRY)
    start = info.header_offset + 30 + len(ENTRY)
    for k in range(start + 5, start + 40):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    message = event_error(path)
    assert message.startswith(f"made.ig: {ENTRY}: cannot be read (truncated or damaged)")


def test_bad_json(make_ig: Callable[..., Path]) -> None:
    path = make_ig(
        {ENTRY: b'{"Types": {"A_V1": [["pt", "double"]]},\n "Collections": {"A_V1": [[1.0]]'}
    )
    assert "made.ig: Events/Run_1/Event_2: not iSpy JSON at line 2" in event_error(path)


def test_unknown_column_type(make_ig: Callable[..., Path]) -> None:
    bad = GOOD.replace(b'["pt", "double"]', b'["pt", "quaternion"]')
    message = event_error(make_ig({ENTRY: bad}))
    assert "Types.PFMETs_V1[1] ('pt'): unknown column type 'quaternion'" in message
    assert "double" in message  # it says which types there are


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "an iSpy event is a JSON object, found a list"),
        ({"Types": {}}, "an iSpy event has objects 'Types' and 'Collections'"),
        (
            {"Types": {"A_V1": [["pt", "double"]]}, "Collections": {"A_V1": [[1.0, 2.0]]}},
            "Collections.A_V1[0]: 2 values for 1 columns",
        ),
        (
            {"Types": {"A_V1": [["pt", "double"]]}, "Collections": {"A_V1": [["x"]]}},
            "Collections.A_V1[0].pt: expected a number, found 'x'",
        ),
        (
            {"Types": {"A_V1": [["p", "v3d"]]}, "Collections": {"A_V1": [[[1, 2]]]}},
            "Collections.A_V1[0].p: expected a list of 3 numbers",
        ),
        ({"Types": {}, "Collections": {"B_V1": []}}, "Collections.B_V1 has no entry in 'Types'"),
        (
            {
                "Types": {"A_V1": []},
                "Collections": {},
                "Associations": {"X_V1": [[[5, 0], [0, 0]]]},
            },
            "Associations.X_V1[0]: [[collection, row], [collection, row]]",
        ),
    ],
)
def test_documents_that_are_not_events(
    make_ig: Callable[..., Path], document: object, expected: str
) -> None:
    message = event_error(make_ig({ENTRY: json.dumps(document).encode()}))
    assert message.startswith(f"made.ig: {ENTRY}: ")
    assert expected in message


def test_an_entry_too_large_uncompressed(make_ig: Callable[..., Path]) -> None:
    """A zip bomb-ish entry: 64 MiB + 1 of spaces (64 kB compressed) is not read."""
    path = make_ig({ENTRY: b" " * (MAX_EVENT_BYTES + 1)})
    assert path.stat().st_size < 1 << 20
    assert "larger than 64 MiB uncompressed is not read" in event_error(path)


def test_zero_events(make_ig: Callable[..., Path]) -> None:
    with pytest.raises(EventFileError, match=r"made.ig: no events"):
        open_events(str(make_ig({"Header": b'"CMSSW_5_3_36"'})))


def test_not_a_file_or_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(EventFileError, match=r"missing.ig: no such file"):
        open_events(str(tmp_path / "missing.ig"))
    text = tmp_path / "text.ig"
    text.write_text("hello")
    with pytest.raises(EventFileError, match=r"not a readable .ig file"):
        open_events(str(text))
    with pytest.raises(EventFileError, match=r"iSpy \(.ig\) and NanoAOD \(.root\)"):
        open_events(str(tmp_path / "x.csv"))
    with pytest.raises(EventFileError, match="kind must be one of ig, nanoaod"):
        open_events(str(text), kind="csv")
    with pytest.raises(EventFileError, match="only local paths, root:// and http"):
        open_events("ftp://host/x.ig")
    with pytest.raises(EventFileError, match="at most 4096"):
        open_events("x" * 5000)
    with pytest.raises(EventFileError, match="NUL"):
        open_events("a\0.ig")


def test_messages_do_not_reveal_the_local_directory(tmp_path: Path) -> None:
    with pytest.raises(EventFileError) as caught:
        open_events(str(tmp_path / "secret" / "missing.ig"))
    assert str(tmp_path) not in caught.value.message


@settings(
    max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.binary(max_size=400))
def test_any_entry_bytes_give_an_event_or_event_file_error(
    make_ig: Callable[..., Path], data: bytes
) -> None:
    source = open_events(str(make_ig({ENTRY: data})))
    try:
        source.event(0)
    except EventFileError:
        pass
    finally:
        source.close()


@settings(
    max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.binary(max_size=400))
def test_any_file_bytes_open_or_raise_event_file_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.ig"
    path.write_bytes(data)
    try:
        source = open_events(str(path))
    except EventFileError:
        return
    try:
        for i in range(len(source)):
            with contextlib.suppress(EventFileError):
                source.event(i)
    finally:
        source.close()


NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**6), 10**6), st.none()
)
VECTOR = st.lists(NUMBER, min_size=3, max_size=3)
#: Known collections with any numbers at all: the model and the drawing data stay finite.
KNOWN = {
    "Tracks_V3": [
        ("pos", "v3d"),
        ("dir", "v3d"),
        ("pt", "double"),
        ("phi", "double"),
        ("eta", "double"),
        ("charge", "int"),
    ],
    "GlobalMuons_V1": [
        ("pt", "double"),
        ("charge", "int"),
        ("rp", "v3d"),
        ("phi", "double"),
        ("eta", "double"),
    ],
    "PFJets_V1": [("et", "double"), ("eta", "double"), ("theta", "double"), ("phi", "double")],
    "Photons_V1": [
        ("energy", "double"),
        ("et", "double"),
        ("eta", "double"),
        ("phi", "double"),
        ("pos", "v3d"),
    ],
    "PFMETs_V1": [("phi", "double"), ("pt", "double")],
    "Extras_V1": [("pos_1", "v3d"), ("dir_1", "v3d"), ("pos_2", "v3d"), ("dir_2", "v3d")],
    "EBRecHits_V2": [
        ("energy", "double"),
        ("eta", "double"),
        ("phi", "double"),
        *((f"front_{k}", "v3d") for k in range(1, 5)),
        *((f"back_{k}", "v3d") for k in range(1, 5)),
    ],
}


def _value(kind: str) -> st.SearchStrategy[object]:
    if kind == "v3d":
        return VECTOR
    if kind == "int":
        return st.integers(-3, 3)
    return NUMBER


@st.composite
def known_documents(draw: st.DrawFn) -> dict[str, object]:
    rows = {
        name: draw(st.lists(st.tuples(*(_value(k) for _, k in columns)).map(list), max_size=3))
        for name, columns in KNOWN.items()
    }
    links = [[[0, n], [5, n]] for n in range(min(len(rows["Tracks_V3"]), len(rows["Extras_V1"])))]
    return {
        "Types": {name: [list(c) for c in columns] for name, columns in KNOWN.items()},
        "Collections": rows,
        "Associations": {"TrackExtras_V1": links},
    }


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(known_documents())
def test_any_numbers_give_finite_json(make_ig: Callable[..., Path], document: dict) -> None:
    source = open_events(str(make_ig({ENTRY: json.dumps(document).encode()})))
    try:
        event = source.event(0)
    finally:
        source.close()
    json.dumps(event.to_json(), allow_nan=False)  # never NaN or infinity
    for objects in event.collections.values():
        for found in objects:
            assert all(isinstance(found[k], float) for k in ("pt", "eta", "phi"))
