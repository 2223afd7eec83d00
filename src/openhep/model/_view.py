"""A validated record, read: :class:`RecordData` gives its fields typed, with empty defaults.

The catalogue stores a record as the JSON :func:`validate_record` accepted, unknown fields
included (a record of any age round-trips). Pages, exports and the search index read that JSON
through this view instead of chains of ``.get``: an absent list is ``()``, an absent text
``""``, an absent block one whose fields are all empty. Nothing is validated again (a stored
record was valid when it was written); the view reads a field when it is first asked for, so a
search hit that shows a title and a year does not build its 3,000 authors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from openhep.model._keys import file_key
from openhep.model._record import Record

_YEAR = re.compile(r"^(\d{4})")
T = TypeVar("T")


class _once(Generic[T]):  # lower case: read as a decorator, like cached_property
    """``functools.cached_property`` without its lock (Python 3.11 takes one on every first
    read, a third of the time the index spends on a record's facets): the value goes into the
    instance's ``__dict__``, which later reads find first."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> _once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T | _once[T]:
        if instance is None:
            return self
        value = self._compute(instance)
        instance.__dict__[self._name] = value  # a frozen dataclass: past its __setattr__
        return value


def _text(value: Any) -> str:
    return str(value) if value else ""


def _texts(value: Any) -> tuple[str, ...]:
    # Validation made every item of a list of texts a string.
    return tuple(value) if isinstance(value, list) else ()


def _block(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _blocks(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class Link:
    """A pointer to another record (``recid``) or a web page (``url``), with its words."""

    recid: str = ""
    url: str = ""
    title: str = ""
    description: str = ""

    @classmethod
    def of(cls, link: Mapping[str, Any]) -> Link:
        return cls(
            _text(link.get("recid")),
            _text(link.get("url")),
            _text(link.get("title")),
            _text(link.get("description")),
        )


@dataclass(frozen=True, slots=True)
class Described:
    """The ``{description, links}`` blocks: abstract, methodology, validation, usage, note…
    ``description`` is HTML, as the record gives it."""

    description: str = ""
    links: tuple[Link, ...] = ()

    @classmethod
    def of(cls, block: Mapping[str, Any]) -> Described:
        return cls(_text(block.get("description")), _links(block.get("links")))

    def __bool__(self) -> bool:
        # Whether there is anything to show: a block of neither is no section.
        return bool(self.description or self.links)


def _links(value: Any) -> tuple[Link, ...]:
    return tuple(Link.of(link) for link in _blocks(value))


@dataclass(frozen=True, slots=True)
class ConfigurationFile:
    title: str
    process: str
    recid: str
    url: str

    @classmethod
    def of(cls, conf: Mapping[str, Any]) -> ConfigurationFile:
        return cls(
            _text(conf.get("title")),
            _text(conf.get("process")),
            _text(conf.get("recid")),
            _text(conf.get("url")),
        )


@dataclass(frozen=True, slots=True)
class MethodologyStep:
    type: str
    release: str
    global_tag: str
    output_dataset: str
    note: str
    generators: tuple[str, ...]
    configuration_files: tuple[ConfigurationFile, ...]

    @classmethod
    def of(cls, step: Mapping[str, Any]) -> MethodologyStep:
        return cls(
            _text(step.get("type")),
            _text(step.get("release")),
            _text(step.get("global_tag")),
            _text(step.get("output_dataset")),
            _text(step.get("note")),
            _texts(step.get("generators")),
            tuple(ConfigurationFile.of(c) for c in _blocks(step.get("configuration_files"))),
        )


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliation: str = ""
    orcid: str = ""


@dataclass(frozen=True, slots=True)
class Collaboration:
    name: str = ""
    recid: str = ""


@dataclass(frozen=True, slots=True)
class RecordKind:
    """The record's ``type``: ``Dataset`` and ``("Collision",)``, …"""

    primary: str = ""
    secondary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Collision:
    energy: str = ""
    type: str = ""


@dataclass(frozen=True, slots=True)
class Categories:
    primary: str = ""
    secondary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Distribution:
    """``distribution``: counts are None when the record does not give them."""

    formats: tuple[str, ...] = ()
    number_events: int | None = None
    number_entries: int | None = None
    number_files: int | None = None
    size: int | None = None
    availability: str = ""


@dataclass(frozen=True, slots=True)
class ContainerImage:
    name: str
    registry: str


@dataclass(frozen=True, slots=True)
class SystemDetails:
    release: str
    global_tag: str
    container_images: tuple[ContainerImage, ...]
    description: str
    recid: str


@dataclass(frozen=True, slots=True)
class Relation:
    type: str
    recid: str
    doi: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class DatasetVariable:
    variable: str
    description: str
    type: str
    unit: str


@dataclass(frozen=True, slots=True)
class SemanticsFiles:
    json: str
    url: str


@dataclass(frozen=True, slots=True)
class CrossSection:
    total_value: str = ""
    total_value_uncertainty: str = ""
    filter_efficiency: str = ""
    filter_efficiency_error: str = ""
    matching_efficiency: str = ""
    matching_efficiency_error: str = ""
    neg_weight_fraction: str = ""


@dataclass(frozen=True, slots=True)
class Repository:
    url: str
    description: str


@dataclass(frozen=True, slots=True)
class Stripping:
    stream: str
    version: str


@dataclass(frozen=True, slots=True)
class RecordFile:
    """One of ``files[]``: ``key`` is the name it is known by (its key, else the end of its URI);
    ``json`` the entry as the record gives it (what exports copy)."""

    key: str
    uri: str
    size: int
    checksum: str
    type: str
    description: str
    json: Mapping[str, Any]

    @classmethod
    def of(cls, file: Mapping[str, Any]) -> RecordFile:
        return cls(
            file_key(file),
            str(file["uri"]),
            int(file["size"]),
            str(file["checksum"]),
            _text(file.get("type")),
            _text(file.get("description")),
            file,
        )


@dataclass(frozen=True, eq=False)
class RecordData:
    """A validated record's fields, typed; ``json`` is the record itself, every field kept.

    Text fields are ``""`` when absent, lists ``()``, blocks all-empty (or None where a page
    shows a block only when the record has one: ``system_details``, ``stripping``, …).
    """

    json: Mapping[str, Any]

    @classmethod
    def of(cls, record: RecordData | Mapping[str, Any]) -> RecordData:
        """``record`` itself if it is a view already, else the view of the JSON ``record``."""
        return record if isinstance(record, RecordData) else cls(record)

    # -- what the record is ----------------------------------------------------------------

    @_once
    def recid(self) -> str:
        return _text(self.json.get("recid"))

    @_once
    def title(self) -> str:
        return _text(self.json.get("title"))

    @_once
    def title_additional(self) -> str:
        return _text(self.json.get("title_additional"))

    @_once
    def type(self) -> RecordKind:
        kind = _block(self.json.get("type"))
        return RecordKind(_text(kind.get("primary")), _texts(kind.get("secondary")))

    @_once
    def experiments(self) -> tuple[str, ...]:
        """``experiment``: the experiments the record is of (one or more)."""
        return _texts(self.json.get("experiment"))

    @_once
    def doi(self) -> str:
        return _text(self.json.get("doi"))

    @_once
    def publisher(self) -> str:
        return _text(self.json.get("publisher"))

    @_once
    def date_published(self) -> str:
        return _text(self.json.get("date_published"))

    @_once
    def license(self) -> str:
        """``license.attribution``: the licence's SPDX name (``CC0-1.0``)."""
        return _text(_block(self.json.get("license")).get("attribution"))

    @_once
    def collections(self) -> tuple[str, ...]:
        return _texts(self.json.get("collections"))

    @_once
    def keywords(self) -> tuple[str, ...]:
        return _texts(self.json.get("keywords"))

    @_once
    def tags(self) -> tuple[str, ...]:
        return _texts(self.json.get("tags"))

    @_once
    def signature(self) -> tuple[str, ...]:
        return _texts(self.json.get("signature"))

    @_once
    def categories(self) -> Categories:
        block = _block(self.json.get("categories"))
        return Categories(_text(block.get("primary")), _texts(block.get("secondary")))

    # -- who made it -----------------------------------------------------------------------

    @_once
    def authors(self) -> tuple[Author, ...]:
        return tuple(
            Author(_text(a.get("name")), _text(a.get("affiliation")), _text(a.get("orcid")))
            for a in _blocks(self.json.get("authors"))
        )

    @_once
    def collaboration(self) -> Collaboration:
        block = _block(self.json.get("collaboration"))
        return Collaboration(_text(block.get("name")), _text(block.get("recid")))

    # -- the data --------------------------------------------------------------------------

    @_once
    def collision_information(self) -> Collision:
        block = _block(self.json.get("collision_information"))
        return Collision(_text(block.get("energy")), _text(block.get("type")))

    @_once
    def distribution(self) -> Distribution:
        block = _block(self.json.get("distribution"))
        return Distribution(
            _texts(block.get("formats")),
            _number(block.get("number_events")),
            _number(block.get("number_entries")),
            _number(block.get("number_files")),
            _number(block.get("size")),
            _text(block.get("availability")),
        )

    @_once
    def date_created(self) -> tuple[str, ...]:
        return _texts(self.json.get("date_created"))

    @_once
    def years(self) -> tuple[int, ...]:
        """The years ``date_created`` names (each value's first four digits), in order, once."""
        found = {int(m.group(1)) for d in self.date_created if (m := _YEAR.match(d))}
        return tuple(sorted(found))

    @_once
    def date_reprocessed(self) -> str:
        return _text(self.json.get("date_reprocessed"))

    @_once
    def run_period(self) -> tuple[str, ...]:
        return _texts(self.json.get("run_period"))

    @_once
    def run_numbers(self) -> tuple[str, ...]:
        return _texts(self.json.get("run_numbers"))

    @_once
    def accelerator(self) -> str:
        return _text(self.json.get("accelerator"))

    @_once
    def magnet_polarity(self) -> str:
        return _text(self.json.get("magnet_polarity"))

    @_once
    def stripping(self) -> Stripping | None:
        block = _block(self.json.get("stripping"))
        return Stripping(_text(block.get("stream")), _text(block.get("version"))) if block else None

    @_once
    def cross_section(self) -> CrossSection:
        block = _block(self.json.get("cross_section"))
        return CrossSection(
            _text(block.get("total_value")),
            _text(block.get("total_value_uncertainty")),
            _text(block.get("filter_efficiency")),
            _text(block.get("filter_efficiency_error")),
            _text(block.get("matching_efficiency")),
            _text(block.get("matching_efficiency_error")),
            _text(block.get("neg_weight_fraction")),
        )

    @_once
    def dataset_semantics(self) -> tuple[DatasetVariable, ...]:
        return tuple(
            DatasetVariable(
                _text(v.get("variable")),
                _text(v.get("description")),
                _text(v.get("type")),
                _text(v.get("unit")),
            )
            for v in _blocks(self.json.get("dataset_semantics"))
        )

    @_once
    def dataset_semantics_files(self) -> SemanticsFiles | None:
        block = _block(self.json.get("dataset_semantics_files"))
        return SemanticsFiles(_text(block.get("json")), _text(block.get("url"))) if block else None

    @_once
    def files(self) -> tuple[RecordFile, ...]:
        return tuple(RecordFile.of(f) for f in _blocks(self.json.get("files")))

    # -- the texts -------------------------------------------------------------------------

    @_once
    def abstract(self) -> Described:
        return Described.of(_block(self.json.get("abstract")))

    @property
    def description(self) -> str:
        """The abstract's description (HTML): what a record says it is."""
        return self.abstract.description

    @_once
    def methodology(self) -> Described:
        return Described.of(_block(self.json.get("methodology")))

    @_once
    def steps(self) -> tuple[MethodologyStep, ...]:
        """``methodology.steps``: how the data were made, step by step."""
        steps = _block(self.json.get("methodology")).get("steps")
        return tuple(MethodologyStep.of(step) for step in _blocks(steps))

    @_once
    def validation(self) -> Described:
        return Described.of(_block(self.json.get("validation")))

    @_once
    def usage(self) -> Described:
        return Described.of(_block(self.json.get("usage")))

    @_once
    def note(self) -> Described:
        return Described.of(_block(self.json.get("note")))

    @_once
    def pileup(self) -> Described:
        return Described.of(_block(self.json.get("pileup")))

    @_once
    def use_with(self) -> Described:
        return Described.of(_block(self.json.get("use_with")))

    def described(self) -> dict[str, Described]:
        """Every ``{description, links}`` block by its field name, in the format's order."""
        return {
            "abstract": self.abstract,
            "methodology": self.methodology,
            "validation": self.validation,
            "usage": self.usage,
            "note": self.note,
            "pileup": self.pileup,
            "use_with": self.use_with,
        }

    @_once
    def system_details(self) -> SystemDetails | None:
        block = _block(self.json.get("system_details"))
        if not block:
            return None
        images = tuple(
            ContainerImage(_text(i.get("name")), _text(i.get("registry")))
            for i in _blocks(block.get("container_images"))
        )
        return SystemDetails(
            _text(block.get("release")),
            _text(block.get("global_tag")),
            images,
            _text(block.get("description")),
            _text(block.get("recid")),
        )

    @_once
    def relations(self) -> tuple[Relation, ...]:
        return tuple(
            Relation(
                _text(r.get("type")),
                _text(r.get("recid")),
                _text(r.get("doi")),
                _text(r.get("title")),
                _text(r.get("description")),
            )
            for r in _blocks(self.json.get("relations"))
        )

    @_once
    def links(self) -> tuple[Link, ...]:
        """``links``: web pages about the record."""
        return _links(self.json.get("links"))

    @_once
    def source_code_repository(self) -> Repository | None:
        block = _block(self.json.get("source_code_repository"))
        if not block:
            return None
        return Repository(_text(block.get("url")), _text(block.get("description")))

    # -- derived ---------------------------------------------------------------------------

    @_once
    def is_author_list(self) -> bool:
        """CODP's author lists: collection ``Author-Lists``, or type Documentation/Authors."""
        return "Author-Lists" in self.collections or "Authors" in self.type.secondary

    @_once
    def linked_recids(self) -> tuple[str, ...]:
        """The records this one names (relations, links of its texts, configuration files,
        system details, collaboration), each once, in that order."""
        recids = [r.recid for r in self.relations]
        recids += [link.recid for block in self.described().values() for link in block.links]
        recids += [c.recid for step in self.steps for c in step.configuration_files]
        recids.append(self.system_details.recid if self.system_details else "")
        recids.append(self.collaboration.recid)
        return tuple(dict.fromkeys(r for r in recids if r))

    def unknown_fields(self) -> dict[str, Any]:
        """The top-level fields the record format does not name (kept as they came)."""
        return {k: v for k, v in self.json.items() if k not in _NAMED}


#: The top-level fields the record format names.
_NAMED = frozenset(field.alias or name for name, field in Record.model_fields.items())
