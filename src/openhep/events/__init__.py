"""Event display data: iSpy ``.ig`` files and NanoAOD rows → one event model (physics objects
by collection with pt, eta, phi; drawing data in metres), helices in CMS's 3.8 T field, the
simplified CMS outline and the invariant mass of chosen objects. No catalogue, no web here:
callers give file locations (the service layer resolves records to them)."""

from openhep.events._detector import DETECTOR
from openhep.events._errors import EventFileError, EventNotFound, UnknownObjects
from openhep.events._model import MAX_EVENT_BYTES, MAX_EVENTS, Event, EventId, EventSource
from openhep.events._open import open_events
from openhep.events._physics import (
    ELECTRON_MASS_GEV,
    MAGNETIC_FIELD_TESLA,
    MUON_MASS_GEV,
    helix,
    invariant_mass,
)

__all__ = [
    "DETECTOR",
    "ELECTRON_MASS_GEV",
    "MAGNETIC_FIELD_TESLA",
    "MAX_EVENTS",
    "MAX_EVENT_BYTES",
    "MUON_MASS_GEV",
    "Event",
    "EventFileError",
    "EventId",
    "EventNotFound",
    "EventSource",
    "UnknownObjects",
    "helix",
    "invariant_mass",
    "open_events",
]
