"""The CODP record format as pydantic models: every field the portal's real records use."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from posixpath import basename
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from openhep.model._keys import FileKeyError, check_file_key

# Bounds keep one hostile record from exhausting memory; the real records stay far below them
# (longest title 179 characters, longest description 31,738, most files in a record 373).
MAX_TEXT = 1_000_000
MAX_LIST = 1_000_000
#: The largest byte count a catalogue can hold (a signed 64-bit integer, PostgreSQL's bigint).
MAX_SIZE = 2**63 - 1

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
ShortText = Annotated[str, StringConstraints(max_length=4096)]
#: What a recid is: 1 to 12 digits (the one definition: URL routes and links use it too).
RECID_PATTERN = "[0-9]{1,12}"
#: A whole string that is a recid.
RECID = re.compile(f"^{RECID_PATTERN}$")
Recid = Annotated[str, StringConstraints(pattern=RECID.pattern)]

_CHECKSUM = re.compile(
    r"^(?:(adler32|alder32):([0-9a-fA-F]{1,8})|(sha1):([0-9a-fA-F]{40})|(sha256):([0-9a-fA-F]{64}))$"
)
_DOI = re.compile(r"^10\.\d{4,9}/\S{1,200}$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FILE_URI = re.compile(r"^(root|https?|file|s3)://\S+$")


def normalize_checksum(value: str) -> str:
    """Return the canonical form of a file checksum: ``adler32:`` and 8 lower-case hex digits.

    CODP writes adler32 values without their leading zeros (``adler32:5f4f3b7``) and once as
    ``alder32:``; both denote the same 32-bit value, which the portal serves as ``%08x`` so that
    clients comparing strings (cernopendata-client's verify-files) agree with it.
    """
    match = _CHECKSUM.match(value)
    if match is None:
        raise ValueError(
            "expected 'adler32:' followed by 8 hex digits (or 'sha1:' with 40, 'sha256:' with 64)"
        )
    if match.group(1):
        return f"adler32:{int(match.group(2), 16):08x}"
    if match.group(3):
        return f"sha1:{match.group(4).lower()}"
    return f"sha256:{match.group(6).lower()}"


def _check_doi(value: str) -> str:
    if not _DOI.match(value):
        raise ValueError("expected a DOI such as '10.7483/OPENDATA.CMS.A342.9982'")
    return value


def parse_release_date(value: str) -> datetime:
    """The UTC instant a ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or ISO datetime begins."""
    match = _DATE.match(value)
    if match is None:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                "expected a date as 'YYYY', 'YYYY-MM', 'YYYY-MM-DD' or an ISO 8601 datetime"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    year, month, day = (int(g) if g else 1 for g in match.groups())
    try:
        start = date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a calendar date: {exc}") from None
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def _check_date(value: str) -> str:
    parse_release_date(value)
    return value


def _check_file_uri(value: str) -> str:
    if not _FILE_URI.match(value):
        raise ValueError("expected a URI such as 'root://eospublic.cern.ch//eos/opendata/cms/...'")
    return value


Checksum = Annotated[str, AfterValidator(normalize_checksum)]
Doi = Annotated[str, AfterValidator(_check_doi)]
DateText = Annotated[str, AfterValidator(_check_date)]
FileUri = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_check_file_uri)]
FileKey = Annotated[str, AfterValidator(check_file_key)]


class _Strict(BaseModel):
    # Strict types; fields the format does not name are kept as given (CODP adds fields over
    # time, and a record must round-trip): ``upgrade_record`` lists them in the ingest report.
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class Link(_Strict):
    """A pointer to another record (``recid``) or a web page (``url``)."""

    recid: Recid | None = None
    url: ShortText | None = None
    title: ShortText | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _names_a_target(self) -> Link:
        if self.recid is None and self.url is None:
            raise ValueError("a link needs a 'recid' or a 'url'")
        return self


class DescribedLinks(_Strict):
    """The portal's common ``{description, links}`` block (abstract, usage, validation, note…)."""

    description: Text | None = None
    links: list[Link] | None = Field(default=None, max_length=10_000)


class ConfigurationFile(_Strict):
    title: ShortText
    process: ShortText | None = None
    recid: Recid | None = None
    cms_confdb_id: ShortText | None = None
    script: Text | None = None
    url: ShortText | None = None


class MethodologyStep(_Strict):
    type: ShortText
    release: ShortText | None = None
    global_tag: ShortText | None = None
    output_dataset: ShortText | None = None
    note: Text | None = None
    generators: list[ShortText] | None = None
    configuration_files: list[ConfigurationFile] | None = None


class Methodology(DescribedLinks):
    steps: list[MethodologyStep] | None = None


class Author(_Strict):
    name: ShortText
    affiliation: ShortText | None = None
    orcid: ShortText | None = None
    inspireid: ShortText | None = None
    rorid: ShortText | None = None


class Collaboration(_Strict):
    name: ShortText | None = None
    recid: Recid | None = None
    group: ShortText | None = None


class CollisionInformation(_Strict):
    energy: ShortText | None = None
    type: ShortText | None = None


class Distribution(_Strict):
    formats: list[ShortText] | None = None
    number_events: Annotated[int, Field(ge=0)] | None = None
    number_entries: Annotated[int, Field(ge=0)] | None = None
    number_files: Annotated[int, Field(ge=0)] | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    availability: ShortText | None = None


class File(_Strict):
    """One file of a record; ``type`` is ``index.json``/``index.txt`` for a file index."""

    uri: FileUri
    size: Annotated[int, Field(ge=0, le=MAX_SIZE)]
    checksum: Checksum
    type: ShortText | None = None
    key: FileKey | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _named(self) -> File:
        # Without a key a file is known by the last part of its URI: the same rule holds.
        if self.key is None:
            try:
                check_file_key(basename(self.uri))
            except FileKeyError as exc:
                raise ValueError(
                    f"the file has no key, so it is named by the end of its uri, and {exc}; "
                    "or give the file a key"
                ) from None
        return self


class License(_Strict):
    attribution: ShortText


class RecordType(_Strict):
    primary: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    secondary: list[Annotated[str, StringConstraints(max_length=200)]] = Field(max_length=100)


class Categories(_Strict):
    primary: ShortText | None = None
    secondary: list[ShortText] | None = None
    source: ShortText | None = None


class Relation(_Strict):
    type: ShortText
    recid: Recid | None = None
    doi: Doi | None = None
    title: ShortText | None = None
    description: Text | None = None


class ContainerImage(_Strict):
    name: ShortText
    registry: ShortText


class SystemDetails(_Strict):
    release: ShortText | None = None
    global_tag: ShortText | None = None
    container_images: list[ContainerImage] | None = None
    description: Text | None = None
    recid: Recid | None = None


class DatasetVariable(_Strict):
    variable: ShortText
    description: Text
    type: ShortText | None = None
    unit: ShortText | None = None


class DatasetSemanticsFiles(_Strict):
    json_file: ShortText = Field(alias="json")
    url: ShortText


class Stripping(_Strict):
    stream: ShortText
    version: ShortText


class CrossSection(_Strict):
    total_value: ShortText | None = None
    total_value_uncertainty: ShortText | None = None
    filter_efficiency: ShortText | None = None
    filter_efficiency_error: ShortText | None = None
    matching_efficiency: ShortText | None = None
    matching_efficiency_error: ShortText | None = None
    neg_weight_fraction: ShortText | None = None


class Prepublication(_Strict):
    date: ShortText
    place: ShortText | None = None
    publisher: ShortText | None = None
    report_number: ShortText | None = None


class SourceCodeRepository(_Strict):
    url: ShortText
    description: Text | None = None


class WebLink(_Strict):
    url: ShortText
    title: ShortText | None = None
    description: Text | None = None


class Record(_Strict):
    """A record of the portal: a dataset, software, environment, documentation or supplementary.

    Field names and shapes are CODP's current ones (``upgrade_record`` brings older shapes to
    them), so that its records ingest. ``release_date`` is OpenHEP's own: a curator's embargo,
    the instant the record becomes public.
    """

    recid: Recid
    title: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    type: RecordType
    experiment: list[ShortText] = Field(min_length=1, max_length=100)
    date_published: DateText
    publisher: ShortText

    title_additional: ShortText | None = None
    abstract: DescribedLinks | None = None
    accelerator: ShortText | None = None
    authors: list[Author] | None = Field(default=None, max_length=100_000)
    collaboration: Collaboration | None = None
    collections: list[ShortText] | None = None
    collision_information: CollisionInformation | None = None
    date_created: list[ShortText] | None = None
    date_reprocessed: ShortText | None = None
    release_date: DateText | None = None
    distribution: Distribution | None = None
    doi: Doi | None = None
    files: list[File] | None = Field(default=None, max_length=MAX_LIST)
    license: License | None = None
    methodology: Methodology | None = None
    validation: DescribedLinks | None = None
    usage: DescribedLinks | None = None
    note: DescribedLinks | None = None
    pileup: DescribedLinks | None = None
    use_with: DescribedLinks | None = None
    relations: list[Relation] | None = None
    run_period: list[ShortText] | None = None
    run_numbers: list[ShortText] | None = Field(default=None, max_length=MAX_LIST)
    system_details: SystemDetails | None = None
    categories: Categories | None = None
    keywords: list[ShortText] | None = None
    tags: list[ShortText] | None = None
    signature: list[ShortText] | None = None
    dataset_semantics: list[DatasetVariable] | None = None
    dataset_semantics_files: DatasetSemanticsFiles | None = None
    cross_section: CrossSection | None = None
    links: list[WebLink] | None = None
    source_code_repository: SourceCodeRepository | None = None
    cms_confdb_id: ShortText | None = None
    magnet_polarity: ShortText | None = None
    stripping: Stripping | None = None
    language: ShortText | None = None
    prepublication: Prepublication | None = None

    def visible_from(self) -> datetime:
        """The instant the record becomes public: the later of its publication and release dates."""
        moments = [parse_release_date(self.date_published)]
        if self.release_date is not None:
            moments.append(parse_release_date(self.release_date))
        return max(moments)

    def to_json(self) -> dict[str, Any]:
        """The record as CODP JSON: only the fields it was given (those the format does not name
        too), checksums in canonical form."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)
