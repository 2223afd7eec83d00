"""Older CODP record shapes brought to the current format, each repair named with its path."""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Union

from pydantic import BaseModel

from openhep.model._errors import FieldError
from openhep.model._record import Record

#: How deep a value of a field the format does not name may nest. Known fields nest at most
#: seven levels (methodology.steps[].configuration_files[].title); the search index's JSON parser
#: stops at 128 levels, so a kept value must stay well below that.
MAX_UNKNOWN_DEPTH = 32
#: A field name the format does not name: 1 to 200 characters, none of them a control character
#: (the names are kept, stored and shown as paths in reports).
_FIELD_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class RepairKind(StrEnum):
    """What the upgrade did to one field (the values are the ingest report's ``repair``)."""

    scalar_to_list = "scalar_to_list"
    empty_string_to_absent = "empty_string_to_absent"
    null_to_absent = "null_to_absent"
    unknown_field_kept = "unknown_field_kept"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    RepairKind.scalar_to_list: "one value where the format has a list: made a one-item list",
    RepairKind.empty_string_to_absent: "empty string in an optional field: taken as absent",
    RepairKind.null_to_absent: "null in an optional field: taken as absent",
    RepairKind.unknown_field_kept: "a field the record format does not name: kept as it is",
}


@dataclass(frozen=True, slots=True)
class Repair:
    """One repair of one record: where (``experiment``, ``authors[2].affiliation``) and what."""

    path: str
    kind: RepairKind

    def __str__(self) -> str:
        return f"{self.path}: {self.kind.description}"


@dataclass(frozen=True, slots=True)
class UpgradedRecord:
    """A record's JSON in the current shapes, what was repaired, and what no repair can fix
    (a kept value nested too deep); the model's own validation comes after."""

    data: Any
    repairs: tuple[Repair, ...]
    problems: tuple[FieldError, ...]


@dataclass(frozen=True, slots=True)
class _Field:
    required: bool
    is_list: bool
    item: type  # the value's type (for a list: its items'), a model class for objects
    shape: _Shape | None  # the fields of that model, when ``item`` is one


@dataclass(slots=True)
class _Shape:
    fields: dict[str, _Field]


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` → ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


@cache
def _shape(model: type[BaseModel]) -> _Shape:
    """The fields of ``model`` by their JSON names: derived from the model itself, so that every
    list-valued field (now or added later) takes a lone value, not only those known to have
    been scalars in CODP's older records."""
    shape = _Shape({})
    for name, info in model.model_fields.items():
        annotation = _unwrap(info.annotation)
        is_list = typing.get_origin(annotation) is list
        item = _unwrap(typing.get_args(annotation)[0]) if is_list else annotation
        nested = isinstance(item, type) and issubclass(item, BaseModel)
        shape.fields[info.alias or name] = _Field(
            required=info.is_required(),
            is_list=is_list,
            item=item if isinstance(item, type) else object,
            shape=_shape(item) if nested else None,
        )
    return shape


def _is_item(value: Any, field: _Field) -> bool:
    """Whether a lone ``value`` has the shape of one item of the list ``field`` holds."""
    if field.shape is not None:
        return isinstance(value, dict)
    if isinstance(value, str):
        return field.item is str and value != ""
    return type(value) is field.item


def _depth(value: Any, limit: int) -> int:
    """How many levels of lists and objects ``value`` nests (counting stops past ``limit``)."""
    if limit < 0 or not isinstance(value, (list, dict)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Upgrade:
    def __init__(self) -> None:
        self.repairs: list[Repair] = []
        self.problems: list[FieldError] = []

    def object(self, data: dict[str, Any], shape: _Shape, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            field = shape.fields.get(key)
            if field is None:
                self.unknown(out, key, value, path)
                continue
            if value is None or value == "":
                if not field.required:
                    kind = (
                        RepairKind.null_to_absent
                        if value is None
                        else RepairKind.empty_string_to_absent
                    )
                    self.repairs.append(Repair(_join(path, key), kind))
                    continue
            elif field.is_list and _is_item(value, field):
                self.repairs.append(Repair(_join(path, key), RepairKind.scalar_to_list))
                value = [value]
            if field.shape is not None:
                value = self.nested(value, field, field.shape, _join(path, key))
            out[key] = value
        return out

    def unknown(self, out: dict[str, Any], key: Any, value: Any, path: str) -> None:
        if not (isinstance(key, str) and _FIELD_NAME.match(key)):
            shown = f"{path}.{key!r}" if path else repr(key)
            message = "a field name must be 1 to 200 characters, no control characters"
            self.problems.append(FieldError(shown, message))
            return
        where = _join(path, key)
        self.repairs.append(Repair(where, RepairKind.unknown_field_kept))
        if _depth(value, MAX_UNKNOWN_DEPTH) > MAX_UNKNOWN_DEPTH:
            message = f"nests more than {MAX_UNKNOWN_DEPTH} levels of lists and objects"
            self.problems.append(FieldError(where, message))
        out[key] = value

    def nested(self, value: Any, field: _Field, shape: _Shape, path: str) -> Any:
        if field.is_list and isinstance(value, list):
            return [
                self.object(item, shape, f"{path}[{i}]") if isinstance(item, dict) else item
                for i, item in enumerate(value)
            ]
        if not field.is_list and isinstance(value, dict):
            return self.object(value, shape, path)
        return value


def upgrade_record(data: Any) -> UpgradedRecord:
    """Bring one record's JSON, of any age of CODP's format, to the current shapes.

    An empty string or null in an optional field means the field is absent; a lone value where
    the format now has a list (``"experiment": "CMS"``, CODP's shape before 2024; ``run_period``
    and ``date_created`` before 2019) becomes a one-item list; fields the format does not name
    are kept as they are. Each change is listed with its path. Nothing else is touched: what is
    broken stays broken, for validation to name. ``data`` itself is not modified.
    """
    if not isinstance(data, dict):
        return UpgradedRecord(data, (), ())
    upgrade = _Upgrade()
    upgraded = upgrade.object(data, _shape(Record), "")
    return UpgradedRecord(upgraded, tuple(upgrade.repairs), tuple(upgrade.problems))
