"""A record as schema.org JSON-LD (what search engines and dataset finders read)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from openhep.model import RecordData, RecordFile

_TAGS = re.compile(r"<[^>]+>")
_TYPES = {
    "Dataset": "Dataset",
    "Software": "SoftwareSourceCode",
    "Environment": "SoftwareApplication",
    "Documentation": "CreativeWork",
    "Supplementaries": "Dataset",
}


def _text(html: str) -> str:
    return " ".join(_TAGS.sub(" ", html).split())


def schemaorg(
    record: RecordData | Mapping[str, Any],
    *,
    base_url: str,
    content_urls: Sequence[str | None] = (),
) -> dict[str, Any]:
    """The schema.org description of a record (its view or its JSON), with its files as
    ``DataDownload``s.

    ``content_urls`` gives, for each of ``files[]``, the http(s) address that serves its bytes
    (this instance's, or the file's origin), or None. A file's ``contentUrl`` is that address
    or is left out: never its ``root://`` URI, which no web client can fetch.
    """
    record = RecordData.of(record)
    url = f"{base_url}/record/{record.recid}"
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": _TYPES.get(record.type.primary, "CreativeWork"),
        "@id": url,
        "url": url,
        "name": record.title,
        "identifier": [f"recid:{record.recid}"],
        "datePublished": record.date_published,
        "publisher": {"@type": "Organization", "name": record.publisher},
        "isAccessibleForFree": True,
    }
    if record.doi:
        doc["identifier"].insert(0, f"https://doi.org/{record.doi}")
        doc["sameAs"] = f"https://doi.org/{record.doi}"
    doc["description"] = _text(record.description) if record.description else record.title
    if record.authors:
        doc["creator"] = [{"@type": "Person", "name": a.name} for a in record.authors[:100]]
    elif record.collaboration.name:
        doc["creator"] = {"@type": "Organization", "name": record.collaboration.name}
    keywords = [*record.keywords, *record.experiments]
    if keywords:
        doc["keywords"] = keywords
    if record.license:
        doc["license"] = record.license
    if record.files:
        doc["distribution"] = _downloads(record.files, content_urls)
    return doc


def _downloads(
    files: Sequence[RecordFile], content_urls: Sequence[str | None]
) -> list[dict[str, Any]]:
    urls = list(content_urls) if len(content_urls) == len(files) else [None] * len(files)
    downloads = []
    for file, content_url in list(zip(files, urls, strict=True))[:100]:
        download: dict[str, Any] = {
            "@type": "DataDownload",
            "name": file.key,
            "contentSize": f"{file.size} B",
        }
        if content_url:
            download["contentUrl"] = content_url
        if "." in file.key:
            download["encodingFormat"] = file.key.rsplit(".", 1)[-1]
        downloads.append(download)
    return downloads
