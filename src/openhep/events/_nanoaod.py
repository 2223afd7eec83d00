"""NanoAOD rows → the event model: Muon, Electron, Photon, Tau, Jet (their ``pt``, ``eta``,
``phi``, ``mass``, ``charge`` branches) and MET of one entry of a ROOT file's ``Events``
(TTree or RNTuple), read with uproot in blocks of entries, the last blocks kept."""

from __future__ import annotations

import contextlib
import math
import threading
from collections import OrderedDict
from typing import Any

from openhep.events import _detector as cms
from openhep.events import _draw as draw
from openhep.events._errors import EventFileError, EventNotFound
from openhep.events._model import Event, EventId
from openhep.events._physics import helix, muon_path

#: Entries read at once: one basket of a NanoAOD branch holds hundreds to thousands of
#: entries, so reading one entry at a time would decompress the same basket again for each.
BLOCK_ENTRIES = 256
_KEPT_BLOCKS = 2
#: Seconds a remote read may wait on the network.
REMOTE_TIMEOUT = 60.0
#: The collections read, with their species, and the fields of each read when present.
SPECIES = {"Muon": "muon", "Electron": "electron", "Photon": "photon", "Tau": "tau", "Jet": "jet"}
FIELDS = ("pt", "eta", "phi", "mass", "charge")
_IDENTITY = ("run", "luminosityBlock", "event")
#: NanoAOD's primary vertex (centimetres).
_VERTEX = ("PV_x", "PV_y", "PV_z")
_CM = 0.01


class NanoAODSource:
    """An opened NanoAOD file's ``tree``."""

    kind = "nanoaod"

    def __init__(self, location: str, scheme: str, path: str, shown: str, tree: str) -> None:
        self._shown = shown
        self._lock = threading.Lock()
        self._blocks: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._file = _open_root(location, scheme, path, shown)
        try:
            self._tree = self._file[tree]
        except Exception:
            self.close()
            raise EventFileError(f"{shown}: no tree {tree[:100]!r} of NanoAOD events") from None
        try:
            names = set(self._tree.keys())
            self._entries = int(self._tree.num_entries)
        except Exception as exc:
            self.close()
            raise EventFileError(
                f"{shown}: {tree[:100]!r} cannot be read: {_reason(exc)}"
            ) from None
        self._species = {
            name: [f for f in FIELDS if f"{name}_{f}" in names]
            for name in SPECIES
            if all(f"{name}_{f}" in names for f in ("pt", "eta", "phi"))
        }
        self._met = all(f"MET_{f}" in names for f in ("pt", "phi"))
        self._identity = [b for b in _IDENTITY if b in names]
        self._vertex = all(b in names for b in _VERTEX)
        self._branches = [f"{n}_{f}" for n, fields in self._species.items() for f in fields]
        self._branches += ["MET_pt", "MET_phi"] if self._met else []
        self._branches += self._identity + (list(_VERTEX) if self._vertex else [])
        if not self._species and not self._met:
            self.close()
            raise EventFileError(
                f"{shown}: {tree[:100]!r} has no NanoAOD objects (no Muon_pt/eta/phi, Electron_…,"
                " Photon_…, Tau_…, Jet_… or MET_pt/MET_phi branches)"
            )

    def __len__(self) -> int:
        return self._entries

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._file.file.close()

    def ids(self, start: int, stop: int) -> list[EventId]:
        start, stop = max(0, start), min(self._entries, stop)
        return [EventId(i, *self._identity_of(self._row(i))) for i in range(start, stop)]

    def _identity_of(self, row: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
        found = [row.get(b) for b in _IDENTITY]
        return tuple(int(v) if isinstance(v, int) else None for v in found)  # type: ignore[return-value]

    def _row(self, index: int) -> dict[str, Any]:
        first = index - index % BLOCK_ENTRIES
        with self._lock:
            block = self._blocks.get(first)
            if block is not None:
                self._blocks.move_to_end(first)
                kept: dict[str, Any] = block[index - first]
                return kept
            try:
                arrays = self._tree.arrays(
                    self._branches,
                    entry_start=first,
                    entry_stop=min(self._entries, first + BLOCK_ENTRIES),
                    library="ak",
                )
                block = arrays.to_list()
            except Exception as exc:  # a damaged basket, a server gone
                raise EventFileError(
                    f"{self._shown}: entries {first}-{first + BLOCK_ENTRIES} cannot be read:"
                    f" {_reason(exc)}"
                ) from None
            self._blocks[first] = block
            while len(self._blocks) > _KEPT_BLOCKS:
                self._blocks.popitem(last=False)
        found: dict[str, Any] = block[index - first]
        return found

    def event(self, index: int) -> Event:
        if not 0 <= index < self._entries:
            raise EventNotFound(
                f"{self._shown}: no event {index}; it holds events 0 to {self._entries - 1}"
            )
        row = self._row(index)
        run, lumi, number = self._identity_of(row)
        vertex = [0.0, 0.0, 0.0]
        if self._vertex and all(_finite(row.get(b)) for b in _VERTEX):
            vertex = [float(row[b]) * _CM for b in _VERTEX]
        collections: dict[str, list[dict[str, Any]]] = {}
        out = draw.empty_draw()
        out["vertices"].append({"id": "PV:0", "collection": "PV", "position": draw.rounded(vertex)})
        skipped = 0
        for name, fields in self._species.items():
            columns = {f: row.get(f"{name}_{f}") or [] for f in fields}
            objects = []
            for n in range(len(columns["pt"])):
                found: dict[str, Any] = {"id": f"{name}:{n}", "type": SPECIES[name]}
                for f in fields:
                    value = columns[f][n] if n < len(columns[f]) else None
                    found[f] = value if _finite(value) else None
                if not all(_finite(found[k]) for k in ("pt", "eta", "phi")):
                    skipped += 1
                    continue
                found = {k: v for k, v in found.items() if v is not None}
                if found["type"] in ("jet", "photon"):
                    energy = draw.energy_of(found["pt"], found["eta"], found.get("mass", 0.0))
                    if energy is not None:
                        found["energy"] = energy
                objects.append(found)
                self._draw_object(found, name, vertex, out)
            collections[name] = objects
        if self._met and _finite(row.get("MET_pt")) and _finite(row.get("MET_phi")):
            met: dict[str, Any] = {
                "id": "MET:0",
                "type": "met",
                "pt": float(row["MET_pt"]),
                "eta": 0.0,
                "phi": float(row["MET_phi"]),
            }
            collections["MET"] = [met]
            out["met"].append(draw.met("MET:0", "MET", met["pt"], met["phi"]))
        if skipped:
            out["dropped"]["objects_without_pt_eta_phi"] = skipped
        return Event(run, lumi, number, collections, out)

    @staticmethod
    def _draw_object(
        o: dict[str, Any], name: str, vertex: list[float], out: dict[str, Any]
    ) -> None:
        species = o["type"]
        charge = o.get("charge", 0)
        if o["pt"] <= 0:
            return
        try:
            if species == "muon":
                points = muon_path(o["pt"], o["eta"], o["phi"], charge, vertex)
                out["muons"].append(
                    {"id": o["id"], "collection": name, "points": draw.path(points)}
                )
            elif species == "electron":
                points = helix(
                    o["pt"],
                    o["eta"],
                    o["phi"],
                    charge,
                    vertex,
                    r_max=cms.ECAL_RADIUS,
                    z_max=cms.ECAL_HALF_LENGTH,
                )
                out["electrons"].append(
                    {"id": o["id"], "collection": name, "points": draw.path(points)}
                )
            elif species == "photon":
                line = draw.photon_line(vertex, None, o["eta"], o["phi"])
                out["photons"].append({"id": o["id"], "collection": name, "points": line})
            elif species == "tau" and charge:
                points = helix(o["pt"], o["eta"], o["phi"], charge, vertex)
                out["tracks"].append(
                    {"id": o["id"], "collection": name, "points": draw.path(points)}
                )
            elif species == "jet":
                energy = o.get("energy", o["pt"])
                out["jets"].append(draw.jet(o["id"], name, o["eta"], o["phi"], energy))
        except ValueError:  # a vertex outside the detector: not drawn
            return


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _open_root(location: str, scheme: str, path: str, shown: str) -> Any:
    """The ROOT file with each scheme's own uproot source (as openhep.analysis reads)."""
    from pathlib import Path

    import uproot
    import uproot.source.file
    import uproot.source.http
    import uproot.source.xrootd

    if scheme in ("", "file"):
        if not Path(path).is_file():
            raise EventFileError(f"{shown}: no such file")
        target, options = path, {"handler": uproot.source.file.MemmapSource}
    elif scheme == "root":
        target = location
        options = {"handler": uproot.source.xrootd.XRootDSource, "timeout": REMOTE_TIMEOUT}
    else:
        target = location
        options = {"handler": uproot.source.http.HTTPSource, "timeout": REMOTE_TIMEOUT}
    try:
        return uproot.open({target: None}, array_cache=None, **options)
    except Exception as exc:  # not ROOT, truncated, refused by the server
        raise EventFileError(f"{shown}: not a readable ROOT file: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
