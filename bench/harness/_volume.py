"""The measured volumes: the real CODP records, and ≥ 200,000 records grown from them and the
CMS 2016 skeleton stubs (nothing invented); an OpenHEP instance holding a volume."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.harness._records import read_records, record_files
from bench.harness._servers import openhep_cli, openhep_env, run_cli

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ANCHORS = Path("shared") / "anchors" / "codp-records"
#: ``../shared/anchors/codp-records`` beside the checkout (or beside a worktree's folder).
DEFAULT_ANCHORS = next(
    (p / ANCHORS for p in (REPO_ROOT.parent, REPO_ROOT.parent.parent) if (p / ANCHORS).is_dir()),
    REPO_ROOT.parent / ANCHORS,
)
# The real record that vouches for what the stubs lack: CMS simulation of the same 2016 UL
# campaign (its title, like every stub's, names ``UL16``), published in the same release.
REFERENCE_FILE = "cms-simulated-datasets-2016-pileup.json"
STUB_CAMPAIGN = "UL16"
GROW_TARGET = 200_000
RECID_STRIDE = 1_000_000
VOLUMES = ("real_7535", "grown_200k")


def add_anchors_option(parser: argparse.ArgumentParser) -> None:
    """``--anchors DIR``: where the real CODP record files are."""
    parser.add_argument(
        "--anchors",
        type=Path,
        default=DEFAULT_ANCHORS,
        help="directory of the real CODP record files, *.json or *.json.gz, with the "
        "_skeletons the 200k volume grows from (default: ../shared/anchors/codp-records)",
    )


@dataclass(frozen=True, slots=True)
class Inputs:
    """The record files each measurement reads, and how many records they hold."""

    real: list[Path]
    real_records: int
    stub_records: int
    grow_dir: Path | None = None
    grow_records: int = 0
    grow_copies: int = 0
    at_200k_dirs: tuple[Path, ...] = ()
    completion: dict[str, Any] | None = None


def _reference(anchors: Path) -> Path:
    for name in (REFERENCE_FILE, REFERENCE_FILE + ".gz"):
        if (anchors / name).is_file():
            return anchors / name
    raise SystemExit(
        f"bench: {anchors / REFERENCE_FILE} not found; the stubs are completed from it (--anchors)"
    )


def stub_completion(anchors: Path) -> dict[str, Any]:
    """The fields a 2016 CMS simulated-dataset stub lacks, as the real records state them.

    type, experiment and publisher are what the stubs' files say (``cms-simulated-datasets``
    of the CERN Open Data Portal); collision energy/type and the publication date are read from
    the real records of the same campaign and must agree among them, or the bench refuses.
    """
    source = _reference(anchors)
    stated: dict[str, Any] = {
        "type": {"primary": "Dataset", "secondary": ["Simulated"]},
        "experiment": ["CMS"],
        "publisher": "CERN Open Data Portal",
    }
    references = [
        r
        for r in read_records(source)
        if r.get("type") == stated["type"]
        and r.get("experiment") == stated["experiment"]
        and STUB_CAMPAIGN in r.get("title", "")
        and "2016" in (r.get("date_created") or [])
    ]
    if not references:
        raise SystemExit(f"bench: no CMS 2016 {STUB_CAMPAIGN} simulated record in {source}")
    for key in ("publisher", "collision_information", "date_published"):
        values = {orjson.dumps(r.get(key)) for r in references}
        if len(values) != 1 or references[0].get(key) is None:
            raise SystemExit(f"bench: {source}: records disagree on (or lack) {key}")
    if references[0]["publisher"] != stated["publisher"]:
        raise SystemExit(f"bench: {source}: unexpected publisher")
    return stated | {
        "collision_information": references[0]["collision_information"],
        "date_published": references[0]["date_published"],
    }


def shifted(record: dict[str, Any], copy: int) -> dict[str, Any]:
    """Copy ``copy`` of a record: recid + copy * 1,000,000, and no DOI (DOIs are unique)."""
    if copy == 0:
        return record
    moved = {k: v for k, v in record.items() if k != "doi"}
    moved["recid"] = str(int(record["recid"]) + copy * RECID_STRIDE)
    return moved


def write_copies(
    sources: Sequence[tuple[str, list[dict[str, Any]]]], copies: Sequence[int], out: Path
) -> int:
    """Write every source file's records once per copy (same file sizes as CODP's files)."""
    out.mkdir(parents=True)
    written = 0
    for copy in copies:
        for name, recs in sources:
            name = name.removesuffix(".gz")
            (out / f"copy{copy:02d}-{name}").write_bytes(
                orjson.dumps([shifted(r, copy) for r in recs])
            )
            written += len(recs)
    return written


def build_inputs(anchors: Path, work: Path, *, grow: bool, at_200k_runs: int = 0) -> Inputs:
    """The real record files of ``anchors``; with ``grow``, the ≥ 200,000-record volume
    written under ``work`` (and ``at_200k_runs`` further copies of the real records)."""
    if not anchors.is_dir():
        raise SystemExit(f"bench: {anchors} is not a directory (--anchors)")
    real = record_files([anchors])
    real_sources = [(p.name, read_records(p)) for p in real]
    real_records = sum(len(recs) for _, recs in real_sources)
    stub_files = record_files([anchors / "_skeletons"]) if (anchors / "_skeletons").is_dir() else []
    stubs = [(p.name, read_records(p)) for p in stub_files]
    stub_records = sum(len(recs) for _, recs in stubs)
    if not grow:
        return Inputs(real, real_records, stub_records)
    if not stubs:
        raise SystemExit(
            f"bench: {anchors / '_skeletons'} holds no skeleton stubs; the 200k volume grows "
            "from them (--anchors ../shared/anchors/codp-records)"
        )

    completion = stub_completion(anchors)
    for name, recs in stubs:
        for stub in recs:
            if set(stub) != {"recid", "doi", "title"} or STUB_CAMPAIGN not in stub["title"]:
                raise SystemExit(f"bench: {name}: recid {stub.get('recid')} is no stub")
    completed = [(name, [s | completion for s in recs]) for name, recs in stubs]
    per_copy = real_records + stub_records
    copies = -(-GROW_TARGET // per_copy)
    grow_dir = work / "grow"
    grow_records = write_copies(real_sources + completed, range(copies), grow_dir)
    at_dirs = tuple(work / f"at200k-{i}" for i in range(at_200k_runs))
    for i, directory in enumerate(at_dirs):
        write_copies(real_sources, [copies + i], directory)
    return Inputs(
        real, real_records, stub_records, grow_dir, grow_records, copies, at_dirs, completion
    )


def describe_volume(inputs: Inputs) -> str:
    """How the growth volume was built, in one sentence for the JSON line."""
    if inputs.grow_dir is None or inputs.completion is None:
        return f"the {inputs.real_records:,} real CODP records ({len(inputs.real)} files)"
    files = sum(1 for _ in inputs.grow_dir.iterdir())
    return (
        f"{inputs.grow_copies} copies of the {inputs.real_records:,} real CODP records and the "
        f"{inputs.stub_records:,} CMS 2016 simulated-dataset skeleton stubs {{recid, doi, title}}, "
        f"completed with {', '.join(sorted(inputs.completion))} as their source files and the real "
        f"UL16 record in {REFERENCE_FILE} state them; copy k has recid + k*{RECID_STRIDE:,} and "
        f"no doi; {inputs.grow_records:,} records in {files:,} files, nothing invented"
    )


@dataclass(slots=True)
class Volume:
    """The record files of one measured volume, and what the bench built from them."""

    name: str
    paths: list[Path]
    records: int = 0
    recids: list[int] = field(default_factory=list)
    setup_seconds: dict[str, float] = field(default_factory=dict)


def volumes_of(inputs: Inputs) -> dict[str, Volume]:
    """The volumes ``inputs`` hold, by name (``grown_200k`` only if it was grown)."""
    found = {"real_7535": Volume("real_7535", list(inputs.real))}
    if inputs.grow_dir is not None:
        found["grown_200k"] = Volume("grown_200k", sorted(inputs.grow_dir.iterdir()))
    return found


def build_openhep(volume: Volume, home: Path, src: Path | None = None) -> None:
    """``openhep ingest`` the volume's files into a fresh home, then ``openhep reindex``
    (both with the code of ``src`` when given)."""
    env = openhep_env(home, src)
    cli = openhep_cli()
    volume.setup_seconds["openhep_ingest"] = run_cli(
        [*cli, "ingest", *map(str, volume.paths), "--batch-size", "10000"], env, "openhep ingest"
    )
    volume.setup_seconds["openhep_reindex"] = run_cli([*cli, "reindex"], env, "openhep reindex")
