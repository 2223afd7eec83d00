"""The one event model every reader gives: an event's identity, its physics objects by
collection and its drawing data; the interface of an opened file of events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openhep.events._errors import UnknownObjects

#: The largest uncompressed event (one ``.ig`` entry) read: the largest real iSpy event of the
#: samples is 0.9 MB; 64 MB leaves room for busy events and refuses zip bombs.
MAX_EVENT_BYTES = 64 << 20
#: The most events a file may hold (``.ig`` entries; NanoAOD entries are read by index).
MAX_EVENTS = 1_000_000


@dataclass(frozen=True)
class EventId:
    """Where an event is in its file (``index``, from 0) and who it is (run, luminosity
    block, event number; ``None`` when the file does not say)."""

    index: int
    run: int | None
    lumi: int | None
    event: int | None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "run": self.run, "lumi": self.lumi, "event": self.event}


@dataclass(frozen=True)
class Event:
    """One collision: ``collections`` maps a collection's name to its physics objects (each
    a JSON-able dict with a unique ``id`` and float ``pt``, ``eta``, ``phi``), ``draw`` holds
    what the display draws (metres; shape in docs/events.md)."""

    run: int | None
    lumi: int | None
    event: int | None
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    draw: dict[str, Any] = field(default_factory=dict)

    def objects(self) -> dict[str, dict[str, Any]]:
        """Every physics object of the event by its id."""
        return {o["id"]: o for objects in self.collections.values() for o in objects}

    def select(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The objects of ``ids`` in that order; ids the event does not hold →
        UnknownObjects naming them."""
        objects = self.objects()
        missing = [i for i in ids if i not in objects]
        if missing:
            raise UnknownObjects(missing)
        return [objects[i] for i in ids]

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "lumi": self.lumi,
            "event": self.event,
            "collections": self.collections,
            "draw": self.draw,
        }


class EventSource(Protocol):
    """One opened file of events; reads are thread-safe."""

    kind: str  # "ig" | "nanoaod"

    def __len__(self) -> int: ...

    def ids(self, start: int, stop: int) -> list[EventId]:
        """The ids of events ``start`` to ``stop - 1`` (clipped to the file)."""
        ...

    def event(self, index: int) -> Event:
        """Event ``index`` (from 0); outside the file → EventNotFound."""
        ...

    def close(self) -> None: ...
