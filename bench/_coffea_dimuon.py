"""bench/analysis.py's baseline (b): the dimuon-mass histogram as a coffea processor over
NanoEvents. A module of its own so that coffea is imported only when it runs and its worker
processes find the processor and the schema by name."""

from __future__ import annotations

import warnings
from typing import Any

import awkward as ak
import hist
from coffea import processor
from coffea.nanoevents import NanoAODSchema

# The files hold the real events' muons only; the samples have no run/luminosityBlock/event
# branches, and inventing them is not an option: coffea is told to carry on without them.
warnings.filterwarnings("ignore", message="Missing event_ids", category=RuntimeWarning)


class MuonsOnlySchema(NanoAODSchema):  # type: ignore[misc]
    """NanoAODSchema for files without the event-ID branches."""

    error_missing_event_ids = False
    warn_missing_crossrefs = False  # no Jet, Electron… to point at: the file is muons only


class DimuonMass(processor.ProcessorABC):  # type: ignore[misc]
    """The opposite-charge dimuon mass of events with exactly two muons, 120 bins 0-120."""

    def __init__(self, bins: int, lo: float, hi: float) -> None:
        self.axis = (bins, lo, hi)

    def process(self, events: Any) -> dict[str, Any]:
        muons = events.Muon[ak.num(events.Muon) == 2]
        opposite = muons[:, 0].charge != muons[:, 1].charge
        histogram: Any = hist.Hist(hist.axis.Regular(*self.axis, name="mass"))
        histogram.fill(mass=ak.to_numpy((muons[:, 0] + muons[:, 1])[opposite].mass))
        return {"mass": histogram, "events": len(events)}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def run(path: str, tree: str, step: int, workers: int, bins: int, lo: float, hi: float) -> Any:
    """coffea's Runner over one file: the IterativeExecutor (this process) for 1 worker, the
    FuturesExecutor (a process pool) for more; the merged accumulator."""
    executor = (
        processor.IterativeExecutor(status=False)
        if workers == 1
        else processor.FuturesExecutor(workers=workers, status=False)
    )
    runner = processor.Runner(executor=executor, schema=MuonsOnlySchema, chunksize=step)
    return runner(
        {"DoubleMuParked": [path]}, processor_instance=DimuonMass(bins, lo, hi), treename=tree
    )
