"""What handlers share: the instance's portal, the URL the client reached us by, and what a
recid in a URL path looks like."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Request
from fastapi.responses import Response

from openhep.model import RECID
from openhep.services import Portal

RecidPath = Annotated[str, Path(pattern=RECID.pattern, description="The record's recid.")]


def portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def json_response(data: object, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(data), media_type=media_type)
