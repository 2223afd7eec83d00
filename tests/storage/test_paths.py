"""Store paths and prefix rules under fuzzing: they refuse with UnsafePathError or ValueError
and never hand a backend a path that could leave the store."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from openhep.storage import DEFAULT_PREFIXES, PrefixRules, UnsafePathError, file_name, store_path
from openhep.storage._store import PARTIAL_DIR, checked_path

# Text that is likely to hit the edges: separators, dots, control characters, long names.
path_alphabet = st.sampled_from(["/", ".", "..", "\\", "\x00", "\n", "a", "é", "eos", " ", "~"])
tricky = st.lists(path_alphabet, max_size=30).map("".join)
any_text = st.text(max_size=300)
paths = st.one_of(tricky, any_text, st.text(min_size=250, max_size=1100))
# No deadline: the test machine is shared, and these tests are about answers, not speed.
fuzz = settings(deadline=None, max_examples=300)


def assert_safe(path: str) -> None:
    parts = path.split("/")
    assert path and not path.startswith("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert "\\" not in path and all(ord(c) >= 0x20 and c != "\x7f" for c in path)
    assert len(path) <= 1024


@fuzz
@given(paths)
@example("../x")
@example("a/../../etc/passwd")
@example("/abs")
@example("a\\..\\b")
@example("é" * 200)
def test_store_path_is_safe_or_refused(path: str) -> None:
    try:
        checked = store_path(path)
    except UnsafePathError:
        return
    assert checked == path
    assert_safe(checked)


@fuzz
@given(paths)
def test_file_name_is_one_safe_name_or_refused(name: str) -> None:
    try:
        checked = file_name(name)
    except UnsafePathError:
        return
    assert_safe(checked)
    assert "/" not in checked


@fuzz
@given(paths)
def test_checked_path_keeps_out_of_the_partial_area(path: str) -> None:
    try:
        checked = checked_path(path)
    except UnsafePathError:
        return
    assert_safe(checked)
    assert checked.split("/")[0] != PARTIAL_DIR


@fuzz
@given(st.one_of(tricky, any_text))
@example("root://eospublic.cern.ch//eos/opendata/=eos/opendata/")
@example("root://a//=..,b=c")
@example("=x")
@example(",")
def test_prefix_rules_parse_refuses_with_value_error(text: str) -> None:
    try:
        rules = PrefixRules.parse(text)
    except ValueError:  # UnsafePathError is a ValueError
        return
    assert isinstance(rules.rules, tuple)


uris = st.one_of(
    tricky.map(lambda tail: "root://eospublic.cern.ch//eos/opendata/" + tail),
    any_text.map(lambda tail: "root://eospublic.cern.ch//eos/opendata/" + tail),
    any_text,
)
rule_targets = st.one_of(st.just(""), tricky, st.sampled_from(["eos/opendata/", "cms/", "x"]))


@fuzz
@given(
    st.lists(st.tuples(st.one_of(tricky, st.just("root://eospublic.cern.ch//")), rule_targets)),
    uris,
)
@example([], "root://eospublic.cern.ch//eos/opendata/../../etc/passwd")
@example([("root://h//", "")], "root://h//..")
@example([("root://h//", "a/")], "root://h//../b")
def test_prefix_rules_map_uris_to_safe_paths_or_none(
    rules: list[tuple[str, str]], uri: str
) -> None:
    mapping = PrefixRules(tuple(rules)) if rules else PrefixRules()
    path = mapping.to_store_path(uri)
    if path is not None:
        assert_safe(path)


@fuzz
@given(tricky.filter(lambda tail: tail != ""))
def test_default_rules_round_trip(tail: str) -> None:
    rules = PrefixRules()
    uri = "root://eospublic.cern.ch//eos/opendata/" + tail
    path = rules.to_store_path(uri)
    if path is not None:
        assert path == "eos/opendata/" + tail
        assert rules.to_uri(path) == uri


def test_default_prefixes() -> None:
    rules = PrefixRules.parse(None)
    assert rules.rules == DEFAULT_PREFIXES
    assert (
        rules.to_store_path("root://eospublic.cern.ch//eos/opendata/cms/Run2012B/x.root")
        == "eos/opendata/cms/Run2012B/x.root"
    )
    assert rules.to_store_path("https://example.org/x.root") is None


@pytest.mark.parametrize(
    "text",
    ["no-equals-sign", "=eos/", "root://h//=../x", "root://h//=a//b"],
)
def test_bad_prefix_rules_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match=r"OPENHEP_STORAGE_PREFIXES|store path"):
        PrefixRules.parse(text)
