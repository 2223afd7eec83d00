"""CODP records in the shapes of the portal's format before 2024, written for the tests
independently of ``openhep.model``'s upgrade step (which must undo them).

Before 2024 ``experiment`` was one string (``"experiment": "CMS"``); before 2019 so were
``run_period`` and ``date_created`` (cernopendata/opendata.cern.ch#2472, #2505). Curated records
held lone values where lists now are, and empty strings where a value was absent.
"""

from __future__ import annotations

import copy
from typing import Any

#: Every list-valued field of the record format, by JSON path ("[]": each item of a list); a
#: test checks this against the exported JSON Schema so that a new list field is not missed.
LIST_FIELDS = (
    "experiment",
    "authors",
    "collections",
    "date_created",
    "files",
    "relations",
    "run_period",
    "run_numbers",
    "keywords",
    "tags",
    "signature",
    "dataset_semantics",
    "links",
    "type.secondary",
    "abstract.links",
    "validation.links",
    "usage.links",
    "note.links",
    "pileup.links",
    "use_with.links",
    "methodology.links",
    "methodology.steps",
    "methodology.steps[].generators",
    "methodology.steps[].configuration_files",
    "distribution.formats",
    "categories.secondary",
    "system_details.container_images",
)

#: Optional text fields that old records gave as "" when they had no value.
EMPTY_WHEN_ABSENT = (
    "doi",
    "title_additional",
    "accelerator",
    "date_reprocessed",
    "cms_confdb_id",
    "magnet_polarity",
    "language",
    "keywords",
    "collaboration.recid",
    "collision_information.energy",
    "authors[].affiliation",
    "relations[].description",
)


def _containers(record: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    """The objects that hold the last key of ``path`` (or would), with that key."""
    *parents, last = path.split(".")
    found: list[Any] = [record]
    for part in parents:
        name, each = part.removesuffix("[]"), part.endswith("[]")
        step: list[Any] = []
        for holder in found:
            value = holder.get(name)
            if each and isinstance(value, list):
                step += [item for item in value if isinstance(item, dict)]
            elif not each and isinstance(value, dict):
                step.append(value)
        found = step
    return [(holder, last) for holder in found]


def pre_2024(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as CODP's older records had it: "" for absent optional texts, lone values
    for one-item lists (deepest paths first: a list's items before the list)."""
    old = copy.deepcopy(record)
    for path in EMPTY_WHEN_ABSENT:
        for holder, key in _containers(old, path):
            holder.setdefault(key, "")
    for path in sorted(LIST_FIELDS, key=lambda p: -p.count(".")):
        for holder, key in _containers(old, path):
            value = holder.get(key)
            if isinstance(value, list) and len(value) == 1:
                holder[key] = value[0]
    return old
