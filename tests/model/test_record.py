"""The record model against the real CODP records and against broken ones."""

from __future__ import annotations

import zlib
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _records import minimal
from openhep.model import (
    RecordValidationError,
    normalize_checksum,
    parse_release_date,
    record_json_schema,
    validate_record,
)


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(RecordValidationError) as info:
        validate_record(data)
    return {e.path: e.message for e in info.value.errors}


#: Where the real records leave an optional field empty (""), and how often: the model takes
#: those as absent (a record's other empty strings are values of required fields).
REAL_EMPTY_OPTIONAL = {
    ("collaboration", "recid"): 1441,
    ("title_additional",): 99,
    ("relations", "description"): 29,
    ("methodology", "steps", "global_tag"): 18,
    ("authors", "affiliation"): 11,
}


def _drop_empty(value: Any, path: tuple[str, ...], dropped: dict[tuple[str, ...], int]) -> Any:
    if isinstance(value, list):
        return [_drop_empty(item, path, dropped) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        where = (*path, key)
        if item == "" and where in REAL_EMPTY_OPTIONAL:
            dropped[where] = dropped.get(where, 0) + 1
            continue
        kept[key] = _drop_empty(item, where, dropped)
    return kept


def test_every_real_record_validates_and_round_trips(codp_records: list[dict[str, Any]]) -> None:
    assert len(codp_records) == 7535
    normalized = 0
    dropped: dict[tuple[str, ...], int] = {}
    for raw in codp_records:
        data = validate_record(raw).to_json()
        expected = _drop_empty(raw, (), dropped)
        if "files" in expected:
            canonical = [normalize_checksum(f["checksum"]) for f in expected["files"]]
            if canonical != [f["checksum"] for f in expected["files"]]:
                normalized += 1
            for f, checksum in zip(expected["files"], canonical, strict=True):
                f["checksum"] = checksum
        # The only changes: checksums in canonical adler32:%08x form, optional "" dropped.
        assert data == expected, raw["recid"]
    # 136 real records carry adler32 values without leading zeros (or spelt "alder32").
    assert normalized == 136
    assert dropped == REAL_EMPTY_OPTIONAL


def test_real_records_fit_the_exported_json_schema(codp_records: list[dict[str, Any]]) -> None:
    # The schema gives the current shapes: what ingest stores, after the upgrade.
    validator = jsonschema.Draft202012Validator(record_json_schema())
    for raw in codp_records[::25]:
        validator.validate(validate_record(raw).to_json())


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("adler32:5f4f3b7", "adler32:05f4f3b7"),
        ("adler32:ABCDEF01", "adler32:abcdef01"),
        ("alder32:c89abb9b", "adler32:c89abb9b"),
        ("sha1:" + "A" * 40, "sha1:" + "a" * 40),
        ("sha256:" + "0" * 64, "sha256:" + "0" * 64),
    ],
)
def test_checksums_normalise(given: str, canonical: str) -> None:
    assert normalize_checksum(given) == canonical


@pytest.mark.parametrize(
    "bad", ["adler32:", "adler32:123456789", "adler32:xyz", "md5:abc", "5f4f3b7", "sha1:abc"]
)
def test_bad_checksums_name_the_expected_form(bad: str) -> None:
    record = minimal(files=[{"uri": "root://eospublic.cern.ch//eos/a", "size": 1, "checksum": bad}])
    assert errors_of(record) == {
        "files[0].checksum": "expected 'adler32:' followed by 8 hex digits "
        "(or 'sha1:' with 40, 'sha256:' with 64)"
    }


def test_normalised_adler32_is_the_value_zlib_computes() -> None:
    payload = b"real bytes of a file"
    value = zlib.adler32(payload)
    assert normalize_checksum(f"adler32:{value:x}") == f"adler32:{value:08x}"


def test_errors_carry_field_paths_and_expectations() -> None:
    files = [
        {"uri": "root://eospublic.cern.ch//eos/a", "size": 1, "checksum": "adler32:00000001"}
    ] * 3 + [{"uri": "root://eospublic.cern.ch//eos/b", "size": "12", "checksum": "adler32:1"}]
    record = minimal(files=files, experiment={"name": "CMS"}, tittle="typo")
    del record["publisher"]
    found = errors_of(record)
    assert found == {
        "files[3].size": "Input should be a valid integer, got string",
        "experiment": "Input should be a valid list, got object",
        "publisher": "required field is missing",
    }


def test_error_names_the_recid() -> None:
    with pytest.raises(RecordValidationError) as info:
        validate_record(minimal(title=""))
    assert info.value.recid == "900001"
    assert str(info.value).startswith("record 900001: title:")


@pytest.mark.parametrize("not_a_record", [[], "x", 3, None, ["recid"]])
def test_a_record_must_be_an_object(not_a_record: Any) -> None:
    assert list(errors_of(not_a_record)) == [""]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recid", "12a"),
        ("recid", 12),
        ("doi", "not-a-doi"),
        ("date_published", "2024-13-01"),
        ("date_published", "last year"),
        ("release_date", "2024-02-30"),
        ("type", {"primary": "", "secondary": []}),
        ("experiment", []),
        ("title", "x" * 1001),
    ],
)
def test_field_rules(field: str, value: Any) -> None:
    assert field in {p.split(".")[0].split("[")[0] for p in errors_of(minimal(**{field: value}))}


def test_links_must_point_somewhere() -> None:
    found = errors_of(minimal(usage={"links": [{"description": "nowhere"}]}))
    assert found == {"usage.links[0]": "a link needs a 'recid' or a 'url'"}


def test_release_dates() -> None:
    assert parse_release_date("2024").isoformat() == "2024-01-01T00:00:00+00:00"
    assert parse_release_date("2024-06").isoformat() == "2024-06-01T00:00:00+00:00"
    assert parse_release_date("2024-06-15T12:00:00+02:00").isoformat() == (
        "2024-06-15T12:00:00+02:00"
    )
    record = validate_record(minimal(date_published="2020", release_date="2031-05-01"))
    assert record.visible_from().isoformat() == "2031-05-01T00:00:00+00:00"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(minimal())) | st.text(max_size=10), json_values))
def test_arbitrary_json_is_accepted_or_rejected_with_paths(data: dict[str, Any]) -> None:
    try:
        validate_record(data)
    except RecordValidationError as exc:
        assert exc.errors
        assert all(isinstance(e.path, str) and e.message for e in exc.errors)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(sorted(minimal())), value=json_values)
def test_one_broken_field_is_named(field: str, value: Any) -> None:
    data = minimal(**{field: value})
    try:
        validate_record(data)
    except RecordValidationError as exc:
        assert any(e.path.split(".")[0].split("[")[0] == field for e in exc.errors)


def test_nul_characters_are_refused_with_their_path() -> None:
    found = errors_of(minimal(abstract={"description": "bad\x00byte"}, keywords=["ok", "\x00"]))
    assert found == {
        "abstract.description": "contains a NUL character (\\u0000), which cannot be stored",
        "keywords[1]": "contains a NUL character (\\u0000), which cannot be stored",
    }
    # A literal backslash-u0000 in a text is just text.
    validate_record(minimal(abstract={"description": "see \\u0000 in C"}))


def test_file_sizes_fit_a_64_bit_catalogue() -> None:
    uri = "root://eospublic.cern.ch//eos/opendata/a.root"
    found = errors_of(minimal(files=[{"uri": uri, "size": 2**63, "checksum": "adler32:1"}]))
    assert list(found) == ["files[0].size"]
