"""The real CMS samples of ``data/cms-samples/`` read whole with uproot, and their columns as
the expression compiler sees them (for the expression tests; no openhep reader involved)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import awkward as ak
import uproot

from openhep.analysis import Column

DOUBLE_MU = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"  # RNTuple Events
NANO_DIMUON = "nano_dimuon.root"  # TTree Events, full NanoAOD of 2018
ZMUMU = "uproot-Zmumu.root"  # TTree events, the education format (E1, px1, ..., M)
HZZ = "uproot-HZZ.root"  # TTree events, Muon_Px, Muon_Py, Muon_Pz, Muon_E

TREES = {DOUBLE_MU: "Events", NANO_DIMUON: "Events", ZMUMU: "events", HZZ: "events"}


@cache
def events(anchors: Path, name: str) -> ak.Array:
    """Every column of one sample (under the `anchors` fixture) that is numbers or lists of
    numbers, all events."""
    with uproot.open(anchors / "cms-samples" / name) as file:
        arrays = file[TREES[name]].arrays()
    keep = [field for field in arrays.fields if column_of(arrays[field]) is not None]
    return arrays[keep]


def column_of(array: ak.Array) -> tuple[bool, str] | None:
    """(jagged, kind) of one column, None for what the language does not take (strings,
    lists of lists)."""
    layout = array.layout
    lists = 0
    while not isinstance(layout, ak.contents.NumpyArray):
        if isinstance(layout, ak.contents.RecordArray | ak.contents.UnionArray):
            return None
        if isinstance(
            layout, ak.contents.ListOffsetArray | ak.contents.ListArray | ak.contents.RegularArray
        ):
            if layout.parameter("__array__") in ("string", "bytestring"):
                return None
            lists += 1
        layout = layout.content
    if lists > 1 or len(layout.inner_shape) > 0:
        return None
    kind = {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(layout.dtype.kind)
    if kind is None:
        return None
    return lists == 1, kind


@cache
def columns(anchors: Path, name: str) -> dict[str, Column]:
    arrays = events(anchors, name)
    out: dict[str, Column] = {}
    for field in arrays.fields:
        found = column_of(arrays[field])
        assert found is not None
        jagged, kind = found
        out[field] = Column(field, jagged, kind)
    return out
