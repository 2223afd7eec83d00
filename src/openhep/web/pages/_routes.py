"""Page routes that answer ``HEAD`` as well as ``GET`` (link checkers and crawlers ask HEAD)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

Handler = TypeVar("Handler", bound=Callable[..., Any])


def get_and_head(router: APIRouter, path: str, **options: Any) -> Callable[[Handler], Handler]:
    """``@router.get(path, **options)`` plus the same handler for ``HEAD`` (the server sends
    the headers without the body), left out of the OpenAPI document: one operation there."""

    def register(handler: Handler) -> Handler:
        router.add_api_route(path, handler, methods=["GET"], **options)
        router.add_api_route(path, handler, methods=["HEAD"], include_in_schema=False, **options)
        return handler

    return register
