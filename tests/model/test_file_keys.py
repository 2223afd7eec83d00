"""The one rule for file keys (``openhep.model.check_file_key``) and the record model using it:
accepted keys come back as given, refused ones say what to change."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openhep.model import (
    MAX_KEY_BYTES,
    FileKeyError,
    RecordValidationError,
    check_file_key,
    file_key,
    validate_record,
)
from openhep.model._keys import BIDI_CONTROLS

Record = dict[str, Any]


@pytest.mark.parametrize(
    "key",
    [
        "Zmumu.root",
        "Run2012B_DoubleMuParked_AOD_22Jan2013-v1_file_index.json",
        "köln_ünïcödé\u2013\u03a9\u03bc\u03ad\u03b3\u03b1.root",  # composed (NFC) letters
        "данные.root",
        "x" * MAX_KEY_BYTES,
        "é" * (MAX_KEY_BYTES // 2),  # two bytes each
        ".hidden",
        "a+b=c,(d)[e]{f}~!@#$%^&';.txt",
    ],
)
def test_good_keys_are_kept_as_given(key: str) -> None:
    assert check_file_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("evil\u202egpj.root", "character 4 is U+202E, RIGHT-TO-LEFT OVERRIDE, a bidirectional"),
        ("a\u2066b", "U+2066, LEFT-TO-RIGHT ISOLATE"),
        ("a\u200fb", "U+200F, RIGHT-TO-LEFT MARK"),
        ("a\u202ab", "U+202A"),
        ("a\u2069", "U+2069"),
        ("a\nb", "character 1 is U+000A, a control character"),
        ("a\x00b", "U+0000, a control character"),
        ("a\x85b", "U+0085, a control character"),
        ("a\u2028b", "character 1 is a space (U+2028)"),
        ("a b.root", "character 1 is a space (U+0020): a file key has no spaces"),
        ("a\u00a0b", "a space (U+00A0)"),
        ("\u3000", "a space (U+3000)"),
        ("a/b.root", "a key is one name, without '/'"),
        ("a\\b.root", "without '/' or '\\'"),
        (".", "'.' and '..' name folders"),
        ("..", "'.' and '..' name folders"),
        ("", "cannot be empty"),
        ("x" * (MAX_KEY_BYTES + 1), f"256 bytes of UTF-8, the limit is {MAX_KEY_BYTES}"),
        ("é" * 128, "256 bytes of UTF-8"),
        ("e\u0301.root", "not in Unicode's composed form (NFC) from character 0 (U+0065 where"),
        ("a\ud800", "lone surrogate"),
    ],
)
def test_bad_keys_are_refused_saying_what_to_change(key: str, message: str) -> None:
    with pytest.raises(FileKeyError) as caught:
        check_file_key(key)
    text = str(caught.value)
    assert message in text
    assert text.rstrip().endswith(
        ("remove it", "shorten it", "a name", "file index", "character", "instead")
    )
    # The message never carries the control itself: it cannot reorder the line it is on.
    assert not any(ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" for ch in text)


def _refused(key: str) -> bool:
    """The rule, restated independently from the docs (docs/api.md, "File keys")."""
    if not key or key in (".", "..") or "/" in key or "\\" in key:
        return True
    if any(
        ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs") or ch.isspace()
        for ch in key
    ):
        return True
    return len(key.encode()) > MAX_KEY_BYTES or unicodedata.normalize("NFC", key) != key


PIECES = ["a", ".", "/", "\u202e", "\u2067", "\n", "e\u0301", "\u00e9", "\\", "x" * 120]
KEYS = st.text(max_size=140) | st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@pytest.fixture(scope="module")
def with_files(codp_records: list[Record]) -> Record:
    """A real record with files (a fixture of its own: hypothesis shows its arguments)."""
    return next(r for r in codp_records if r.get("files"))


def _record(record: Record, **file: Any) -> Record:
    record = copy.deepcopy(record)
    record["files"] = [{**record["files"][0], **file}]
    return record


@settings(max_examples=400, deadline=None)
@given(key=KEYS)
def test_any_key_is_kept_exactly_or_refused_with_a_reason(key: str) -> None:
    try:
        assert check_file_key(key) == key
    except FileKeyError as exc:
        assert _refused(key), key
        assert "key" in str(exc)
        return
    assert not _refused(key), key


@settings(max_examples=100, deadline=None)
@given(key=KEYS)
def test_a_records_file_keys_follow_the_rule(key: str, with_files: Record) -> None:
    record = _record(with_files, key=key)
    try:
        validated = validate_record(record)
    except RecordValidationError as exc:
        assert _refused(key)
        assert any(e.path == "files[0].key" for e in exc.errors), exc
        return
    files = validated.model_dump(mode="json", by_alias=True, exclude_none=True)["files"]
    if key == "":  # an empty value is dropped when the record is read (a listed repair)
        assert file_key(files[0]) == record["files"][0]["uri"].rsplit("/", 1)[-1]
        return
    assert not _refused(key)
    assert file_key(files[0]) == key


def test_a_file_without_key_is_named_by_its_uri_under_the_same_rule(with_files: Record) -> None:
    record = _record(
        with_files, uri="root://eospublic.cern.ch//eos/opendata/cms/evil\u202egpj.root"
    )
    record["files"][0].pop("key", None)
    with pytest.raises(RecordValidationError) as caught:
        validate_record(record)
    assert "files[0]" in str(caught.value)
    assert "named by the end of its uri" in str(caught.value)
    assert "U+202E" in str(caught.value)
    ok = _record(with_files, uri="root://eospublic.cern.ch//eos/opendata/cms/ok.root")
    validate_record(ok)


def test_every_real_file_is_named_by_a_good_key(codp_records: list[Record]) -> None:
    names = [file_key(f) for r in codp_records for f in r.get("files") or []]
    assert len(names) > 18_000
    assert [n for n in names if _refused(n)] == []


def test_one_rule_says_which_files_are_file_indices_and_their_key() -> None:
    from openhep.model import RECID, index_key_of, is_index_file

    for kind in ("index", "index.json", "index.txt"):
        assert is_index_file({"type": kind, "uri": "root://h//x_file_index.json"})
    for kind in (None, "", "root", "indexed", "index.xml", "json"):
        assert not is_index_file({"type": kind, "uri": "root://h//x_file_index.json"})
    assert index_key_of("x_file_index.json") == index_key_of("x_file_index.txt") == "x_file_index"
    assert index_key_of("x_file_index") is None and index_key_of("x.root") is None
    assert [bool(RECID.match(r)) for r in ("1", "123456789012", "", "1234567890123", "1a")] == [
        True,
        True,
        False,
        False,
        False,
    ]
