"""``/record/<recid>``: a record's page — what it is, how to cite it, its files and indices.

One catalogue read of the record (with its file indices and every file's availability), one
batched read of the titles of the records it names, one of its versions: never one query per
file. ``?files_page=N`` pages the files (5 a page) and ``?version=N`` shows an older version.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from openhep.catalog import RecordNotFoundError
from openhep.formats import file_indices, schemaorg
from openhep.model import RECID, file_key, is_index_file
from openhep.services import NamingRecord, RecordView
from openhep.web._deps import base_url, portal
from openhep.web._downloads import download_urls
from openhep.web.pages._links import path_recids, site_links
from openhep.web.pages._math import math_text, tex_accents
from openhep.web.pages._render import human_size, json_in_html, query_string, render
from openhep.web.pages._sanitize import SiteLinks, sanitize_html, site_path, site_paths
from openhep.web.pages._summary import plain_text

router = APIRouter(tags=["pages"])

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
CROSS_SECTION_FIELDS = (
    ("total_value", "Total cross section (pb)"),
    ("total_value_uncertainty", "Uncertainty of the total cross section (pb)"),
    ("filter_efficiency", "Filter efficiency"),
    ("filter_efficiency_error", "Filter efficiency error"),
    ("matching_efficiency", "Matching efficiency"),
    ("matching_efficiency_error", "Matching efficiency error"),
    ("neg_weight_fraction", "Fraction of negative weights"),
)
_DESCRIBED = ("abstract", "methodology", "validation", "usage", "note", "pileup", "use_with")


def _page_number(value: str | None, default: int | None) -> int | None:
    if value is None or not _NUMBER.match(value) or int(value) < 1:
        return default
    return int(value)


def _year(metadata: dict[str, Any]) -> str:
    return str(metadata["date_published"])[:4]


def cite_as(metadata: dict[str, Any], url: str) -> str:
    """The "Cite as" line: authors (or collaboration), year, title, publisher, DOI (or URL)."""
    named = (tex_accents(a["name"]) for a in metadata.get("authors") or [] if a.get("name"))
    authors = list(islice(named, CITED_AUTHORS + 1))  # one more tells whether "et al."
    if len(authors) > CITED_AUTHORS:
        who = "; ".join(authors[:CITED_AUTHORS]) + "; et al."
    elif authors:
        who = "; ".join(authors)
    else:
        who = (metadata.get("collaboration") or {}).get("name") or ", ".join(metadata["experiment"])
    title = math_text(str(metadata["title"])).rstrip(".")
    where = f"DOI:{metadata['doi']}" if metadata.get("doi") else url
    return f"{who} ({_year(metadata)}). {title}. {metadata['publisher']}. {where}"


def is_author_list(metadata: dict[str, Any]) -> bool:
    """CODP's author lists (collection ``Author-Lists``, type Documentation/Authors): their
    page's description is their ``note``, or else their title, as CODP shows it."""
    secondary = (metadata.get("type") or {}).get("secondary") or []
    return "Author-Lists" in (metadata.get("collections") or []) or "Authors" in secondary


def section_labels(metadata: dict[str, Any]) -> dict[str, str]:
    """The record page's section headings, as CODP words them for the record's type."""
    primary = metadata["type"]["primary"]
    secondary = metadata["type"].get("secondary") or []
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
        "authors": "Author information" if is_author_list(metadata) else "Authors",
    }


def _search(root: str, **filters: str) -> str:
    return f"{root}/search?{query_string(filters)}"


def badges(metadata: dict[str, Any], root: str) -> list[dict[str, str]]:
    """Facet values of the record as links to the search they select (the filter names are
    the API's: ``type``, ``subtype``, ``experiment``, ``year``, ``collision_energy``, …)."""
    out: list[dict[str, str]] = []

    def add(kind: str, label: str, **filters: str) -> None:
        out.append({"kind": kind, "label": label, "href": _search(root, **filters)})

    primary = metadata["type"]["primary"]
    add("type", primary, type=primary)
    for secondary in metadata["type"].get("secondary") or []:
        add("type", secondary, type=primary, subtype=secondary)
    for experiment in metadata["experiment"]:
        add("experiment", experiment, experiment=experiment)
    years = sorted({str(d)[:4] for d in metadata.get("date_created") or [] if str(d)[:4].isdigit()})
    for year in years:
        add("year", year, year=year)
    collision = metadata.get("collision_information") or {}
    if collision.get("energy"):
        add("energy", collision["energy"], collision_energy=collision["energy"])
    if collision.get("type"):
        add("collision", collision["type"], collision_type=collision["type"])
    categories = metadata.get("categories") or {}
    if categories.get("primary"):
        add("category", categories["primary"], category=categories["primary"])
        for secondary in categories.get("secondary") or []:
            add("category", secondary, category=categories["primary"], subcategory=secondary)
    for name in metadata.get("signature") or []:
        add("signature", name, signature=name)
    for keyword in metadata.get("keywords") or []:
        add("keyword", keyword, keywords=keyword)
    return out


def _linked_recids(metadata: dict[str, Any]) -> list[str]:
    recids: list[str] = []
    for relation in metadata.get("relations") or []:
        if relation.get("recid"):
            recids.append(str(relation["recid"]))
    for name in _DESCRIBED:
        for link in (metadata.get(name) or {}).get("links") or []:
            if link.get("recid"):
                recids.append(str(link["recid"]))
    for step in (metadata.get("methodology") or {}).get("steps") or []:
        for conf in step.get("configuration_files") or []:
            if conf.get("recid"):
                recids.append(str(conf["recid"]))
    system = metadata.get("system_details") or {}
    if system.get("recid"):
        recids.append(str(system["recid"]))
    collaboration = metadata.get("collaboration") or {}
    if collaboration.get("recid"):
        recids.append(str(collaboration["recid"]))
    return list(dict.fromkeys(recids))


def _links(
    links: list[dict[str, Any]] | None, titles: dict[str, str], site: SiteLinks
) -> list[dict[str, Any]]:
    """``{recid|url, title, description}`` links as ``{href, text, description, external}``;
    a recid that is not a public record here is plain text (``href`` None), a URL of a page
    not held here goes to the origin portal (``external``)."""
    out = []
    for link in links or []:
        recid = link.get("recid")
        external = False
        if recid:
            known = titles.get(str(recid))
            href = f"{site.root}/record/{recid}" if known is not None else None
            text = link.get("title") or known or f"Record {recid}"
        else:
            href, external = site.url(str(link.get("url") or ""))
            text = link.get("title") or ""
        description = link.get("description") or ""
        if not text:
            # CODP's links often have a description and no title: it is their best name.
            text, description = description or str(link.get("url") or ""), ""
        out.append({"href": href, "text": text, "description": description, "external": external})
    return out


def _described(
    block: dict[str, Any] | None, titles: dict[str, str], site: SiteLinks
) -> dict[str, Any] | None:
    if not block or not (block.get("description") or block.get("links")):
        return None
    return {
        "html": sanitize_html(str(block.get("description") or ""), site),
        "links": _links(block.get("links"), titles, site),
    }


def _url(value: Any, site: SiteLinks) -> dict[str, Any] | None:
    """A URL field of the record as ``{href, external}`` (None: not one to link)."""
    href, external = site.url(str(value or ""))
    return {"href": href, "external": external} if value and href else None


def record_paths(metadata: dict[str, Any], base: str) -> set[str]:
    """The site-relative paths a record's texts and links name (``/docs/x``, ``/record/1``),
    shown on the page at path ``base``."""
    texts: list[str] = []
    urls: list[str] = []
    for name in _DESCRIBED:
        block = metadata.get(name) or {}
        texts.append(str(block.get("description") or ""))
        urls += [str(link.get("url") or "") for link in block.get("links") or []]
    system = metadata.get("system_details") or {}
    texts.append(str(system.get("description") or ""))
    urls += [str(link.get("url") or "") for link in metadata.get("links") or []]
    semantics = metadata.get("dataset_semantics_files") or {}
    urls += [str(semantics.get("json") or ""), str(semantics.get("url") or "")]
    urls.append(str((metadata.get("source_code_repository") or {}).get("url") or ""))
    for step in (metadata.get("methodology") or {}).get("steps") or []:
        urls += [str(c.get("url") or "") for c in step.get("configuration_files") or []]
    paths = {path for url in urls if (path := site_path(url, base)) is not None}
    for text in texts:
        if text:
            paths |= site_paths(text, base)
    return paths


#: A file of the record: (its entry, availability — ``online``, ``remote``, ``corrupt`` — and
#: where it is downloaded from, with whether that is its origin, elsewhere).
FileState = tuple[dict[str, Any], str, str | None, bool]


def _file_states(
    view: RecordView, urls: list[tuple[str | None, bool]]
) -> tuple[list[FileState], list[FileState]]:
    """(data files, index files) of the record, each with its availability and ``urls``'s
    download URL (:func:`download_urls`)."""
    files = view.stored.metadata.get("files") or []
    states = view.availability if len(view.availability) == len(files) else ["remote"] * len(files)
    data: list[FileState] = []
    indices: list[FileState] = []
    for file, state, (href, external) in zip(files, states, urls, strict=True):
        (indices if is_index_file(file) else data).append((file, state, href, external))
    return data, indices


def _file_row(file: dict[str, Any], state: str, href: str | None, external: bool) -> dict[str, Any]:
    """What the files box shows of a file: key, size, checksum, availability and link (made
    for the files of the page shown only: records list hundreds)."""
    return {
        "key": file_key(file),
        "uri": str(file["uri"]),
        "size": file["size"],
        "checksum": file["checksum"],
        "description": file.get("description") or "",
        "availability": state,
        "href": href,
        # The link leads to the file's origin, another site: the page says which.
        "external": external,
        "origin_host": (urlsplit(href).hostname or "") if external and href else "",
    }


def _index_rows(
    view: RecordView, index_files: list[FileState], root: str, recid: str
) -> list[dict[str, Any]]:
    """One row per file index: key, description, how many files and bytes it lists (when its
    contents are known here) and its ``.json``/``.txt`` links or its index files (``files``,
    with their availability: :func:`_file_row` makes their rows for the page shown)."""
    known: dict[str, dict[str, Any]] = {}
    if view.index_entries:  # contents known here (none: no index to look up)
        files = view.stored.metadata.get("files") or []
        known = {i["key"]: i for i in file_indices(view.index_entries, files)}
    rows: dict[str, dict[str, Any]] = {}
    for file_state in index_files:
        file = file_state[0]
        file_name = file_key(file)
        stem, _, extension = file_name.rpartition(".")
        key = stem if extension in ("json", "txt") and stem else file_name
        row = rows.setdefault(
            key,
            {"key": key, "description": file.get("description") or "", "files": [], "known": None},
        )
        row["files"].append(file_state)
    for key, row in rows.items():
        index = known.get(key)
        if index is not None:
            row["known"] = {
                "number_files": index["number_files"],
                "size": index["size"],
                "json": f"{root}/record/{recid}/file_index/{quote(key)}.json",
                "txt": f"{root}/record/{recid}/file_index/{quote(key)}.txt",
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


def _characteristics(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    distribution = metadata.get("distribution") or {}
    rows: list[tuple[str, str]] = []
    if distribution.get("number_events") is not None:
        rows.append(("Events", f"{distribution['number_events']:,}"))
    if distribution.get("number_entries") is not None:
        rows.append(("Entries", f"{distribution['number_entries']:,}"))
    if distribution.get("number_files") is not None:
        rows.append(("Files", f"{distribution['number_files']:,}"))
    if distribution.get("size") is not None:
        rows.append(("Size", f"{human_size(distribution['size'])} ({distribution['size']:,} B)"))
    if distribution.get("formats"):
        rows.append(("Formats", ", ".join(distribution["formats"])))
    if distribution.get("availability"):
        rows.append(("Availability", str(distribution["availability"])))
    if metadata.get("run_period"):
        rows.append(("Run period", ", ".join(metadata["run_period"])))
    if metadata.get("date_created"):
        rows.append(("Data taken or produced", ", ".join(metadata["date_created"])))
    if metadata.get("date_reprocessed"):
        rows.append(("Reprocessed", str(metadata["date_reprocessed"])))
    if metadata.get("accelerator"):
        rows.append(("Accelerator", str(metadata["accelerator"])))
    collision = metadata.get("collision_information") or {}
    if collision.get("energy") or collision.get("type"):
        rows.append(
            (
                "Collisions",
                " ".join(v for v in (collision.get("type"), collision.get("energy")) if v),
            )
        )
    if metadata.get("magnet_polarity"):
        rows.append(("Magnet polarity", str(metadata["magnet_polarity"])))
    stripping = metadata.get("stripping") or {}
    if stripping:
        rows.append(
            ("Stripping", f"{stripping.get('stream', '')} {stripping.get('version', '')}".strip())
        )
    return rows


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
    metadata = view.stored.metadata
    recid = view.stored.recid
    url = f"{root}/record/{recid}"
    current = not versions or view.stored.version == versions[-1]
    urls = download_urls(view, root, current=current)
    data_files, index_files = _file_states(view, urls)
    indices = _index_rows(view, index_files, root, recid)
    # Data files, then indices: one list, paged (real records have many of one or the other).
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
    named_authors = [a for a in metadata.get("authors") or [] if a.get("name")]
    abstract = _described(metadata.get("abstract"), titles, site)
    issues = _described(metadata.get("note"), titles, site)
    if is_author_list(metadata) and abstract is None:
        # CODP: an author list's description is its note, else its title.
        abstract, issues = (
            issues or {"html": sanitize_html(str(metadata["title"])), "links": []},
            None,
        )
    version_arg = None if current else view.stored.version

    def files_href(number: int) -> str:
        params = {"version": version_arg, "files_page": number if number > 1 else None}
        query = query_string(params)
        return f"{url}?{query}#files" if query else f"{url}#files"

    system = metadata.get("system_details") or {}
    methodology = metadata.get("methodology") or {}
    licence = (metadata.get("license") or {}).get("attribution")
    collaboration = metadata.get("collaboration") or {}
    semantics_files = metadata.get("dataset_semantics_files") or {}
    cross_section = metadata.get("cross_section") or {}
    links = metadata.get("links") or []
    repository = metadata.get("source_code_repository") or {}
    content_urls = [href for href, _ in urls]
    document = schemaorg(metadata, base_url=root, content_urls=content_urls)
    # Plain text for search engines: formulas as Unicode, never LaTeX or markup.
    document["name"] = math_text(str(document["name"]))
    if isinstance(document.get("description"), str):
        document["description"] = math_text(document["description"])
    return {
        "recid": recid,
        "url": url,
        "metadata": metadata,
        "title": metadata["title"],
        "title_additional": metadata.get("title_additional") or "",
        "doi": metadata.get("doi") or "",
        "cite": cite_as(metadata, url),
        "badges": badges(metadata, root),
        "plain_title": math_text(str(metadata["title"])),
        "summary": plain_text(
            str((metadata.get("abstract") or {}).get("description") or ""), SUMMARY_LENGTH
        ),
        "labels": section_labels(metadata),
        "abstract": abstract,
        "authors": [
            {
                "name": tex_accents(str(a["name"])),
                "orcid": a.get("orcid") or "",
                "affiliation": tex_accents(str(a.get("affiliation") or "")),
            }
            for a in named_authors
        ],
        "authors_shown": LISTED_AUTHORS,
        "collaboration": {
            "name": collaboration.get("name") or "",
            "href": f"{root}/record/{collaboration['recid']}"
            if collaboration.get("recid") in titles
            else None,
        },
        "characteristics": _characteristics(metadata),
        "run_numbers": metadata.get("run_numbers") or [],
        "system": {
            "release": system.get("release") or "",
            "global_tag": system.get("global_tag") or "",
            "container_images": system.get("container_images") or [],
            "html": sanitize_html(str(system.get("description") or ""), site),
            "link": _links([{"recid": system["recid"]}], titles, site)[0]
            if system.get("recid")
            else None,
        }
        if system
        else None,
        "methodology": _described(methodology, titles, site),
        "steps": [
            {
                "type": step.get("type") or "",
                "release": step.get("release") or "",
                "global_tag": step.get("global_tag") or "",
                "generators": step.get("generators") or [],
                "output_dataset": step.get("output_dataset") or "",
                "note": step.get("note") or "",
                "configuration_files": _configurations(step, titles, site),
            }
            for step in methodology.get("steps") or []
        ],
        "validation": _described(metadata.get("validation"), titles, site),
        "usage": _described(metadata.get("usage"), titles, site),
        "issues": issues,
        "pileup": _described(metadata.get("pileup"), titles, site),
        "semantics": [
            {
                "variable": v.get("variable") or "",
                "type": v.get("type") or "",
                "unit": v.get("unit") or "",
                "description": v.get("description") or "",
            }
            for v in metadata.get("dataset_semantics") or []
        ],
        "semantics_files": {
            "json": _url(semantics_files.get("json"), site),
            "html": _url(semantics_files.get("url"), site),
        }
        if semantics_files
        else None,
        "cross_section": [
            (label, cross_section[name])
            for name, label in CROSS_SECTION_FIELDS
            if cross_section.get(name)
        ],
        "relations": [
            {
                "type": RELATION_NAMES.get(str(r.get("type")), str(r.get("type"))),
                "link": _links([r], titles, site)[0] if r.get("recid") else None,
                "title": r.get("title") or "",
                "doi": r.get("doi") or "",
                "description": r.get("description") or "",
            }
            for r in metadata.get("relations") or []
        ],
        "named_by": _named_by(recid, named_by, root),
        "use_with": _described(metadata.get("use_with"), titles, site),
        "web_links": _links(links, titles, site),
        "repository": {
            "link": _url(repository.get("url"), site),
            "url": repository.get("url") or "",
            "description": repository.get("description") or "",
        }
        if repository
        else None,
        "entries": entries,
        "entries_count": count,
        "files_count": len(data_files),
        "indices_count": len(indices),
        "files_size": sum(int(f["size"]) for f, *_ in data_files),
        "files_first": start + 1,
        "files_page": page,
        "files_last_page": last,
        "files_pages": [(n, files_href(n) if n else "") for n in numbers],
        "files_prev": files_href(page - 1) if page > 1 else None,
        "files_next": files_href(page + 1) if page < last else None,
        "licence": licence or "",
        "licence_url": LICENCE_URLS.get(licence or "")
        or (f"https://spdx.org/licenses/{quote(licence)}.html" if licence else None),
        "version": view.stored.version,
        "versions": versions,
        "latest": versions[-1] if versions else view.stored.version,
        "updated": view.stored.updated.date().isoformat(),
        "json_url": f"{root}/api/records/{recid}"
        + (f"?version={version_arg}" if version_arg else ""),
        # Escaped for the script element it sits in: a title cannot end it or open a comment.
        "json_ld": json_in_html(document),
    }


def _configurations(
    step: dict[str, Any], titles: dict[str, str], site: SiteLinks
) -> list[dict[str, Any]]:
    out = []
    for conf in step.get("configuration_files") or []:
        recid = conf.get("recid")
        link: dict[str, Any] | None = None
        if recid and recid in titles:
            link = {"href": f"{site.root}/record/{recid}", "external": False}
        elif conf.get("url"):
            link = _url(conf.get("url"), site)
        out.append({"title": conf.get("title") or "", "process": conf.get("process"), "link": link})
    return out


@router.get(
    "/record/{recid}",
    response_class=HTMLResponse,
    summary="A record's page",
    openapi_extra={"parameters": _PARAMETERS},
)
def record_page(request: Request) -> HTMLResponse:
    # Parameters are read here rather than by FastAPI: its validation costs as much as a read.
    recid = request.path_params["recid"]
    if not RECID.match(recid):
        raise RecordNotFoundError(recid[:40])
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
