"""RecordData, the typed view of a validated record, against every real CODP record.

The oracle is the pydantic model the record validated into: the view reads the JSON the
catalogue stores (``Record.to_json``) and must give the same values, with empty defaults where
the model has None, and keep every field, those the format does not name included.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from openhep.model import Record, RecordData, file_key, validate_record
from openhep.model._record import DescribedLinks

#: Record fields the view leaves to ``json`` (no consumer reads them one by one).
JSON_ONLY = {"prepublication", "cms_confdb_id", "language", "release_date"}
#: Record fields the view names otherwise.
RENAMED = {"experiment": "experiments"}


def _text(value: str | None) -> str:
    return value or ""


def _texts(value: list[str] | None) -> tuple[str, ...]:
    return tuple(value or ())


def _check_described(view: Any, model: DescribedLinks | None) -> None:
    assert view.description == _text(model.description if model else None)
    links = (model.links if model else None) or []
    assert [(x.recid, x.url, x.title, x.description) for x in view.links] == [
        (_text(x.recid), _text(x.url), _text(x.title), _text(x.description)) for x in links
    ]
    assert bool(view) == bool(view.description or view.links)


def check_view(view: RecordData, model: Record) -> None:
    """Every typed field of ``view`` against the validated ``model``."""
    assert view.recid == model.recid
    assert view.title == model.title
    assert view.title_additional == _text(model.title_additional)
    assert (view.type.primary, view.type.secondary) == (
        model.type.primary,
        tuple(model.type.secondary),
    )
    assert view.experiments == tuple(model.experiment)
    assert view.doi == _text(model.doi)
    assert view.publisher == model.publisher
    assert view.date_published == model.date_published
    assert view.license == (model.license.attribution if model.license else "")
    for name in ("collections", "keywords", "tags", "signature", "date_created", "run_period"):
        assert getattr(view, name) == _texts(getattr(model, name)), name
    assert view.run_numbers == _texts(model.run_numbers)
    categories = model.categories
    assert view.categories.primary == _text(categories.primary if categories else None)
    assert view.categories.secondary == _texts(categories.secondary if categories else None)
    assert [(a.name, a.affiliation, a.orcid) for a in view.authors] == [
        (a.name, _text(a.affiliation), _text(a.orcid)) for a in model.authors or []
    ]
    collaboration = model.collaboration
    assert view.collaboration.name == _text(collaboration.name if collaboration else None)
    assert view.collaboration.recid == _text(collaboration.recid if collaboration else None)
    collision = model.collision_information
    assert view.collision_information.energy == _text(collision.energy if collision else None)
    assert view.collision_information.type == _text(collision.type if collision else None)
    distribution = model.distribution
    for name in ("number_events", "number_entries", "number_files", "size"):
        expected = getattr(distribution, name) if distribution else None
        assert getattr(view.distribution, name) == expected, name
    assert view.distribution.formats == _texts(distribution.formats if distribution else None)
    assert view.distribution.availability == _text(
        distribution.availability if distribution else None
    )
    years = {int(d[:4]) for d in model.date_created or [] if re.match(r"^\d{4}", d)}
    assert view.years == tuple(sorted(years))
    assert view.date_reprocessed == _text(model.date_reprocessed)
    assert view.accelerator == _text(model.accelerator)
    assert view.magnet_polarity == _text(model.magnet_polarity)
    if model.stripping is None:
        assert view.stripping is None
    else:
        assert view.stripping is not None
        assert (view.stripping.stream, view.stripping.version) == (
            model.stripping.stream,
            model.stripping.version,
        )
    cross_section = model.cross_section
    for name in type(view.cross_section).__dataclass_fields__:
        expected = getattr(cross_section, name) if cross_section else None
        assert getattr(view.cross_section, name) == _text(expected), name
    assert [(v.variable, v.description, v.type, v.unit) for v in view.dataset_semantics] == [
        (v.variable, v.description, _text(v.type), _text(v.unit))
        for v in model.dataset_semantics or []
    ]
    semantics = model.dataset_semantics_files
    if semantics is None:
        assert view.dataset_semantics_files is None
    else:
        assert view.dataset_semantics_files is not None
        assert view.dataset_semantics_files.json == semantics.json_file
        assert view.dataset_semantics_files.url == semantics.url
    files = model.files or []
    assert [(f.key, f.uri, f.size, f.checksum, f.type, f.description) for f in view.files] == [
        (
            file_key(f.model_dump(exclude_none=True)),
            f.uri,
            f.size,
            f.checksum,
            _text(f.type),
            _text(f.description),
        )
        for f in files
    ]
    for name in ("abstract", "methodology", "validation", "usage", "note", "pileup", "use_with"):
        _check_described(getattr(view, name), getattr(model, name))
    assert view.description == _text(model.abstract.description if model.abstract else None)
    steps = (model.methodology.steps if model.methodology else None) or []
    assert len(view.steps) == len(steps)
    for seen, step in zip(view.steps, steps, strict=True):
        assert (seen.type, seen.release, seen.global_tag, seen.output_dataset, seen.note) == (
            step.type,
            _text(step.release),
            _text(step.global_tag),
            _text(step.output_dataset),
            _text(step.note),
        )
        assert seen.generators == _texts(step.generators)
        assert [(c.title, c.process, c.recid, c.url) for c in seen.configuration_files] == [
            (c.title, _text(c.process), _text(c.recid), _text(c.url))
            for c in step.configuration_files or []
        ]
    system = model.system_details
    if system is None or not system.model_dump(exclude_unset=True):
        assert view.system_details is None
    else:
        assert view.system_details is not None
        assert view.system_details.release == _text(system.release)
        assert view.system_details.global_tag == _text(system.global_tag)
        assert view.system_details.description == _text(system.description)
        assert view.system_details.recid == _text(system.recid)
        assert [(i.name, i.registry) for i in view.system_details.container_images] == [
            (i.name, i.registry) for i in system.container_images or []
        ]
    assert [(r.type, r.recid, r.doi, r.title, r.description) for r in view.relations] == [
        (r.type, _text(r.recid), _text(r.doi), _text(r.title), _text(r.description))
        for r in model.relations or []
    ]
    assert [(x.url, x.title, x.description) for x in view.links] == [
        (x.url, _text(x.title), _text(x.description)) for x in model.links or []
    ]
    repository = model.source_code_repository
    if repository is None:
        assert view.source_code_repository is None
    else:
        assert view.source_code_repository is not None
        assert view.source_code_repository.url == repository.url
        assert view.source_code_repository.description == _text(repository.description)


def test_the_view_reads_every_real_record_as_its_validated_model(
    codp_records: list[dict[str, Any]],
) -> None:
    author_lists = years = 0
    for raw in codp_records:
        model = validate_record(raw)
        stored = model.to_json()  # what the catalogue keeps
        view = RecordData(stored)
        check_view(view, model)
        assert view.json is stored  # every field, as stored: nothing copied or dropped
        assert view.unknown_fields() == {}
        assert RecordData.of(view) is view
        author_lists += view.is_author_list
        years += bool(view.years)
    assert len(codp_records) == 7535
    # The derived values are exercised, not vacuous.
    assert author_lists > 0
    assert years > 1000


def test_fields_the_format_does_not_name_are_kept_and_do_not_disturb_the_typed_ones(
    codp_records: list[dict[str, Any]],
) -> None:
    raw = copy.deepcopy(next(r for r in codp_records if str(r["recid"]) == "12341"))
    raw["curation_note"] = {"by": "a curator", "at": [2024, 5]}
    raw["distribution"]["checked"] = True
    raw["authors"][0]["email"] = "someone@example.org"
    model = validate_record(raw)
    view = RecordData(model.to_json())
    check_view(view, model)
    assert view.unknown_fields() == {"curation_note": {"by": "a curator", "at": [2024, 5]}}
    assert view.json["distribution"]["checked"] is True
    assert view.json["authors"][0]["email"] == "someone@example.org"
    # Round trip: the view's JSON validates to the same record.
    assert validate_record(dict(view.json)).to_json() == model.to_json()


def test_a_view_of_partial_json_gives_empty_defaults() -> None:
    # Pages and tests pass parts of a record (section_labels({"type": ...})): nothing absent
    # raises, every absent field is empty.
    view = RecordData({"type": {"primary": "Dataset"}})
    assert (view.title, view.doi, view.license, view.description) == ("", "", "", "")
    assert view.type.secondary == ()
    assert (view.authors, view.files, view.years, view.experiments) == ((), (), (), ())
    assert view.distribution.number_events is None
    assert view.system_details is None and view.stripping is None
    assert not view.abstract and not view.steps
    assert view.linked_recids == ()


def test_linked_recids_name_each_record_once_in_order() -> None:
    view = RecordData(
        {
            "relations": [{"type": "isChildOf", "recid": "3"}, {"type": "isPartOf", "doi": "x"}],
            "usage": {"links": [{"recid": "5"}, {"url": "https://example.org"}, {"recid": "3"}]},
            "methodology": {"steps": [{"type": "x", "configuration_files": [{"recid": "7"}]}]},
            "system_details": {"recid": "9"},
            "collaboration": {"name": "CMS", "recid": "11"},
        }
    )
    assert view.linked_recids == ("3", "5", "7", "9", "11")


@pytest.mark.parametrize(
    ("dates", "years"),
    [
        (["2010"], (2010,)),
        (["2012-05", "2010", "2012"], (2010, 2012)),
        (["201", "undated", "2015-2016"], (2015,)),
        ([], ()),
    ],
)
def test_years_are_the_four_digits_each_date_created_starts_with(
    dates: list[str], years: tuple[int, ...]
) -> None:
    assert RecordData({"date_created": dates}).years == years


def test_every_field_of_the_format_is_on_the_view_or_read_through_json() -> None:
    # A new field of the record format needs a decision here: typed on the view, or JSON only.
    named = {field.alias or name for name, field in Record.model_fields.items()}
    typed = {RENAMED.get(name, name) for name in named - JSON_ONLY}
    missing = {name for name in typed if not hasattr(RecordData, name)}
    assert missing == set()
