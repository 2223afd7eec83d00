"""A record as schema.org JSON-LD (what search engines and dataset finders read)."""

from __future__ import annotations

import re
from typing import Any

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


def schemaorg(metadata: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The schema.org description of a record, with its files as ``DataDownload``s."""
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
    if metadata.get("files"):
        doc["distribution"] = [
            {
                "@type": "DataDownload",
                "contentUrl": f["uri"],
                "contentSize": f"{f['size']} B",
                "encodingFormat": f["uri"].rsplit(".", 1)[-1] if "." in f["uri"] else None,
            }
            for f in metadata["files"][:100]
        ]
    return doc
