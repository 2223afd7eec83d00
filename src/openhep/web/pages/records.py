"""``/record/<recid>``: the record's page (a minimal one until the pages issue lands)."""

from __future__ import annotations

from html import escape
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from openhep.formats import schemaorg
from openhep.web._deps import base_url, portal

router = APIRouter(tags=["pages"])


@router.get("/record/{recid}", response_class=HTMLResponse, summary="A record's page")
async def record_page(
    request: Request, recid: Annotated[str, Path(pattern=r"^[0-9]{1,12}$")]
) -> HTMLResponse:
    view = portal(request).record(recid)
    metadata = view.stored.metadata
    root = base_url(request)
    ld = orjson.dumps(schemaorg(metadata, base_url=root)).decode().replace("</", "<\\/")
    files = "".join(
        f"<li><code>{escape(f['uri'])}</code> ({f['size']:,} bytes, {escape(f['checksum'])})</li>"
        for f in metadata.get("files", [])[:50]
    )
    description = (metadata.get("abstract") or {}).get("description", "")
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(metadata["title"])} — OpenHEP</title>
<link rel="alternate" type="application/json" href="{root}/api/records/{recid}">
<script type="application/ld+json">{ld}</script>
</head><body>
<h1>{escape(metadata["title"])}</h1>
<p>{escape(", ".join(metadata["experiment"]))} · {escape(metadata["type"]["primary"])}
· published {escape(metadata["date_published"])}
{
        f' · DOI <a href="https://doi.org/{escape(metadata["doi"])}">{escape(metadata["doi"])}</a>'
        if metadata.get("doi")
        else ""
    }</p>
<div>{escape(description)}</div>
<ul>{files}</ul>
<p><a href="{root}/api/records/{recid}">JSON</a></p>
</body></html>"""
    return HTMLResponse(body)
