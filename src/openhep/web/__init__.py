"""The ASGI app: the JSON API (``api/``) and the HTML pages (``pages/``)."""

from __future__ import annotations

from openhep.web._app import app_factory, create_app

__all__ = ["app_factory", "create_app"]
