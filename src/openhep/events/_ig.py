"""iSpy ``.ig`` files: a zip of ``Events/Run_R/Event_E`` texts → the event model. Each entry
is read on demand (bounded), parsed by the tolerant reader and turned into collections of
physics objects and drawing data; the last few events parsed are kept."""

from __future__ import annotations

import contextlib
import math
import re
import threading
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, Any

from openhep.events import _detector as cms
from openhep.events import _draw as draw
from openhep.events._errors import EventFileError, EventNotFound
from openhep.events._igdoc import Collection, IgDocument, base_name, read_document
from openhep.events._model import MAX_EVENT_BYTES, MAX_EVENTS, Event, EventId
from openhep.events._physics import helix, muon_path
from openhep.events._syntax import parse_text

_ENTRY = re.compile(r"Events/Run_(\d{1,12})/Event_(\d{1,20})")
#: How much of an entry's start ``ids`` reads to find the run, event and luminosity block
#: (``Event_V2`` follows ``Types``: at 5.9 kB in the real files).
_PREFIX_BYTES = 64 << 10
_PREFIX_TYPES = re.compile(
    r"""["']Event_V\d+["']\s*:\s*[\[(]\s*[\[(]\s*["']run["']\s*,\s*["']int["']\s*[\])]\s*,"""
    r"""\s*[\[(]\s*["']event["']\s*,\s*["']int["']\s*[\])]\s*,"""
    r"""\s*[\[(]\s*["']ls["']\s*,\s*["']int["']\s*[\])]"""
)
_PREFIX_ROW = re.compile(
    r"""["']Collections["']\s*:\s*\{\s*["']Event_V\d+["']\s*:\s*[\[(]\s*[\[(]\s*"""
    r"""(\d{1,12})\s*,\s*(\d{1,20})\s*,\s*(\d{1,12})\s*,"""
)
#: Parsed events kept per opened file (the display asks for an event, then its mass).
_KEPT_EVENTS = 4

#: Base name → species of the physics objects of iSpy's collections (any version).
SPECIES = {
    "Tracks": "track",
    "GlobalMuons": "muon",
    "TrackerMuons": "muon",
    "StandaloneMuons": "muon",
    "GsfElectrons": "electron",
    "Electrons": "electron",
    "Photons": "photon",
    "PFJets": "jet",
    "Jets": "jet",
    "CaloJets": "jet",
    "GenJets": "jet",
    "PFMETs": "met",
    "METs": "met",
    "CaloMETs": "met",
    "PFTaus": "tau",
}
#: Collections read for drawing or identity only: not physics objects, not "other".
_SUPPORT = {"Event", "Extras", "Points", "Vertices", "MuonChambers"}
#: Calorimeter hits drawn as towers: base name → detector.
_HITS = {
    "EBRecHits": "EB",
    "EERecHits": "EE",
    "HBRecHits": "HB",
    "HERecHits": "HE",
    "HFRecHits": "HF",
    "HORecHits": "HO",
}
_FRONT = ("front_1", "front_2", "front_3", "front_4")
_BACK = ("back_1", "back_2", "back_3", "back_4")


class IgSource:
    """An opened ``.ig`` file (local path or a file object over HTTP/XRootD)."""

    kind = "ig"

    def __init__(self, handle: str | IO[bytes], shown: str) -> None:
        self._shown = shown
        self._lock = threading.Lock()
        self._kept: OrderedDict[int, Event] = OrderedDict()
        self._lumis: dict[int, int | None] = {}
        try:
            self._zip = zipfile.ZipFile(handle)
        except Exception as exc:  # BadZipFile, EOFError, struct.error…: the bytes are no zip
            raise EventFileError(
                f"{shown}: not a readable .ig file (a zip archive): {_reason(exc)}"
            ) from None
        try:
            self._entries = self._event_entries()
        except EventFileError:
            self.close()
            raise

    def _event_entries(self) -> list[tuple[zipfile.ZipInfo, int, int]]:
        infos = self._zip.infolist()
        if len(infos) > MAX_EVENTS + 16:
            raise EventFileError(f"{self._shown}: more than {MAX_EVENTS} entries; split the file")
        entries = []
        for info in infos:
            match = _ENTRY.fullmatch(info.filename)
            if match is not None:
                entries.append((info, int(match.group(1)), int(match.group(2))))
        if not entries:
            raise EventFileError(
                f"{self._shown}: no events (no entry named Events/Run_<run>/Event_<event>)"
            )
        return entries

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._zip.close()

    def ids(self, start: int, stop: int) -> list[EventId]:
        start, stop = max(0, start), min(len(self._entries), stop)
        return [self._id(i) for i in range(start, stop)]

    def _id(self, index: int) -> EventId:
        info, run, number = self._entries[index]
        with self._lock:
            kept = self._kept.get(index)
            if kept is not None:
                return EventId(index, kept.run, kept.lumi, kept.event)
            lumi_known = index in self._lumis
            lumi = self._lumis.get(index)
        if not lumi_known:
            quick = self._quick_id(info)
            if quick is None:
                found = self.event(index)
                return EventId(index, found.run, found.lumi, found.event)
            run, number, lumi = quick
            with self._lock:
                self._lumis[index] = lumi
        return EventId(index, run, lumi, number)

    def _quick_id(self, info: zipfile.ZipInfo) -> tuple[int, int, int] | None:
        """Run, event, luminosity block from the entry's first bytes, when ``Event_V*`` is
        where CMSSW writes it (else None: the entry is parsed whole)."""
        try:
            with self._zip.open(info) as entry:
                head = entry.read(_PREFIX_BYTES).decode("utf-8", "replace")
        except Exception:  # the whole read reports what is wrong
            return None
        if _PREFIX_TYPES.search(head) is None:
            return None
        row = _PREFIX_ROW.search(head)
        if row is None:
            return None
        return int(row.group(1)), int(row.group(2)), int(row.group(3))

    def event(self, index: int) -> Event:
        if not 0 <= index < len(self._entries):
            raise EventNotFound(
                f"{self._shown}: no event {index}; it holds events 0 to {len(self._entries) - 1}"
            )
        with self._lock:
            kept = self._kept.get(index)
            if kept is not None:
                self._kept.move_to_end(index)
                return kept
        info, run, number = self._entries[index]
        where = f"{self._shown}: {info.filename}"
        document = read_document(parse_text(self._read(info, where), where), where)
        built = build_event(document, run, number)
        with self._lock:
            self._kept[index] = built
            self._lumis[index] = built.lumi
            while len(self._kept) > _KEPT_EVENTS:
                self._kept.popitem(last=False)
        return built

    def _read(self, info: zipfile.ZipInfo, where: str) -> bytes:
        if info.file_size > MAX_EVENT_BYTES:
            raise _too_large(where)
        try:
            with self._zip.open(info) as entry:
                data = entry.read(MAX_EVENT_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError) as exc:
            # RuntimeError: an encrypted entry (zipfile asks for a password)
            raise EventFileError(
                f"{where}: cannot be read (truncated or damaged): {_reason(exc)}"
            ) from None
        except NotImplementedError as exc:  # a compression zipfile does not know
            raise EventFileError(f"{where}: {_reason(exc)}") from None
        if len(data) > MAX_EVENT_BYTES:
            raise _too_large(where)
        return data


def _too_large(where: str) -> EventFileError:
    return EventFileError(
        f"{where}: an event larger than {MAX_EVENT_BYTES >> 20} MiB uncompressed is not read"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# -- one event ----------------------------------------------------------------------------


def build_event(document: IgDocument, run: int, number: int) -> Event:
    """The event model of one checked iSpy document (``run``/``number`` from the entry's name
    when the document has no ``Event_V*``)."""
    lumi: int | None = None
    identity = document.first("Event")
    if identity is not None and identity.rows:
        row = dict(zip(identity.columns, identity.rows[0], strict=True))
        run = row["run"] if isinstance(row.get("run"), int) else run
        number = row["event"] if isinstance(row.get("event"), int) else number
        lumi = row["ls"] if isinstance(row.get("ls"), int) else None
    collections: dict[str, list[dict[str, Any]]] = {}
    out = draw.empty_draw()
    skipped = 0
    for collection in document.collections:
        base = base_name(collection.name)
        species = SPECIES.get(base)
        if species is None and base not in _SUPPORT and base not in _HITS:
            if collection.has("pt", "eta", "phi") and base != "TriggerObjects":
                species = "other"
            else:
                out["other"][collection.name] = len(collection.rows)
                continue
        if species is None:
            continue
        objects, dropped = _objects(collection, species)
        skipped += dropped
        collections[collection.name] = objects
    if skipped:
        out["dropped"]["objects_without_pt_eta_phi"] = skipped
    vertex = _draw_vertices(document, out)
    _draw_paths(document, collections, vertex, out)
    _draw_calorimeter(document, out)
    _draw_chambers(document, out)
    for name, objects in collections.items():
        for o in objects:
            if o["type"] == "jet":
                out["jets"].append(
                    draw.jet(o["id"], name, o["eta"], o["phi"], o.get("energy") or o["pt"])
                )
            elif o["type"] == "met":
                out["met"].append(draw.met(o["id"], name, o["pt"], o["phi"]))
    return Event(run, lumi, number, collections, out)


def _objects(collection: Collection, species: str) -> tuple[list[dict[str, Any]], int]:
    """The collection's rows as physics objects: every scalar column, ``pt`` (from ``et``
    when that is what the file has), ``eta`` (from ``theta``), ``phi``; MET lies in the
    transverse plane (eta 0). Rows without finite pt, eta and phi are left out (counted)."""
    objects: list[dict[str, Any]] = []
    dropped = 0
    vectors = [
        c for c, t in zip(collection.columns, collection.types, strict=True) if t.startswith("v")
    ]
    for n, row in collection.records():
        found: dict[str, Any] = {"id": f"{collection.name}:{n}", "type": species}
        for column, value in row.items():
            if column not in vectors and column not in ("id", "type"):
                found[column] = value
        pt = row.get("pt", row.get("et"))
        eta = row.get("eta")
        if eta is None and isinstance(row.get("theta"), int | float) and 0 < row["theta"] < math.pi:
            eta = -math.log(math.tan(row["theta"] / 2))
        if species == "met":
            eta = 0.0
        phi = row.get("phi")
        if not all(type(x) in (int, float) for x in (pt, eta, phi)):
            dropped += 1
            continue
        found["pt"], found["eta"], found["phi"] = float(pt), float(eta), float(phi)  # type: ignore[arg-type]
        if species == "photon" or species == "jet":
            found.setdefault("charge", 0 if species == "photon" else None)
            if found.get("energy") is None:
                energy = draw.energy_of(float(pt), float(eta))  # type: ignore[arg-type]
                if energy is not None:
                    found["energy"] = energy
        if found.get("charge") is None:
            found.pop("charge", None)
        elif isinstance(found["charge"], float):
            found["charge"] = int(found["charge"])
        for key in ("pos", "rp"):
            if key in row and row[key] is not None:
                found["vertex"] = draw.rounded(row[key])
                break
        objects.append(found)
    return objects, dropped


def _draw_vertices(document: IgDocument, out: dict[str, Any]) -> list[float]:
    """Vertices drawn; the first valid one (the primary) returned, else the origin."""
    primary: list[float] | None = None
    for collection in document.by_base("Vertices"):
        at = collection.index("pos")
        valid = collection.index("isValid")
        if at is None:
            continue
        for n, row in enumerate(collection.rows):
            if row[at] is None or any(c is None for c in row[at]):
                continue
            position = draw.rounded(row[at])
            out["vertices"].append(
                {
                    "id": f"{collection.name}:{n}",
                    "collection": collection.name,
                    "position": position,
                }
            )
            if primary is None and (valid is None or row[valid]):
                primary = position
    return primary or [0.0, 0.0, 0.0]


def _extras_path(
    extra: list[Any], columns: tuple[str, ...]
) -> list[tuple[float, float, float]] | None:
    row = dict(zip(columns, extra, strict=True))
    parts = [row.get(k) for k in ("pos_1", "dir_1", "pos_2", "dir_2")]
    if any(p is None or any(c is None for c in p) for p in parts):
        return None
    return draw.bezier(*parts)  # type: ignore[arg-type]


def _draw_paths(
    document: IgDocument,
    collections: dict[str, list[dict[str, Any]]],
    vertex: list[float],
    out: dict[str, Any],
) -> None:
    extras = document.first("Extras")
    points = document.first("Points")
    for collection in document.collections:
        objects = collections.get(collection.name)
        if not objects:
            continue
        species = objects[0]["type"]
        key = {
            "track": "tracks",
            "muon": "muons",
            "electron": "electrons",
            "photon": "photons",
        }.get(species)
        if key is None:
            continue
        curves: dict[int, list[int]] = {}
        if extras is not None:
            for association in document.associations.values():
                curves.update(document.linked(base_name(association.name), collection, extras))
        hits: dict[int, list[int]] = {}
        if points is not None and species == "muon":
            for association in document.associations.values():
                hits.update(document.linked(base_name(association.name), collection, points))
        for o in objects:
            n = int(o["id"].rsplit(":", 1)[1])
            drawn: list[Any] | None = None
            if n in hits and points is not None:
                at = points.index("pos")
                drawn = [
                    points.rows[i][at]
                    for i in hits[n]
                    if at is not None and points.rows[i][at] is not None
                ]
                drawn = [p for p in drawn if all(c is not None for c in p)]
                if len(drawn) < 2:
                    drawn = None
            if drawn is None and n in curves and extras is not None:
                drawn = []
                for i in curves[n]:
                    piece = _extras_path(extras.rows[i], extras.columns)
                    if piece:
                        drawn.extend(piece)
                drawn = drawn or None
            if drawn is None:
                drawn = _from_momentum(o, species, vertex)
            if drawn:
                out[key].append(
                    {"id": o["id"], "collection": collection.name, "points": draw.path(drawn)}
                )


def _from_momentum(o: dict[str, Any], species: str, vertex: list[float]) -> list[Any] | None:
    """A path from the object's momentum when the file gives no points: a helix (muons on
    to the muon system), photons straight to the calorimeter."""
    start = o.get("vertex") or vertex
    if species == "photon":  # iSpy's photon "pos" is its vertex: a line on to the ECAL
        return draw.photon_line(start, None, o["eta"], o["phi"])
    charge = o.get("charge") or 0
    if o["pt"] <= 0:
        return None
    try:
        if species == "muon":
            return muon_path(o["pt"], o["eta"], o["phi"], charge, start)
        reach = (
            (cms.ECAL_RADIUS, cms.ECAL_HALF_LENGTH)
            if species == "electron"
            else (cms.TRACKER_RADIUS, cms.TRACKER_HALF_LENGTH)
        )
        return helix(o["pt"], o["eta"], o["phi"], charge, start, r_max=reach[0], z_max=reach[1])
    except ValueError:  # a vertex outside the detector: nothing sensible to draw
        return None


def _draw_calorimeter(document: IgDocument, out: dict[str, Any]) -> None:
    hits = []
    for collection in document.collections:
        detector = _HITS.get(base_name(collection.name))
        if detector is None or not collection.has("energy", "eta", "phi", *_FRONT, *_BACK):
            continue
        idx = [collection.index(c) for c in ("energy", "eta", "phi", *_FRONT, *_BACK)]
        for row in collection.rows:
            values = [row[i] for i in idx]  # type: ignore[index]
            energy, eta, phi = values[:3]
            if energy is None or eta is None or phi is None or any(p is None for p in values[3:]):
                continue
            hits.append(
                (
                    collection.name,
                    detector,
                    float(energy),
                    float(eta),
                    float(phi),
                    values[3:7],
                    values[7:11],
                )
            )
    drawn, dropped = draw.towers(hits)
    out["towers"] = drawn
    if dropped["below_threshold"] or dropped["over_count"]:
        out["dropped"]["towers"] = dropped


def _draw_chambers(document: IgDocument, out: dict[str, Any]) -> None:
    for collection in document.by_base("MuonChambers"):
        if not collection.has(*_FRONT, *_BACK):
            continue
        idx = [collection.index(c) for c in (*_FRONT, *_BACK)]
        for row in collection.rows:
            corners = [row[i] for i in idx]  # type: ignore[index]
            if all(c is not None and all(x is not None for x in c) for c in corners):
                out["chambers"].append(
                    {"collection": collection.name, "corners": [draw.rounded(c) for c in corners]}
                )
