"""The tolerant reader of iSpy text: CMSSW's JSON with bare nan, and the older style with
Python tuples, single quotes, True/None and trailing commas; any bytes → a value or an
EventFileError saying where, never another exception."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openhep.events import EventFileError, open_events
from openhep.events._igdoc import read_document
from openhep.events._syntax import parse_text

#: An event in the older iSpy style, written by hand: Python tuples and single quotes,
#: None and nan, a one-element tuple's trailing comma, a version suffix never seen.
OLD_STYLE = b"""{'Types': {'Event_V1': [('run', 'int'), ('event', 'int'), ('ls', 'int')],
 'Tracks_V7': [('pos', 'v3d'), ('dir', 'v3d'), ('pt', 'double'), ('phi', 'double'),
               ('eta', 'double'), ('charge', 'int')],
 'GlobalMuons_V9': [('pt', 'double'), ('charge', 'int'), ('rp', 'v3d'), ('phi', 'double'),
                    ('eta', 'double')],
 'Notes_V1': [('text', 'string'),],
 'Wobbles_V2': [('pt', 'double'), ('eta', 'double'), ('phi', 'double'), ('ok', 'bool')]},
 'Collections': {'Event_V1': [(163286, 109060857, 71)],
  'Tracks_V7': [((0.0, 0.0, 0.01), (1.0, 0.0, 0.0), 5.5, 0.25, -0.5, -1),
                ((0.0, 0.0, 0.01), (0.0, 1.0, 0.0), nan, 1.5, 0.1, 1)],
  'GlobalMuons_V9': [(25.0, 1, (0.0, 0.0, 0.0), -2.0, 1.1)],
  'Notes_V1': [('it\\'s a "note" (nan)',), (None,)],
  'Wobbles_V2': [(3.0, 0.2, 0.1, True)]},
 'Associations': {'Nothing_V1': []}}"""


def test_the_older_style_reads(make_ig: Callable[..., Path]) -> None:
    value = parse_text(OLD_STYLE, "old.ig")
    assert value["Collections"]["Notes_V1"] == [['it\'s a "note" (nan)'], [None]]
    assert value["Collections"]["Tracks_V7"][1][2] is None  # nan → None
    path = make_ig({"Events/Run_163286/Event_109060857": OLD_STYLE, "Header": b"'x'"})
    source = open_events(str(path))
    event = source.event(0)
    assert (event.run, event.lumi, event.event) == (163286, 71, 109060857)
    # The track with a nan pt is left out and counted; the other is drawn as a helix.
    assert [o["id"] for o in event.collections["Tracks_V7"]] == ["Tracks_V7:0"]
    assert event.draw["dropped"]["objects_without_pt_eta_phi"] == 1
    assert event.collections["GlobalMuons_V9"][0]["type"] == "muon"
    assert event.draw["muons"][0]["id"] == "GlobalMuons_V9:0"
    (track,) = event.draw["tracks"]
    assert len(track["points"]) > 10
    # A collection of unknown name with pt/eta/phi is listed as objects; others are counted.
    assert event.collections["Wobbles_V2"][0]["type"] == "other"
    assert event.draw["other"] == {"Notes_V1": 2}
    json.dumps(event.to_json(), allow_nan=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"a": [nan, -nan, inf, -inf, 1e3]}', {"a": [None, None, None, None, 1000.0]}),
        (b'{"nan": "nan", "x": "inf (nan)"}', {"nan": "nan", "x": "inf (nan)"}),
        (b'{"a": NaN, "b": Infinity, "c": -Infinity}', {"a": None, "b": None, "c": None}),
        (b"[(1, 2), (3,), [4, 5,],]", [[1, 2], [3], [4, 5]]),
        (b"{'a': 'x\"y', 'b': \"it's\"}", {"a": 'x"y', "b": "it's"}),
        (b"[True, False, None, NAN, Infinity]", [True, False, None, None, None]),
        (b'{"s": "a\\"b nan"}', {"s": 'a"b nan'}),
    ],
)
def test_tolerated_spellings(text: bytes, expected: object) -> None:
    assert parse_text(text, "t.ig") == expected


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (b'{"a": [1, 2}', "line 1, column 12"),
        (b'{\n  "a": (1,\n 2]', "line 3, column 4"),
        (b'{"a":\n  nan nan}', "line 2, column 7"),
        (b'{"a": nanx}', "line 1, column 7"),
        (b"{'a': 1,\n 'b': inf,\n 'c' 3}", "line 3, column 6"),
    ],
)
def test_errors_say_the_line_and_column_of_the_original_text(text: bytes, where: str) -> None:
    with pytest.raises(
        EventFileError, match=rf"f.ig: Events/Run_1/Event_2: not iSpy JSON at {where}"
    ):
        parse_text(text, "f.ig: Events/Run_1/Event_2")


def test_not_utf8_and_nesting_too_deep() -> None:
    with pytest.raises(EventFileError, match=r"not UTF-8 text .* byte 0xff"):
        parse_text(b'{"a": "\xff"}', "x")
    with pytest.raises(EventFileError, match="nested too deeply"):
        parse_text(b"[" * 200_000 + b"]" * 200_000, "x")


#: Strings as iSpy writes them: printable, no backslash (Python's repr would write control
#: characters as \x00-style escapes, which neither JSON nor iSpy uses).
TEXT = st.text(
    st.characters(
        max_codepoint=0x24F, categories=("L", "N", "P", "S", "Zs"), exclude_characters="\\"
    ),
    max_size=8,
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_event_file_error(data: bytes) -> None:
    try:
        value = parse_text(data, "fuzz.ig")
    except EventFileError as exc:
        assert exc.message.startswith("fuzz.ig: ")
        return
    with contextlib.suppress(EventFileError):
        read_document(value, "fuzz.ig")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(JSONISH, st.sampled_from(["json", "python"]))
def test_values_written_either_way_read_back(value: object, style: str) -> None:
    """JSON (NaN, infinities → None) or Python's repr (tuples for lists) of the same value
    read back as the same value."""
    expected = _without_non_finite(value)
    text = json.dumps(value) if style == "json" else repr(_as_python(value))
    assert parse_text(text.encode(), "x") == expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                '{"Types": {',
                '"A_V1": [["pt", "double"]]',
                "}, ",
                '"Collections": {"A_V1": [[',
                "nan",
                "1.5",
                "'x'",
                "(",
                ")",
                "]]}",
                ', "Associations": {}',
                "}",
                ",",
                "[[[0, 0], [0, 0]]]",
            ]
        ),
        max_size=14,
    ),
)
def test_fragments_of_events_never_raise_anything_else(parts: list[str]) -> None:
    data = "".join(parts).encode()
    with contextlib.suppress(EventFileError):
        read_document(parse_text(data, "f.ig"), "f.ig")


def _without_non_finite(value: object) -> object:
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, list):
        return [_without_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_non_finite(v) for k, v in value.items()}
    return value


def _as_python(value: object) -> object:
    if isinstance(value, list):
        return tuple(_as_python(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_python(v) for k, v in value.items()}
    return value
