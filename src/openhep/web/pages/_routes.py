"""Page routes that answer ``HEAD`` as well as ``GET`` (link checkers and crawlers ask HEAD),
and the recid of a record's page path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from openhep.catalog import RecordNotFoundError
from openhep.model import RECID

Handler = TypeVar("Handler", bound=Callable[..., Any])


def get_and_head(router: APIRouter, path: str, **options: Any) -> Callable[[Handler], Handler]:
    """``@router.get(path, **options)`` plus the same handler for ``HEAD`` (the server sends
    the headers without the body), left out of the OpenAPI document: one operation there."""

    def register(handler: Handler) -> Handler:
        router.add_api_route(path, handler, methods=["GET"], **options)
        router.add_api_route(path, handler, methods=["HEAD"], include_in_schema=False, **options)
        return handler

    return register


def page_recid(request: Request) -> str:
    """The recid of a record's page path (``…/{recid}``); ``RecordNotFoundError`` (404) when
    the path holds no recid."""
    recid: str = request.path_params["recid"]
    if not RECID.match(recid):
        raise RecordNotFoundError(recid[:40])
    return recid
