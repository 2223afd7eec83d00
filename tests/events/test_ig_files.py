"""Every event of the real iSpy files loads: ids agree with the events, every physics object
has finite pt/eta/phi and a unique id, nothing in the JSON is NaN, the drawing data is there."""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import pytest

from openhep.events import Event, EventNotFound, UnknownObjects, open_events


def raw_events(path: Path) -> list[dict]:
    """The file's events read directly (zipfile + json with nan made NaN)."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("Events/")]
        return [
            json.loads(re.sub(rb"\bnan\b", b"NaN", archive.read(n)), parse_constant=lambda _: None)
            for n in names
        ]


def test_every_event_loads(ig_file: Path) -> None:
    raw = raw_events(ig_file)
    source = open_events(str(ig_file))
    try:
        assert source.kind == "ig"
        assert len(source) == len(raw) == (11 if "Hto4l" in ig_file.name else 25)
        ids = source.ids(0, len(source))
        assert [i.index for i in ids] == list(range(len(source)))
        for index, document in enumerate(raw):
            event = source.event(index)
            run, number, lumi = document["Collections"]["Event_V2"][0][:3]
            assert (event.run, event.event, event.lumi) == (run, number, lumi)
            assert (ids[index].run, ids[index].event, ids[index].lumi) == (run, number, lumi)
            check_event(event, document)
    finally:
        source.close()


def check_event(event: Event, document: dict) -> None:
    text = json.dumps(event.to_json(), allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text)["run"] == event.run
    assert event.collections, "no collections"
    seen: set[str] = set()
    for name, objects in event.collections.items():
        assert name in document["Types"]
        # Every row with finite pt (or et), eta (or theta) and phi is an object.
        for found in objects:
            assert found["id"].startswith(f"{name}:")
            assert "," not in found["id"] and " " not in found["id"]
            assert found["id"] not in seen
            seen.add(found["id"])
            for key in ("pt", "eta", "phi"):
                assert isinstance(found[key], float) and math.isfinite(found[key]), (name, key)
    for kind in ("GlobalMuons_V1", "Tracks_V3", "PFJets_V1", "PFMETs_V1"):
        assert len(event.collections[kind]) == len(document["Collections"][kind])
    draw = event.draw
    assert len(draw["tracks"]) == len(document["Collections"]["Tracks_V3"])
    assert draw["jets"] and draw["met"] and draw["towers"] and draw["vertices"]
    muons = sum(
        len(document["Collections"][c])
        for c in ("GlobalMuons_V1", "TrackerMuons_V1", "TrackerMuons_V2", "StandaloneMuons_V2")
    )
    assert len(draw["muons"]) == muons
    for path in draw["tracks"] + draw["muons"] + draw["electrons"]:
        assert 2 <= len(path["points"]) <= 64
        assert path["id"] in seen
    # Tracks are the file's own curves: they start at the first state of their extra.
    tracks = document["Collections"]["Tracks_V3"]
    first = next(p for p in draw["tracks"] if p["id"] == "Tracks_V3:0")
    extra_row = next(a[1][1] for a in document["Associations"]["TrackExtras_V1"] if a[0][1] == 0)
    start = document["Collections"]["Extras_V1"][extra_row][0]
    assert first["points"][0] == pytest.approx(start, abs=1e-4)
    assert len(tracks) > 0
    # Unknown-to-the-display collections are listed with their counts, not dropped.
    assert draw["other"]["TriggerPaths_V1"] == len(document["Collections"]["TriggerPaths_V1"])


def test_events_outside_the_file_and_unknown_ids(ig_file: Path) -> None:
    source = open_events(str(ig_file))
    try:
        with pytest.raises(EventNotFound, match="no event 99"):
            source.event(99)
        with pytest.raises(EventNotFound):
            source.event(-1)
        assert source.ids(5, 3) == []
        assert len(source.ids(-5, 10_000)) == len(source)
        event = source.event(0)
        chosen = event.select(["Tracks_V3:0", "PFMETs_V1:0"])
        assert [o["id"] for o in chosen] == ["Tracks_V3:0", "PFMETs_V1:0"]
        with pytest.raises(UnknownObjects) as caught:
            event.select(["Tracks_V3:0", "Nope:1", "Tracks_V3:99999"])
        assert caught.value.ids == ["Nope:1", "Tracks_V3:99999"]
        assert "'Nope:1'" in caught.value.message
    finally:
        source.close()


def test_ids_without_parsing_agree_with_the_parsed_events(ig_file: Path) -> None:
    """``ids`` reads only each entry's start; a fresh source's ids equal the events'."""
    quick = open_events(str(ig_file)).ids(0, 100)
    source = open_events(str(ig_file))
    parsed = [source.event(i) for i in range(len(source))]
    assert [(i.run, i.lumi, i.event) for i in quick] == [(e.run, e.lumi, e.event) for e in parsed]
