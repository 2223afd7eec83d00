"""Validated runs (CMS "golden JSON"): parsed strictly, applied as a mask on run/lumi."""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from openhep.analysis._errors import AnalysisError

#: The largest golden JSON text accepted (CMS's Run 2 files are under 100 KiB).
MAX_VALIDATED_RUNS_BYTES = 8 << 20
#: Runs and luminosity-section ranges it may hold in all (Run 2's whole golden JSON: ~ 800
#: runs, ~ 6,000 ranges).
MAX_RUNS = 100_000
MAX_RANGES = 1_000_000
#: Run and luminosity-block numbers are ``UInt_t`` in CMS files.
MAX_NUMBER = 2**32 - 1
#: The branches a validated-runs filter reads.
RUN_BRANCH = "run"
LUMI_BRANCH = "luminosityBlock"

Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ValidatedRuns:
    """The luminosity sections certified good: ``runs`` pairs each run with its sorted,
    disjoint, inclusive ``(first, last)`` luminosity-section ranges (overlaps merged)."""

    runs: tuple[tuple[int, Ranges], ...]

    @classmethod
    def parse(cls, value: object) -> ValidatedRuns:
        """A golden JSON as text, bytes or an already-decoded object:
        ``{"<run>": [[ls_from, ls_to], ...], ...}``. Anything else → AnalysisError."""
        if isinstance(value, bytes | bytearray):
            if len(value) > MAX_VALIDATED_RUNS_BYTES:
                raise _too_large()
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise AnalysisError("validated runs: not UTF-8 text") from None
        if isinstance(value, str):
            if len(value) > MAX_VALIDATED_RUNS_BYTES:
                raise _too_large()
            try:
                value = json.loads(value, object_pairs_hook=_no_duplicates)
            except AnalysisError:
                raise
            except (ValueError, RecursionError) as exc:
                detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise AnalysisError(f"validated runs: not JSON ({detail[:200]})") from None
        if isinstance(value, ValidatedRuns):
            return value
        if not isinstance(value, Mapping):
            raise AnalysisError(
                'validated runs: expected a JSON object {"<run>": [[first, last], ...]},'
                f" got {_kind(value)}"
            )
        if len(value) > MAX_RUNS:
            raise AnalysisError(f"validated runs: more than {MAX_RUNS:,} runs")
        runs: dict[int, Ranges] = {}
        total = 0
        for key, ranges in value.items():
            run = _run_number(key)
            if run in runs:
                raise AnalysisError(f"validated runs: run {run} is given twice")
            parsed = _ranges(run, ranges)
            total += len(parsed)
            if total > MAX_RANGES:
                raise AnalysisError(f"validated runs: more than {MAX_RANGES:,} ranges")
            runs[run] = _merged(parsed)
        return cls(tuple(sorted(runs.items())))

    def to_json(self) -> dict[str, list[list[int]]]:
        """The canonical golden JSON: runs in order, ranges merged and sorted."""
        return {str(run): [[a, b] for a, b in ranges] for run, ranges in self.runs}

    def mask(self, run: npt.ArrayLike, lumi: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """True for the events whose (run, luminosity block) lies in a certified range."""
        run_values = np.asarray(run)
        lumi_values = np.asarray(lumi)
        if run_values.shape != lumi_values.shape or run_values.ndim != 1:
            raise AnalysisError(
                f"validated runs: '{RUN_BRANCH}' and '{LUMI_BRANCH}' must give one number per event"
            )
        starts, stops = self._intervals()
        if len(starts) == 0:
            return np.zeros(len(run_values), dtype=np.bool_)
        inside = (
            (run_values >= 0)
            & (run_values <= MAX_NUMBER)
            & (lumi_values >= 0)
            & (lumi_values <= MAX_NUMBER)
        )
        # One key per event, (run << 32) | lumi, searched among the certified intervals
        # (sorted and disjoint): exact for every uint32 pair, in O(n log ranges).
        keys = (np.where(inside, run_values, 0).astype(np.uint64) << np.uint64(32)) | np.where(
            inside, lumi_values, 0
        ).astype(np.uint64)
        at = np.searchsorted(starts, keys, side="right") - 1
        found = at >= 0
        result = np.zeros(len(keys), dtype=np.bool_)
        result[found] = keys[found] <= stops[at[found]]
        return result & inside

    def _intervals(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        pairs = [(run << 32 | a, run << 32 | b) for run, ranges in self.runs for a, b in ranges]
        array = np.array(pairs, dtype=np.uint64).reshape(-1, 2)
        return array[:, 0], array[:, 1]

    def __len__(self) -> int:
        return len(self.runs)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise AnalysisError(f"validated runs: key {key[:20]!r} is given twice")
        found[key] = value
    return found


def _run_number(key: object) -> int:
    text = key if isinstance(key, str) else None
    if isinstance(key, int) and not isinstance(key, bool):
        text = str(key)
    if text is None or not (text.isascii() and text.isdigit() and len(text) <= 10):
        shown = repr(key)[:30]
        raise AnalysisError(
            f"validated runs: a run must be a whole number as a string, got {shown}"
        )
    run = int(text)
    if run > MAX_NUMBER:
        raise AnalysisError(f"validated runs: run {run} is above {MAX_NUMBER}")
    return run


def _ranges(run: int, value: object) -> list[tuple[int, int]]:
    if not isinstance(value, list | tuple):
        raise AnalysisError(
            f"validated runs: run {run}: expected a list of [first, last] luminosity-section"
            f" ranges, got {_kind(value)}"
        )
    if len(value) > MAX_RANGES:
        raise AnalysisError(f"validated runs: more than {MAX_RANGES:,} ranges")
    ranges = []
    for i, pair in enumerate(value):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        ):
            raise AnalysisError(
                f"validated runs: run {run}, range {i}: expected [first, last], two whole"
                f" numbers, got {_shown(pair)}"
            )
        first, last = pair
        if not 0 <= first <= last <= MAX_NUMBER:
            raise AnalysisError(
                f"validated runs: run {run}, range {i}: [{first}, {last}] needs"
                f" 0 <= first <= last <= {MAX_NUMBER}"
            )
        ranges.append((first, last))
    return ranges


def _merged(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _kind(value: object) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        tuple: "a list",
    }.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    # reprlib bounds depth and length: the value is whatever a user sent.
    return reprlib.repr(value)[:40]


def _too_large() -> AnalysisError:
    return AnalysisError(
        f"validated runs: larger than {MAX_VALIDATED_RUNS_BYTES >> 20} MiB of JSON"
    )
