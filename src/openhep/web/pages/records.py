"""``/record/<recid>``: a record's page — what it is, how to cite it, its files and indices.

One catalogue read of the record (with its file indices and every file's availability), one
batched read of the titles of the records it names, one of its versions: never one query per
file. ``?files_page=N`` pages the files (5 a page) and ``?version=N`` shows an older version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from openhep.catalog import RecordNotFoundError
from openhep.formats import file_indices, schemaorg
from openhep.model import (
    Described,
    Link,
    MethodologyStep,
    RecordData,
    RecordFile,
    is_index_file,
)
from openhep.services import NamingRecord, RecordView, analysable_files, displayable_files
from openhep.web._cache import cached
from openhep.web._deps import base_url, portal
from openhep.web._downloads import download_urls
from openhep.web._threads import off_loop_router
from openhep.web.pages._links import path_recids, site_links
from openhep.web.pages._math import math_text, tex_accents
from openhep.web.pages._render import human_size, json_in_html, query_string, render
from openhep.web.pages._routes import page_recid
from openhep.web.pages._sanitize import SiteLinks, sanitize_html, site_path, site_paths
from openhep.web.pages._summary import plain_text

router = off_loop_router(tags=["pages"])

#: Files listed per page of the files box.
FILES_PER_PAGE = 5
#: Authors named in the "Cite as" line before "et al.".
CITED_AUTHORS = 3
#: Authors the page shows before the rest fold into a ``<details>`` (CMS author lists name
#: over 3,000: every one is in the page, without JavaScript).
LISTED_AUTHORS = 20
#: Characters of the description the page's meta description and search snippets take.
SUMMARY_LENGTH = 200
_NUMBER = re.compile(r"^[0-9]{1,9}$")
_PARAMETERS: list[dict[str, Any]] = [
    {"name": "recid", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "files_page", "in": "query", "required": False, "schema": {"type": "integer"},
     "description": "Page of the files box (5 a page)."},
    {"name": "version", "in": "query", "required": False, "schema": {"type": "integer"},
     "description": "An older version of the record."},
]  # fmt: skip
#: How ``relations[].type`` reads in a sentence.
RELATION_NAMES = {
    "isChildOf": "Derived from",
    "isParentOf": "Source of",
    "isPartOf": "Part of",
    "isRelatedTo": "Related to",
    "isSiblingOf": "Sibling of",
    "isProducedBy": "Produced by",
}
#: How a relation another record states reads on the page of the record it names: B says
#: "B isChildOf A", so A's page lists B under "Samples and derived records".
NAMED_BY_HEADINGS = {
    "isChildOf": "Samples and derived records",
    "isParentOf": "Records it is derived from",
    "isPartOf": "Parts",
    "isRelatedTo": "Records that name it as related",
    "isSiblingOf": "Siblings",
    "isProducedBy": "Records it produced",
}
#: Records naming this one that the page lists; the rest are a search away.
NAMED_BY_SHOWN = 20
LICENCE_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
}


def _page_number(value: str | None, default: int | None) -> int | None:
    if value is None or not _NUMBER.match(value) or int(value) < 1:
        return default
    return int(value)


def cite_as(record: RecordData | Mapping[str, Any], url: str) -> str:
    """The "Cite as" line: authors (or collaboration), year, title, publisher, DOI (or URL)."""
    record = RecordData.of(record)
    named = (tex_accents(a.name) for a in record.authors if a.name)
    authors = list(islice(named, CITED_AUTHORS + 1))  # one more tells whether "et al."
    if len(authors) > CITED_AUTHORS:
        who = "; ".join(authors[:CITED_AUTHORS]) + "; et al."
    elif authors:
        who = "; ".join(authors)
    else:
        who = record.collaboration.name or ", ".join(record.experiments)
    title = math_text(record.title).rstrip(".")
    where = f"DOI:{record.doi}" if record.doi else url
    return f"{who} ({record.date_published[:4]}). {title}. {record.publisher}. {where}"


def is_author_list(record: RecordData | Mapping[str, Any]) -> bool:
    """CODP's author lists (collection ``Author-Lists``, type Documentation/Authors): their
    page's description is their ``note``, or else their title, as CODP shows it."""
    return RecordData.of(record).is_author_list


def section_labels(record: RecordData | Mapping[str, Any]) -> dict[str, str]:
    """The record page's section headings, as CODP words them for the record's type."""
    record = RecordData.of(record)
    primary, secondary = record.type.primary, record.type.secondary
    if primary == "Software":
        methodology, validation, usage = "Data selection", "Validation", "How can you use this?"
    elif primary == "Environment":
        methodology, usage = "How was this built?", "How to use?"
        validation = (
            "How was the validation done?" if "Validation" in secondary else "How to validate?"
        )
    else:
        methodology = "Methodology"
        if primary == "Dataset":
            generated = "Simulated" in secondary
            methodology = f"How were these data {'generated' if generated else 'selected'}?"
        validation, usage = "How were these data validated?", "How can you use these data?"
    return {
        "characteristics": "Dataset characteristics" if primary == "Dataset" else "Characteristics",
        "methodology": methodology,
        "validation": validation,
        "usage": usage,
        "note": "Issues and limitations" if primary == "Dataset" else "Note",
        "related": "Related items" if primary == "Software" else "Related datasets",
        "authors": "Author information" if record.is_author_list else "Authors",
    }


def _search(root: str, **filters: str) -> str:
    return f"{root}/search?{query_string(filters)}"


def badges(record: RecordData | Mapping[str, Any], root: str) -> list[dict[str, str]]:
    """Facet values of the record as links to the search they select (the filter names are
    the API's: ``type``, ``subtype``, ``experiment``, ``year``, ``collision_energy``, …)."""
    record = RecordData.of(record)
    out: list[dict[str, str]] = []

    def add(kind: str, label: str, **filters: str) -> None:
        out.append({"kind": kind, "label": label, "href": _search(root, **filters)})

    primary = record.type.primary
    add("type", primary, type=primary)
    for secondary in record.type.secondary:
        add("type", secondary, type=primary, subtype=secondary)
    for experiment in record.experiments:
        add("experiment", experiment, experiment=experiment)
    for year in map(str, record.years):
        add("year", year, year=year)
    collision = record.collision_information
    if collision.energy:
        add("energy", collision.energy, collision_energy=collision.energy)
    if collision.type:
        add("collision", collision.type, collision_type=collision.type)
    categories = record.categories
    if categories.primary:
        add("category", categories.primary, category=categories.primary)
        for secondary in categories.secondary:
            add("category", secondary, category=categories.primary, subcategory=secondary)
    for name in record.signature:
        add("signature", name, signature=name)
    for keyword in record.keywords:
        add("keyword", keyword, keywords=keyword)
    return out


def _linked_recids(metadata: RecordData | Mapping[str, Any]) -> list[str]:
    return list(RecordData.of(metadata).linked_recids)


def _links(links: Iterable[Link], titles: dict[str, str], site: SiteLinks) -> list[dict[str, Any]]:
    """Links as ``{href, text, description, external}``; a recid that is not a public record
    here is plain text (``href`` None), a URL of a page not held here goes to the origin portal
    (``external``)."""
    out = []
    for link in links:
        external = False
        if link.recid:
            known = titles.get(link.recid)
            href = f"{site.root}/record/{link.recid}" if known is not None else None
            text = link.title or known or f"Record {link.recid}"
        else:
            href, external = site.url(link.url)
            text = link.title
        description = link.description
        if not text:
            # CODP's links often have a description and no title: it is their best name.
            text, description = description or link.url, ""
        out.append({"href": href, "text": text, "description": description, "external": external})
    return out


def _described(block: Described, titles: dict[str, str], site: SiteLinks) -> dict[str, Any] | None:
    if not block:
        return None
    return {
        "html": sanitize_html(block.description, site),
        "links": _links(block.links, titles, site),
    }


def _url(value: str, site: SiteLinks) -> dict[str, Any] | None:
    """A URL field of the record as ``{href, external}`` (None: not one to link)."""
    href, external = site.url(value)
    return {"href": href, "external": external} if value and href else None


def record_paths(metadata: RecordData | Mapping[str, Any], base: str) -> set[str]:
    """The site-relative paths a record's texts and links name (``/docs/x``, ``/record/1``),
    shown on the page at path ``base``."""
    record = RecordData.of(metadata)
    blocks = record.described().values()
    system = record.system_details
    texts = [block.description for block in blocks]
    texts.append(system.description if system else "")
    urls = [link.url for block in blocks for link in block.links]
    urls += [link.url for link in record.links]
    semantics = record.dataset_semantics_files
    urls += [semantics.json, semantics.url] if semantics else ["", ""]
    repository = record.source_code_repository
    urls.append(repository.url if repository else "")
    urls += [c.url for step in record.steps for c in step.configuration_files]
    paths = {path for url in urls if (path := site_path(url, base)) is not None}
    for text in texts:
        if text:
            paths |= site_paths(text, base)
    return paths


# -- the files box ---------------------------------------------------------------------------

#: A file of the record: (its entry, availability — ``online``, ``remote``, ``corrupt`` — and
#: where it is downloaded from, with whether that is its origin, elsewhere).
FileState = tuple[RecordFile, str, str | None, bool]


def _file_states(
    view: RecordView, record: RecordData, urls: list[tuple[str | None, bool]]
) -> tuple[list[FileState], list[FileState]]:
    """(data files, index files) of the record, each with its availability and ``urls``'s
    download URL (:func:`download_urls`)."""
    files = record.files
    states = view.availability if len(view.availability) == len(files) else ["remote"] * len(files)
    data: list[FileState] = []
    indices: list[FileState] = []
    for file, state, (href, external) in zip(files, states, urls, strict=True):
        (indices if is_index_file(file.json) else data).append((file, state, href, external))
    return data, indices


def _file_row(file: RecordFile, state: str, href: str | None, external: bool) -> dict[str, Any]:
    """What the files box shows of a file: key, size, checksum, availability and link (made
    for the files of the page shown only: records list hundreds)."""
    return {
        "key": file.key,
        "uri": file.uri,
        "size": file.size,
        "checksum": file.checksum,
        "description": file.description,
        "availability": state,
        "href": href,
        # The link leads to the file's origin, another site: the page says which.
        "external": external,
        "origin_host": (urlsplit(href).hostname or "") if external and href else "",
    }


def _index_rows(
    view: RecordView, record: RecordData, index_files: list[FileState], root: str
) -> list[dict[str, Any]]:
    """One row per file index: key, description, how many files and bytes it lists (when its
    contents are known here) and its ``.json``/``.txt`` links or its index files (``files``,
    with their availability: :func:`_file_row` makes their rows for the page shown)."""
    known: dict[str, dict[str, Any]] = {}
    if view.index_entries:  # contents known here (none: no index to look up)
        files = [file.json for file in record.files]
        known = {i["key"]: i for i in file_indices(view.index_entries, files)}
    rows: dict[str, dict[str, Any]] = {}
    for file_state in index_files:
        file = file_state[0]
        stem, _, extension = file.key.rpartition(".")
        key = stem if extension in ("json", "txt") and stem else file.key
        row = rows.setdefault(
            key, {"key": key, "description": file.description, "files": [], "known": None}
        )
        row["files"].append(file_state)
    for key, row in rows.items():
        index = known.get(key)
        if index is not None:
            row["known"] = {
                "number_files": index["number_files"],
                "size": index["size"],
                "json": f"{root}/record/{record.recid}/file_index/{quote(key)}.json",
                "txt": f"{root}/record/{record.recid}/file_index/{quote(key)}.txt",
            }
    return list(rows.values())


def _pages(count: int, page: int) -> tuple[int, int, list[int | None]]:
    """(page shown, last page, page numbers to link with None for a gap)."""
    last = max(1, -(-count // FILES_PER_PAGE))
    page = min(page, last)
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return page, last, numbers


def _files_box(
    view: RecordView,
    record: RecordData,
    urls: list[tuple[str | None, bool]],
    *,
    root: str,
    files_page: int,
    version_arg: int | None,
) -> dict[str, Any]:
    """The files box: data files, then file indices, one list paged ``FILES_PER_PAGE`` a page
    (real records have many of one or the other), with its summary and page links."""
    data_files, index_files = _file_states(view, record, urls)
    indices = _index_rows(view, record, index_files, root)
    count = len(data_files) + len(indices)
    page, last, numbers = _pages(count, files_page)
    start = (page - 1) * FILES_PER_PAGE
    entries: list[dict[str, Any]] = [
        {"kind": "file", **_file_row(*file_state)}
        for file_state in data_files[start : start + FILES_PER_PAGE]
    ]
    # The indices come after the data files: their part of the page, if any.
    first_index = max(0, start - len(data_files))
    end_index = max(0, start + FILES_PER_PAGE - len(data_files))
    for index in indices[first_index:end_index]:
        rows = [_file_row(*file_state) for file_state in index["files"]]
        entries.append({"kind": "index", **index, "files": rows})
    url = f"{root}/record/{record.recid}"

    def files_href(number: int) -> str:
        params = {"version": version_arg, "files_page": number if number > 1 else None}
        query = query_string(params)
        return f"{url}?{query}#files" if query else f"{url}#files"

    return {
        "entries": entries,
        "entries_count": count,
        "files_count": len(data_files),
        "indices_count": len(indices),
        "files_size": sum(file.size for file, *_ in data_files),
        "files_first": start + 1,
        "files_page": page,
        "files_last_page": last,
        "files_pages": [(n, files_href(n) if n else "") for n in numbers],
        "files_prev": files_href(page - 1) if page > 1 else None,
        "files_next": files_href(page + 1) if page < last else None,
    }


# -- the sections about the data ---------------------------------------------------------------


def _characteristics(record: RecordData) -> list[tuple[str, str]]:
    distribution = record.distribution
    rows: list[tuple[str, str]] = []
    if distribution.number_events is not None:
        rows.append(("Events", f"{distribution.number_events:,}"))
    if distribution.number_entries is not None:
        rows.append(("Entries", f"{distribution.number_entries:,}"))
    if distribution.number_files is not None:
        rows.append(("Files", f"{distribution.number_files:,}"))
    if distribution.size is not None:
        rows.append(("Size", f"{human_size(distribution.size)} ({distribution.size:,} B)"))
    if distribution.formats:
        rows.append(("Formats", ", ".join(distribution.formats)))
    if distribution.availability:
        rows.append(("Availability", distribution.availability))
    if record.run_period:
        rows.append(("Run period", ", ".join(record.run_period)))
    if record.date_created:
        rows.append(("Data taken or produced", ", ".join(record.date_created)))
    if record.date_reprocessed:
        rows.append(("Reprocessed", record.date_reprocessed))
    if record.accelerator:
        rows.append(("Accelerator", record.accelerator))
    collision = record.collision_information
    if collision.energy or collision.type:
        rows.append(("Collisions", " ".join(v for v in (collision.type, collision.energy) if v)))
    if record.magnet_polarity:
        rows.append(("Magnet polarity", record.magnet_polarity))
    if record.stripping is not None:
        rows.append(("Stripping", f"{record.stripping.stream} {record.stripping.version}".strip()))
    return rows


def _cross_section(record: RecordData) -> list[tuple[str, str]]:
    values = record.cross_section
    rows = (
        ("Total cross section (pb)", values.total_value),
        ("Uncertainty of the total cross section (pb)", values.total_value_uncertainty),
        ("Filter efficiency", values.filter_efficiency),
        ("Filter efficiency error", values.filter_efficiency_error),
        ("Matching efficiency", values.matching_efficiency),
        ("Matching efficiency error", values.matching_efficiency_error),
        ("Fraction of negative weights", values.neg_weight_fraction),
    )
    return [(label, value) for label, value in rows if value]


def _semantics(record: RecordData, site: SiteLinks) -> dict[str, Any]:
    """The dataset's variables and the files that describe them."""
    files = record.dataset_semantics_files
    return {
        "semantics": [
            {"variable": v.variable, "type": v.type, "unit": v.unit, "description": v.description}
            for v in record.dataset_semantics
        ],
        "semantics_files": {"json": _url(files.json, site), "html": _url(files.url, site)}
        if files
        else None,
    }


def _system(record: RecordData, titles: dict[str, str], site: SiteLinks) -> dict[str, Any] | None:
    system = record.system_details
    if system is None:
        return None
    return {
        "release": system.release,
        "global_tag": system.global_tag,
        "container_images": [
            {"name": i.name, "registry": i.registry} for i in system.container_images
        ],
        "html": sanitize_html(system.description, site),
        "link": _links([Link(recid=system.recid)], titles, site)[0] if system.recid else None,
    }


def _configurations(
    step: MethodologyStep, titles: dict[str, str], site: SiteLinks
) -> list[dict[str, Any]]:
    out = []
    for conf in step.configuration_files:
        link: dict[str, Any] | None = None
        if conf.recid and conf.recid in titles:
            link = {"href": f"{site.root}/record/{conf.recid}", "external": False}
        elif conf.url:
            link = _url(conf.url, site)
        out.append({"title": conf.title, "process": conf.process, "link": link})
    return out


def _steps(record: RecordData, titles: dict[str, str], site: SiteLinks) -> list[dict[str, Any]]:
    return [
        {
            "type": step.type,
            "release": step.release,
            "global_tag": step.global_tag,
            "generators": list(step.generators),
            "output_dataset": step.output_dataset,
            "note": step.note,
            "configuration_files": _configurations(step, titles, site),
        }
        for step in record.steps
    ]


def _texts(record: RecordData, titles: dict[str, str], site: SiteLinks) -> dict[str, Any]:
    """The record's ``{description, links}`` blocks, as the sections that show them."""
    abstract = _described(record.abstract, titles, site)
    issues = _described(record.note, titles, site)
    if record.is_author_list and abstract is None:
        # CODP: an author list's description is its note, else its title.
        abstract, issues = issues or {"html": sanitize_html(record.title), "links": []}, None
    return {
        "abstract": abstract,
        "summary": plain_text(record.description, SUMMARY_LENGTH),
        "methodology": _described(record.methodology, titles, site),
        "steps": _steps(record, titles, site),
        "validation": _described(record.validation, titles, site),
        "usage": _described(record.usage, titles, site),
        "issues": issues,
        "pileup": _described(record.pileup, titles, site),
        "use_with": _described(record.use_with, titles, site),
    }


# -- who made it, what it relates to, how it may be used --------------------------------------


def _people(record: RecordData, root: str, titles: dict[str, str]) -> dict[str, Any]:
    collaboration = record.collaboration
    return {
        "authors": [
            {
                "name": tex_accents(a.name),
                "orcid": a.orcid,
                "affiliation": tex_accents(a.affiliation),
            }
            for a in record.authors
            if a.name
        ],
        "authors_shown": LISTED_AUTHORS,
        "collaboration": {
            "name": collaboration.name,
            "href": f"{root}/record/{collaboration.recid}"
            if collaboration.recid and collaboration.recid in titles
            else None,
        },
    }


def _relations(record: RecordData, titles: dict[str, str], site: SiteLinks) -> list[dict[str, Any]]:
    out = []
    for relation in record.relations:
        # A relation reads as a link to its record, its title and description the link's.
        link = Link(relation.recid, "", relation.title, relation.description)
        out.append(
            {
                "type": RELATION_NAMES.get(relation.type, relation.type),
                "link": _links([link], titles, site)[0] if relation.recid else None,
                "title": relation.title,
                "doi": relation.doi,
                "description": relation.description,
            }
        )
    return out


def _named_by(
    recid: str, named_by: tuple[int, list[NamingRecord]], root: str
) -> dict[str, Any] | None:
    """The records whose relations name this one, by the heading their relation reads as."""
    total, records = named_by
    if not total:
        return None
    groups: dict[str, list[dict[str, str]]] = {}
    for record in records:
        heading = NAMED_BY_HEADINGS.get(record.relation, "Records that name it")
        groups.setdefault(heading, []).append(
            {
                "href": f"{root}/record/{record.recid}",
                "recid": record.recid,
                "title": record.title or f"Record {record.recid}",
            }
        )
    return {
        "groups": list(groups.items()),
        "more": total - len(records),
        "search": _search(root, q=f"relations.recid:{recid}"),
    }


def _repository(record: RecordData, site: SiteLinks) -> dict[str, Any] | None:
    repository = record.source_code_repository
    if repository is None:
        return None
    return {
        "link": _url(repository.url, site),
        "url": repository.url,
        "description": repository.description,
    }


def _licence(record: RecordData) -> dict[str, Any]:
    licence = record.license
    url = LICENCE_URLS.get(licence) or (
        f"https://spdx.org/licenses/{quote(licence)}.html" if licence else None
    )
    return {"licence": licence, "licence_url": url}


def _json_ld(record: RecordData, root: str, content_urls: list[str | None]) -> str:
    """The page's schema.org JSON-LD, escaped for the script element it sits in (a title
    cannot end it or open a comment)."""
    document = schemaorg(record.json, base_url=root, content_urls=content_urls)
    # Plain text for search engines: formulas as Unicode, never LaTeX or markup.
    document["name"] = math_text(str(document["name"]))
    if isinstance(document.get("description"), str):
        document["description"] = math_text(document["description"])
    return json_in_html(document)


def record_context(
    view: RecordView,
    *,
    root: str,
    titles: dict[str, str],
    versions: list[int],
    files_page: int,
    named_by: tuple[int, list[NamingRecord]] = (0, []),
    site: SiteLinks | None = None,
) -> dict[str, Any]:
    """What ``record.html`` shows of ``view``: every field prepared, nothing left to look up.
    ``site`` says where the links of its texts go (default: all under ``root``)."""
    site = site or SiteLinks(root)
    record = RecordData(view.stored.metadata)
    recid = record.recid
    url = f"{root}/record/{recid}"
    current = not versions or view.stored.version == versions[-1]
    version_arg = None if current else view.stored.version
    urls = download_urls(view, root, current=current)
    return {
        "recid": recid,
        "url": url,
        "metadata": view.stored.metadata,
        "title": record.title,
        "title_additional": record.title_additional,
        "doi": record.doi,
        "cite": cite_as(record, url),
        "badges": badges(record, root),
        "plain_title": math_text(record.title),
        "labels": section_labels(record),
        **_texts(record, titles, site),
        **_people(record, root, titles),
        "characteristics": _characteristics(record),
        "run_numbers": list(record.run_numbers),
        "system": _system(record, titles, site),
        **_semantics(record, site),
        "cross_section": _cross_section(record),
        "relations": _relations(record, titles, site),
        "named_by": _named_by(recid, named_by, root),
        "web_links": _links(record.links, titles, site),
        "repository": _repository(record, site),
        **_files_box(view, record, urls, root=root, files_page=files_page, version_arg=version_arg),
        # Records with ROOT or CSV files have a histogram page (of their current version).
        "histograms_url": f"{root}/visualise/histograms/{recid}"
        if analysable_files(record)
        else None,
        # Records with iSpy (.ig) or NanoAOD files have an event display.
        "events_url": f"{root}/visualise/events/{recid}" if displayable_files(record) else None,
        **_licence(record),
        "version": view.stored.version,
        "versions": versions,
        "latest": versions[-1] if versions else view.stored.version,
        "updated": view.stored.updated.date().isoformat(),
        "json_url": f"{root}/api/records/{recid}"
        + (f"?version={version_arg}" if version_arg else ""),
        "json_ld": _json_ld(record, root, [href for href, _ in urls]),
    }


@router.get(
    "/record/{recid}",
    response_class=HTMLResponse,
    summary="A record's page",
    openapi_extra={"parameters": _PARAMETERS},
)
@cached
def record_page(request: Request) -> HTMLResponse:
    # Parameters are read here rather than by FastAPI: its validation costs as much as a read.
    recid = page_recid(request)
    params = request.query_params
    version = _page_number(params.get("version"), None)
    if "version" in params and version is None:
        raise RecordNotFoundError(recid, None)
    service = portal(request)
    view = service.record(recid, version)
    root = base_url(request)
    page = f"/record/{recid}"
    paths = record_paths(view.stored.metadata, page)
    # One read of the titles of the records the page links, by recid or in its texts.
    titles = service.titles(_linked_recids(view.stored.metadata) + path_recids(paths))
    versions = [v.version for v in service.versions(recid)]
    context = record_context(
        view,
        root=root,
        titles=titles,
        versions=versions,
        files_page=_page_number(params.get("files_page"), 1) or 1,
        named_by=service.naming(recid, limit=NAMED_BY_SHOWN),
        site=site_links(service, root, paths, page, titles),
    )
    return render(request, "record.html", **context)
