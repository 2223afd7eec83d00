"""``/api/records/<recid>/events``: the events of a public record's iSpy (``.ig``) and NanoAOD
files for the event display — a page of event ids, one event (its physics objects and what to
draw), and the invariant mass of objects an event holds.

Every answer is 200, or ``{"status", "message", "error", "field"?}`` with 400 (a parameter
to change; ids the event does not have), 404 (no such public record, file or event), 422 (a
file whose bytes cannot be read as events: the message says what and where) or 503 (the file
failed its fixity check); never 500 for anything a client sends. Answers are kept by the
answer cache (``web/_cache.py``) like the record API's: a file's bytes change only with a new
version of its record.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from openhep.catalog import RecordNotFoundError
from openhep.events import EventFileError, EventNotFound, UnknownObjects
from openhep.files import CorruptFileError, FileNotServedError
from openhep.services import (
    EventQueryError,
    EventViewer,
    parse_file,
    parse_ids,
    parse_index,
    parse_page,
    parse_recid,
    parse_size,
)
from openhep.web._cache import cached
from openhep.web._deps import json_response
from openhep.web._params import QueryStringError, strict_query_params
from openhep.web._threads import off_loop_router

router = off_loop_router(prefix="/api/records", tags=["events"])


def _viewer(request: Request) -> EventViewer:
    found: EventViewer = request.app.state.event_viewer
    return found


def _problem(status: int, body: dict[str, Any]) -> Response:
    """An error answer: ``{"error", "field"?}`` and CODP's ``status``/``message``."""
    data = {"status": status, "message": body.get("error", ""), **body}
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _failure(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """The status and body of an error a client's request may run into (None: a bug)."""
    if isinstance(exc, EventQueryError):
        return 400, exc.to_json()
    if isinstance(exc, UnknownObjects):
        return 400, {"error": str(exc), "field": "ids"}
    if isinstance(exc, QueryStringError):
        return 400, {"error": str(exc)}
    if isinstance(exc, EventFileError):
        return 422, {"error": exc.message}
    if isinstance(exc, RecordNotFoundError | FileNotServedError | EventNotFound):
        return 404, {"error": str(exc)}
    if isinstance(exc, CorruptFileError):
        return 503, {"error": str(exc)}
    return None


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    params = strict_query_params(request)
    unknown = sorted(name[:40] for name in params if name not in allowed)
    if unknown:
        raise EventQueryError(
            f"unknown parameter {unknown[0]!r}: the parameters are {', '.join(allowed)}",
            unknown[0],
        )
    return dict(params.items())


def _answer(request: Request, allowed: tuple[str, ...], work: Any) -> Response:
    """``work(params)``'s JSON, or the error answer of what it raised."""
    try:
        return json_response(work(_params(request, allowed)))
    except Exception as exc:
        failure = _failure(exc)
        if failure is None:
            raise
        return _problem(*failure)


_FILE = {
    "name": "file",
    "in": "query",
    "description": "The file's key (default: the record's first .ig or NanoAOD file).",
    "schema": {"type": "string", "maxLength": 1024},
}


@router.get(
    "/{recid}/events",
    summary="A page of the event ids of a record's event file",
    description=(
        "The events of the record's iSpy (`.ig`) or NanoAOD file `file`: `{file, kind, total, "
        "page, size, events: [{index, run, lumi, event}]}` (run, lumi, event are null when "
        "the file does not say). `page` from 1, `size` 1 to 100 (default 20)."
    ),
    openapi_extra={
        "parameters": [
            _FILE,
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "size", "in": "query", "schema": {"type": "integer", "maximum": 100}},
        ]
    },
)
@cached
def list_events(request: Request) -> Response:
    viewer = _viewer(request)

    def work(params: dict[str, str]) -> dict[str, Any]:
        recid = parse_recid(request.path_params["recid"])
        key = parse_file(params.get("file"))
        page, size = parse_page(params.get("page")), parse_size(params.get("size"))
        return viewer.events(recid, key, page=page, size=size).to_json()

    return _answer(request, ("file", "page", "size"), work)


@router.get(
    "/{recid}/events/{index}",
    summary="One event of a record's event file: its objects and what to draw",
    description=(
        "Event `index` (from 0) of the file: `{run, lumi, event, index, total, file, "
        "collections: {name: [{id, pt, eta, phi, charge?, energy?, mass?, …}]}, draw: {tracks, "
        "muons, electrons, photons, jets, met, towers, vertices, …}}`; positions in metres "
        "(docs/events.md describes `draw`)."
    ),
    openapi_extra={"parameters": [_FILE]},
)
@cached
def get_event(request: Request) -> Response:
    viewer = _viewer(request)

    def work(params: dict[str, str]) -> dict[str, Any]:
        recid = parse_recid(request.path_params["recid"])
        index = parse_index(request.path_params["index"])
        return viewer.event(recid, parse_file(params.get("file")), index)

    return _answer(request, ("file",), work)


@router.get(
    "/{recid}/events/{index}/mass",
    summary="The invariant mass of objects of one event",
    description=(
        "The invariant mass and transverse momentum (GeV) of the four-vector sum of the "
        "objects `ids` (comma-separated, 1 to 50, as the event's `collections` name them) of "
        "event `index`: `{mass, pt, ids, index}`. An id the event does not have is a 400 "
        "that names it."
    ),
    openapi_extra={
        "parameters": [
            _FILE,
            {
                "name": "ids",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "example": "GlobalMuons_V1:0,GlobalMuons_V1:1"},
            },
        ]
    },
)
@cached
def get_mass(request: Request) -> Response:
    viewer = _viewer(request)

    def work(params: dict[str, str]) -> dict[str, Any]:
        recid = parse_recid(request.path_params["recid"])
        index = parse_index(request.path_params["index"])
        key = parse_file(params.get("file"))
        return viewer.mass(recid, key, index, parse_ids(params.get("ids")))

    return _answer(request, ("file", "ids"), work)
