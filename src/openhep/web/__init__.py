"""The ASGI app: the JSON API (``api/``) and the HTML pages (``pages/``).

A new route goes on a router of :func:`off_loop_router`: its plain ``def`` handlers run in the
app's request threads (:func:`install_request_threads`), off the event loop.
"""

from __future__ import annotations

from openhep.web._app import app_factory, create_app
from openhep.web._threads import install_request_threads, off_loop_router

__all__ = ["app_factory", "create_app", "install_request_threads", "off_loop_router"]
