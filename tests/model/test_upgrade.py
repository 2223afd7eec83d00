"""Older CODP record shapes: upgraded to the current format with every repair named, while
what is truly broken is still refused with its path."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _codp_shapes import LIST_FIELDS, pre_2024
from _records import any_json, minimal
from openhep.model import (
    RecordValidationError,
    RepairKind,
    record_json_schema,
    upgrade_record,
    validate_record,
)


def repairs_of(data: Any) -> dict[str, str]:
    return {r.path: str(r.kind) for r in upgrade_record(data).repairs}


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(RecordValidationError) as info:
        validate_record(data)
    return {e.path: e.message for e in info.value.errors}


def test_the_pre_2024_experiment_string_becomes_a_list() -> None:
    old = minimal(experiment="CMS", run_period="Run2011A", date_created="2011")
    upgraded = upgrade_record(old)
    assert {r.path: r.kind for r in upgraded.repairs} == {
        "experiment": RepairKind.scalar_to_list,
        "run_period": RepairKind.scalar_to_list,
        "date_created": RepairKind.scalar_to_list,
    }
    record = validate_record(old)
    assert (record.experiment, record.run_period, record.date_created) == (
        ["CMS"],
        ["Run2011A"],
        ["2011"],
    )
    assert old["experiment"] == "CMS"  # the caller's JSON is left as it was
    assert str(upgraded.repairs[0]) == (
        "experiment: one value where the format has a list: made a one-item list"
    )


def test_lone_values_become_lists_at_any_depth() -> None:
    old = minimal(
        type={"primary": "Dataset", "secondary": "Collision"},
        authors={"name": "A. Physicist", "affiliation": ""},
        methodology={"steps": {"type": "RECO", "generators": "pythia8"}},
        usage={"links": {"url": "https://example.org", "title": ""}},
        files={"uri": "root://eospublic.cern.ch//eos/a.root", "size": 1, "checksum": "adler32:1"},
    )
    assert repairs_of(old) == {
        "type.secondary": "scalar_to_list",
        "authors": "scalar_to_list",
        "authors[0].affiliation": "empty_string_to_absent",
        "methodology.steps": "scalar_to_list",
        "methodology.steps[0].generators": "scalar_to_list",
        "usage.links": "scalar_to_list",
        "usage.links[0].title": "empty_string_to_absent",
        "files": "scalar_to_list",
    }
    data = validate_record(old).to_json()
    assert data["type"]["secondary"] == ["Collision"]
    assert data["authors"] == [{"name": "A. Physicist"}]
    assert data["methodology"] == {"steps": [{"type": "RECO", "generators": ["pythia8"]}]}
    assert data["usage"] == {"links": [{"url": "https://example.org"}]}
    assert data["files"][0]["checksum"] == "adler32:00000001"


def test_empty_strings_and_nulls_in_optional_fields_mean_absent() -> None:
    data = validate_record(
        minimal(doi="", title_additional="", keywords="", license=None, collaboration={"recid": ""})
    ).to_json()
    assert data == minimal(collaboration={})
    assert repairs_of(minimal(doi="", license=None)) == {
        "doi": "empty_string_to_absent",
        "license": "null_to_absent",
    }


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"title": ""}, "title", "String should have at least 1 character"),
        ({"recid": ""}, "recid", "String should match pattern"),
        ({"experiment": ""}, "experiment", "Input should be a valid list, got string"),
        ({"experiment": None}, "experiment", "Input should be a valid list, got null"),
        ({"experiment": 5}, "experiment", "Input should be a valid list, got int"),
        ({"experiment": []}, "experiment", "List should have at least 1 item"),
        ({"type": {"primary": "Dataset", "secondary": ""}}, "type.secondary", "valid list"),
        ({"authors": "A. Physicist"}, "authors", "Input should be a valid list, got string"),
        ({"files": "a.root"}, "files", "Input should be a valid list, got string"),
        ({"keywords": {"a": 1}}, "keywords", "Input should be a valid list, got object"),
        ({"doi": "not-a-doi"}, "doi", "expected a DOI"),
        ({"usage": {"links": {"recid": "", "url": ""}}}, "usage.links[0]", "a link needs"),
    ],
)
def test_what_is_broken_is_still_refused_with_its_path(
    change: dict[str, Any], path: str, message: str
) -> None:
    found = errors_of(minimal(**change))
    assert path in found, found
    assert message in found[path]


def test_unknown_fields_are_kept_listed_and_round_trip() -> None:
    extra = {"ccid": "12345", "nested": {"a": [1, 2.5, None, True, {"b": "c"}]}}
    old = minimal(
        tittle="a misspelt title",
        _bucket="6f2e",
        authors=[{"name": "A. Physicist", **extra}],
        files=[
            {
                "uri": "root://eospublic.cern.ch//eos/a.root",
                "size": 1,
                "checksum": "adler32:00000001",
                "version_id": "a1",
            }
        ],
    )
    assert repairs_of(old) == {
        "tittle": "unknown_field_kept",
        "_bucket": "unknown_field_kept",
        "authors[0].ccid": "unknown_field_kept",
        "authors[0].nested": "unknown_field_kept",
        "files[0].version_id": "unknown_field_kept",
    }
    data = validate_record(old).to_json()
    assert data == old
    assert orjson.loads(orjson.dumps(data)) == old


def test_a_misspelt_required_field_is_missing_and_kept() -> None:
    record = minimal(tittle="typo")
    del record["title"]
    assert errors_of(record) == {"title": "required field is missing"}
    assert repairs_of(record) == {"tittle": "unknown_field_kept"}


def test_unknown_values_nesting_too_deep_are_refused() -> None:
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    found = errors_of(minimal(authors=[{"name": "x", "deep": deep}], shallow=[[["ok"]]]))
    assert found == {"authors[0].deep": "nests more than 32 levels of lists and objects"}


@pytest.mark.parametrize("name", ["", "bad\x00name", "tab\there", "x" * 201])
def test_unknown_field_names_are_bounded(name: str) -> None:
    message = "a field name must be 1 to 200 characters, no control characters"
    assert errors_of(minimal(**{name: "x"})) == {repr(name): message}
    assert errors_of(minimal(usage={name: "x"})) == {f"usage.{name!r}": message}


def test_integers_json_cannot_store_are_refused() -> None:
    found = errors_of(minimal(distribution={"number_events": 2**64}, extra=[-(2**63) - 1]))
    message = "is an integer beyond the 64-bit range JSON is stored with"
    assert found == {"distribution.number_events": message, "extra[0]": message}


def test_the_upgrade_is_idempotent(codp_records: list[dict[str, Any]]) -> None:
    for raw in codp_records[::50]:
        once = upgrade_record(pre_2024(raw)).data
        assert upgrade_record(once).repairs == ()
        assert upgrade_record(once).data == once


def test_every_real_record_in_pre_2024_shapes_validates_to_the_same_record(
    codp_records: list[dict[str, Any]],
) -> None:
    kinds: set[tuple[str, str]] = set()
    for raw in codp_records:
        old = pre_2024(raw)
        assert validate_record(old).to_json() == validate_record(raw).to_json(), raw["recid"]
        kinds |= {(r.path.split("[")[0], r.kind) for r in upgrade_record(old).repairs}
    # The shapes the portal's older records had are each met (not only the easy ones).
    for path in ("experiment", "run_period", "date_created", "type.secondary", "authors"):
        assert (path, RepairKind.scalar_to_list) in kinds
    assert ("doi", RepairKind.empty_string_to_absent) in kinds


def _array_paths(schema: dict[str, Any], node: dict[str, Any], path: str) -> set[str]:
    """Every path of the JSON Schema that holds an array, "[]" for each item of one."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    found: set[str] = set()
    for branch in node.get("anyOf", []):
        found |= _array_paths(schema, branch, path)
    if node.get("type") == "array":
        found.add(path)
        found |= _array_paths(schema, node.get("items", {}), path + "[]")
    for name, child in node.get("properties", {}).items():
        found |= _array_paths(schema, child, f"{path}.{name}" if path else name)
    return found


def test_the_old_shapes_of_the_tests_cover_every_list_field_of_the_format() -> None:
    # The tests' pre-2024 shapes are written by hand; a list field added to the model must
    # be added there too, or the acceptance tests would not exercise it.
    schema = record_json_schema()
    assert _array_paths(schema, schema, "") == set(LIST_FIELDS)


def test_every_list_field_takes_a_lone_value(codp_records: list[dict[str, Any]]) -> None:
    # Derived from the model, not a list of names: one real one-item list of each list field,
    # given as its lone value, comes back as that list.
    seen: set[str] = set()
    for raw in codp_records:
        for path in set(LIST_FIELDS) - seen:
            old = copy.deepcopy(raw)
            holders = _holders(old, path)
            lone = [(h, k) for h, k in holders if isinstance(h.get(k), list) and len(h[k]) == 1]
            if not lone:
                continue
            holder, key = lone[0]
            holder[key] = holder[key][0]
            assert validate_record(old).to_json() == validate_record(raw).to_json(), path
            seen.add(path)
    # Lists no real record holds one item of: tags, run_numbers' lone run, dataset semantics…
    assert len(seen) >= 20, sorted(set(LIST_FIELDS) - seen)


def _holders(record: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    *parents, last = path.split(".")
    found: list[Any] = [record]
    for part in parents:
        name = part.removesuffix("[]")
        step: list[Any] = []
        for holder in found:
            value = holder.get(name)
            step += [v for v in (value if isinstance(value, list) else [value])]
        found = [h for h in step if isinstance(h, dict)]
    return [(h, last) for h in found if last in h]


json_values = any_json()


@st.composite
def damaged(draw: st.DrawFn, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A real record (maybe in older shapes) with random repairs to make and garbage added."""
    record = copy.deepcopy(draw(st.sampled_from(records)))
    if draw(st.booleans()):
        record = pre_2024(record)
    for _ in range(draw(st.integers(0, 4))):
        holders = _holders(record, draw(st.sampled_from([*LIST_FIELDS, "title", "doi"])))
        target = draw(st.sampled_from(holders)) if holders else (record, draw(st.text(max_size=8)))
        holder, key = target
        holder[key] = draw(st.sampled_from(["", None]) | json_values | st.just([holder.get(key)]))
    return record


@pytest.fixture(scope="module")
def some_records(codp_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return codp_records[::97]


def test_damaged_records_are_upgraded_or_refused_with_paths(
    some_records: list[dict[str, Any]],
) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(damaged(some_records))
    def check(record: dict[str, Any]) -> None:
        try:
            data = validate_record(record).to_json()
        except RecordValidationError as exc:
            assert exc.errors
            assert all(e.path and e.message for e in exc.errors)
            return
        # A record that validates stores as JSON and validates again unchanged.
        assert validate_record(orjson.loads(orjson.dumps(data))).to_json() == data

    check()
