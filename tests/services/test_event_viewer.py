"""The event display's service: which files of real CODP records it shows (read from the
record alone), reading parameters strictly (fuzzed: a value or an ``EventQueryError`` naming
the field), and the files it keeps open — bounded, the least recently used closed, safe to
read from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _services.events import DOUBLEMU_IG, HTO4L, NANO_DIMUON, build_events_home
from openhep.model import RecordData
from openhep.services import (
    EventQueryError,
    EventViewer,
    Portal,
    displayable_files,
    parse_ids,
    parse_index,
    parse_page,
    parse_size,
)
from openhep.settings import Settings

VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))


@given(VALUES)
def test_page_size_and_index_are_bounded_whole_numbers(value: Any) -> None:
    for parse, low, high in ((parse_page, 1, 1_000_000), (parse_size, 1, 100),
                             (parse_index, 0, 999_999_999)):  # fmt: skip
        try:
            number = parse(value)
        except EventQueryError as exc:
            assert exc.field and exc.message and exc.to_json()["field"] == exc.field
            continue
        assert isinstance(number, int) and low <= number <= high


@given(st.one_of(VALUES, st.lists(st.text(max_size=8), max_size=60).map(",".join)))
def test_ids_are_a_bounded_list_of_distinct_names(value: Any) -> None:
    try:
        ids = parse_ids(value)
    except EventQueryError as exc:
        assert exc.field == "ids"
        return
    assert 1 <= len(ids) <= 50 and len(set(ids)) == len(ids)
    assert all(0 < len(one) <= 100 and "," not in one and " " not in one for one in ids)


def test_the_real_records_with_ig_or_nanoaod_files_are_displayable(
    codp_records: list[dict[str, Any]],
) -> None:
    shown = {r["recid"]: displayable_files(r) for r in codp_records}
    ig = {recid for recid, files in shown.items() if any(f.key.endswith(".ig") for f in files)}
    root = {recid for recid, files in shown.items() if any(f.key.endswith(".root") for f in files)}
    assert len(ig) >= 20, "CODP publishes the iSpy files of its masterclasses"
    for recid in root:
        record = next(r for r in codp_records if r["recid"] == recid)
        formats = [f.lower() for f in RecordData(record).distribution.formats]
        assert any("nanoaod" in f and "poet" not in f for f in formats), recid
    # No file index, no other kind, is ever shown.
    for files in shown.values():
        assert all(f.key.endswith((".ig", ".root")) for f in files)


@pytest.fixture(scope="module")
def portal(
    codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    home = build_events_home(tmp_path_factory.mktemp("event-viewer"), codp_dir, anchors)
    opened = Portal.open(Settings(home=home, file_origins=""))
    yield opened
    opened.close()


def test_files_kept_open_are_bounded_and_the_evicted_closed(portal: Portal) -> None:
    with EventViewer(portal, max_open=2) as viewer:
        first = viewer.events(HTO4L, None, page=1, size=5)
        assert (first.total, len(first.events)) == (11, 5)
        viewer.events(DOUBLEMU_IG, None, page=1, size=5)
        assert viewer.open_files == 2
        kept = list(viewer._open.values())  # the cache is what is tested
        viewer.events(NANO_DIMUON, None, page=1, size=5)
        assert viewer.open_files == 2
        # The least recently used (the Hto4l file) was closed and is opened again on demand.
        assert kept[0].evicted and not kept[1].evicted
        assert viewer.event(HTO4L, None, 3)["index"] == 3
        assert viewer.open_files == 2


def test_many_threads_read_events_at_once(portal: Portal) -> None:
    errors: list[BaseException] = []
    answers: dict[tuple[str, int], str] = {}
    lock = threading.Lock()

    with EventViewer(portal, max_open=1) as viewer:

        def work(n: int) -> None:
            # Alternating files with room for one: every request may evict another's file.
            recid = (HTO4L, DOUBLEMU_IG)[n % 2]
            try:
                answer = viewer.event(recid, None, n % 7)
                with lock:
                    answers[(recid, n % 7)] = f"{answer['run']}:{answer['event']}"
            except BaseException as exc:  # collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(answers) == 14
    # The same event whichever thread read it.
    with EventViewer(portal) as fresh:
        for (recid, index), number in answers.items():
            answer = fresh.event(recid, None, index)
            assert f"{answer['run']}:{answer['event']}" == number
