"""A record as schema.org JSON-LD (what search engines and dataset finders read)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from openhep.model import file_key

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
    metadata: dict[str, Any], *, base_url: str, content_urls: Sequence[str | None] = ()
) -> dict[str, Any]:
    """The schema.org description of a record, with its files as ``DataDownload``s.

    ``content_urls`` gives, for each of ``files[]``, the http(s) address that serves its bytes
    (this instance's, or the file's origin), or None. A file's ``contentUrl`` is that address
    or is left out: never its ``root://`` URI, which no web client can fetch.
    """
    recid = str(metadata["recid"])
    url = f"{base_url}/record/{recid}"
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": _TYPES.get(metadata["type"]["primary"], "CreativeWork"),
        "@id": url,
        "url": url,
        "name": metadata["title"],
        "identifier": [f"recid:{recid}"],
        "datePublished": metadata["date_published"],
        "publisher": {"@type": "Organization", "name": metadata["publisher"]},
        "isAccessibleForFree": True,
    }
    if metadata.get("doi"):
        doc["identifier"].insert(0, f"https://doi.org/{metadata['doi']}")
        doc["sameAs"] = f"https://doi.org/{metadata['doi']}"
    description = (metadata.get("abstract") or {}).get("description")
    doc["description"] = _text(description) if description else metadata["title"]
    authors = metadata.get("authors") or []
    collaboration = (metadata.get("collaboration") or {}).get("name")
    if authors:
        doc["creator"] = [{"@type": "Person", "name": a["name"]} for a in authors[:100]]
    elif collaboration:
        doc["creator"] = {"@type": "Organization", "name": collaboration}
    keywords = [*metadata.get("keywords", []), *metadata.get("experiment", [])]
    if keywords:
        doc["keywords"] = keywords
    license_ = (metadata.get("license") or {}).get("attribution")
    if license_:
        doc["license"] = license_
    files = metadata.get("files") or []
    if files:
        urls = list(content_urls) if len(content_urls) == len(files) else [None] * len(files)
        downloads = []
        for f, content_url in list(zip(files, urls, strict=True))[:100]:
            name = file_key(f)
            download: dict[str, Any] = {
                "@type": "DataDownload",
                "name": name,
                "contentSize": f"{f['size']} B",
            }
            if content_url:
                download["contentUrl"] = content_url
            if "." in name:
                download["encodingFormat"] = name.rsplit(".", 1)[-1]
            downloads.append(download)
        doc["distribution"] = downloads
    return doc
