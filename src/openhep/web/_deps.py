"""What handlers share: the instance's portal and the URL the client reached us by."""

from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.responses import Response

from openhep.portal import Portal


def portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def json_response(data: object, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(data), media_type=media_type)
