"""File serving and checksum throughput of OpenHEP, against nginx and XRootD on the same file.

What it measures, in one run, on one ≈ 1 GiB ROOT file:

* downloads: ``--clients`` (default 4) concurrent ``curl`` downloads of the whole file, the
  wall time from the first start to the last finish, as MB/s (10^6 bytes) of all clients
  together, from
  - ``openhep``: ``openhep serve --workers N`` at ``/eos/opendata/<path>`` (the path of the
    file's ``root://eospublic.cern.ch//eos/opendata/<path>`` URI), the file in the instance's
    store at ``eos/opendata/<path>`` and in a record ingested with ``openhep ingest``;
  - ``nginx`` (the named baseline): Debian's nginx, ``worker_processes N``, ``sendfile on``;
  - ``xrdcp``: the same number of concurrent ``xrdcp`` copies to /dev/null from a local
    ``xrootd`` (Debian's xrootd-server, the protocol of CERN's EOS), for scale.
  The three serve the same inode (hard links), so the page cache is shared and warm for all
  (an untimed download from each comes first). Rounds rotate the servers' order; each figure
  is the median of ``--repeat`` rounds. ``openhep_vs_nginx`` is the ratio of the medians.
  ``server_cpu_s_per_gb`` is the CPU time each server's process tree spent per GB sent
  (curl clients and servers share the machine's cores, so MB/s moves with other load on the
  machine; CPU per GB moves much less).
* checksums: adler32 over the whole file, GB/s (10^9 bytes), median of ``--repeat`` runs:
  - ``openhep_local``: the fixity path (``store.open`` → ``read_chunks`` →
    ``Digester(sha256=False)``) on the local store;
  - ``openhep_xrootd``: the same through ``XRootDStore`` from the XRootD server;
  - ``zlib_readinto`` (the named baseline): ``zlib.adler32`` over unbuffered 8 MiB
    ``readinto`` calls into one reused buffer (the least Python can do per byte);
  - ``zlib_mmap``: one ``zlib.adler32`` call over the mmapped file (page faults instead of
    copies);
  - ``xrootd_server``: ``xrdfs query checksum`` (the server computes adler32, as EOS does);
  - ``openhep_fixity_cli``: the first ``openhep fixity`` (which reads the file, checks it
    against the record and registers it as served), once, process start included.

The file is built from real data only: the 2,304 real CMS 2010 dimuon events of
``cms-samples/uproot-Zmumu.root`` (run 148031; every numeric branch — the ``Type`` string
branch is left out) repeated until the file reaches ``--size-mib``, written uncompressed with
uproot as the TTree ``events``. The JSON line says so under ``volume``.

Targets: ``openhep_vs_nginx`` ≥ 0.8; ``checksum_gb_s.openhep_local`` ≥ 1 GB/s.

Before timing, OpenHEP must answer ``HEAD`` with 200 and a ``Range`` GET with 206 and the right
bytes at both ``/eos/opendata/<path>`` and ``/record/<recid>/files/<key>``; if it does not, its
downloads are left out and ``problems.openhep`` says why.

Everything happens in a temporary directory; every server is started here and ended (with
its process group) at the end, also on error or Ctrl-C. Progress goes to stderr, one JSON
line to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mmap
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    READY,
    REPO_ROOT,
    OtherLoad,
    add_record_option,
    first_paragraph,
    machine,
    nginx_server,
    openhep_env,
    openhep_server,
    progress,
    source_tree,
    tree_cpu_seconds,
    write_result,
)

MiB = 1 << 20
SOURCE = "cms-samples/uproot-Zmumu.root"
STORE_DIR = "eos/opendata/cms/openhep-bench"
URI_PREFIX = "root://eospublic.cern.ch//"
RECID = "990001"


note = progress("files")


# -- the file ---------------------------------------------------------------------------------


def build_file(anchors: Path, target: Path, size: int) -> dict[str, Any]:
    """Repeat the real events of ``SOURCE`` into an uncompressed ROOT file of ≥ ``size`` bytes."""
    import numpy as np
    import uproot

    with uproot.open(anchors / SOURCE) as source:
        tree = source["events"]
        names = [
            name
            for name, branch in tree.items()
            if branch.typename in {"double", "int32_t", "float", "int64_t"}
        ]
        events = tree.arrays(names, library="np")
    entries = len(events[names[0]])
    bytes_per_event = sum(events[n].dtype.itemsize for n in names)
    # Whole repeats of the sample, enough for ``size`` bytes of event data (plus ROOT's headers).
    repeats = -(-size // (entries * bytes_per_event))
    per_basket = max(1, (64 * MiB) // (entries * bytes_per_event))
    with uproot.recreate(target, compression=None) as out:
        out.mktree("events", {n: events[n].dtype for n in names})
        written = 0
        while written < repeats:
            count = min(per_basket, repeats - written)
            out["events"].extend({n: np.tile(events[n], count) for n in names})
            written += count
    return {
        "file": "ROOT (uproot, uncompressed), TTree events",
        "bytes": target.stat().st_size,
        "built_from": f"{SOURCE}: 2,304 real CMS 2010 dimuon events (run 148031)",
        "branches": len(names),
        "left_out": "Type (a string branch)",
        "repeats": repeats,
        "events": repeats * entries,
    }


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    for parent in [target, *target.parents]:
        if parent == Path("/tmp") or parent == Path("/"):
            break
        parent.chmod(0o755 if parent.is_dir() else 0o644)


# -- servers ----------------------------------------------------------------------------------


def run_cli(argv: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/files: {what} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def bench_record(name: str, size: int, adler32: str, volume: dict[str, Any]) -> dict[str, Any]:
    """A record of its own for the bench file (not one of CODP's: its bytes are new)."""
    return {
        "recid": RECID,
        "title": (
            f"OpenHEP file-serving benchmark: {volume['events']:,} events, the 2,304 real CMS "
            f"2010 dimuon events of run 148031 repeated {volume['repeats']:,} times"
        ),
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": str(datetime.now(UTC).year),
        "publisher": "OpenHEP",
        "files": [
            {
                "uri": f"{URI_PREFIX}{STORE_DIR}/{name}",
                "size": size,
                "checksum": adler32,
                "key": name,
            }
        ],
    }


# -- measurements -----------------------------------------------------------------------------


def downloads(
    argv_for: Callable[[int], list[str]], clients: int, size: int, server_pid: int
) -> tuple[float, float]:
    """MB/s of ``clients`` concurrent downloads of the whole file (first start to last end),
    and the CPU seconds the server's process tree spent per GB sent."""
    cpu = tree_cpu_seconds(server_pid)
    started = time.perf_counter()
    argvs = [argv_for(i) for i in range(clients)]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    outputs = [proc.communicate() for proc in procs]
    wall = time.perf_counter() - started
    cpu = tree_cpu_seconds(server_pid) - cpu
    for argv, proc, (out, err) in zip(argvs, procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {err[-500:]}")
        if out.strip() and out.split() != ["200", str(size)]:
            raise RuntimeError(f"{' '.join(argv)}: expected 200 and {size} bytes, got {out}")
    return clients * size / wall / 1e6, cpu / (clients * size / 1e9)


def tool_version(argv: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        lines = (done.stdout + done.stderr).strip().splitlines()
        return " ".join(lines[0].split()[:3]) if lines else ""
    return ""


def curl(url: str) -> Callable[[int], list[str]]:
    return lambda _: ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url]


def xrdcp(url: str) -> Callable[[int], list[str]]:
    return lambda _: ["xrdcp", "-f", "-s", url, "/dev/null"]


def gbps(size: int, run: Callable[[], str], expected: str, repeat: int) -> float:
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - started)
        if found != expected:
            raise RuntimeError(f"adler32 {found}, expected {expected}")
    return round(size / statistics.median(times) / 1e9, 2)


def fixity_path(store: Any, path: str) -> Callable[[], str]:
    from openhep.storage import Digester, read_chunks

    def run() -> str:
        digester = Digester(sha256=False)
        with store.open(path) as reader:
            for chunk in read_chunks(reader):
                digester.update(chunk)
        return digester.digests().adler32

    return run


def zlib_mmap(path: Path) -> Callable[[], str]:
    def run() -> str:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return f"adler32:{zlib.adler32(mapped) & 0xFFFFFFFF:08x}"

    return run


def zlib_readinto(path: Path) -> Callable[[], str]:
    def run() -> str:
        buffer = bytearray(8 * MiB)
        view = memoryview(buffer)
        adler = 1
        with path.open("rb", buffering=0) as fh:
            while count := fh.readinto(buffer):
                adler = zlib.adler32(view[:count], adler)
        return f"adler32:{adler & 0xFFFFFFFF:08x}"

    return run


def xrootd_query(url: str, remote: str) -> Callable[[], str]:
    def run() -> str:
        done = subprocess.run(
            ["xrdfs", url, "query", "checksum", remote],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        kind, value = done.stdout.split()[:2]
        return f"{kind}:{value}"

    return run


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=first_paragraph(__doc__))
    parser.add_argument(
        "--anchors",
        type=Path,
        default=REPO_ROOT / "data",
        help="the real data the repository carries (default data/)",
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent downloads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="openhep/nginx workers (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, median reported (default 5)")
    add_record_option(parser, "files")
    args = parser.parse_args(argv)
    if not (args.anchors / SOURCE).is_file():
        raise SystemExit(f"bench/files: {args.anchors / SOURCE} not found (see --anchors)")
    for tool in ("curl", "xrdcp", "xrdfs"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/files: {tool} not found; run scripts/system-deps.sh")

    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from _services.xrootd import XRootDServer
    from openhep.storage import LocalStore
    from openhep.storage._xrootd import XRootDStore

    bench_started = time.perf_counter()
    load_start = os.getloadavg()[0]
    other = OtherLoad()
    work = Path(tempfile.mkdtemp(prefix="openhep-bench-files-", dir="/tmp"))
    work.chmod(0o755)
    servers: list[Any] = []
    xrootd = XRootDServer()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        name = f"Zmumu_x{args.size_mib}MiB.root"
        built = work / "src" / name
        built.parent.mkdir()
        note(f"building a {args.size_mib} MiB ROOT file from {SOURCE} with uproot")
        volume = build_file(args.anchors, built, args.size_mib * MiB)
        size = volume["bytes"]
        built.chmod(0o644)

        # The same inode behind all three servers.
        store_path = f"{STORE_DIR}/{name}"
        home = work / "openhep-home"
        link_or_copy(built, home / "files" / store_path)
        link_or_copy(built, work / "nginx-root" / store_path)
        xrootd.start()
        link_or_copy(built, xrootd.data_dir / store_path)

        note("adler32: zlib over the file (baselines), then the store's fixity path")
        expected = zlib_mmap(built)()
        checksum = {
            "zlib_readinto": gbps(size, zlib_readinto(built), expected, args.repeat),
            "zlib_mmap": gbps(size, zlib_mmap(built), expected, args.repeat),
            "openhep_local": gbps(
                size, fixity_path(LocalStore(home / "files"), store_path), expected, args.repeat
            ),
        }
        remote = XRootDStore(f"{xrootd.url}//")
        try:
            checksum["openhep_xrootd"] = gbps(
                size, fixity_path(remote, store_path), expected, args.repeat
            )
        finally:
            remote.close()
        checksum["xrootd_server"] = gbps(
            size, xrootd_query(xrootd.url, f"/{store_path}"), expected, 1
        )

        env = openhep_env(home)
        cli = [sys.executable, "-m", "openhep"]
        record = work / "record.json"
        record.write_text(json.dumps([bench_record(name, size, expected, volume)]))
        run_cli([*cli, "ingest", str(record)], env, "openhep ingest")
        started = time.perf_counter()
        fixity = run_cli([*cli, "fixity", "--json"], env, "openhep fixity")
        checksum["openhep_fixity_cli"] = round(size / (time.perf_counter() - started) / 1e9, 2)
        note(f"checksums (GB/s): {checksum}; fixity: {fixity.stdout.strip()[:300]}")

        # No access log (openhep_server's): the baselines log nothing either.
        openhep = openhep_server("openhep", home, work / "openhep.log", args.workers)
        servers.append(openhep)
        # A small page to tell when nginx is up (the file itself is a GiB).
        (work / "nginx-root" / "index.html").write_text("bench/files\n", encoding="utf-8")
        nginx = nginx_server(
            work,
            work / "nginx-root",
            args.workers,
            worker_connections=256,
            http="default_type application/octet-stream;",
        )
        servers.append(nginx)
        openhep.wait_ready(READY)
        nginx.wait_ready("/")
        openhep_base, nginx_base = openhep.base, nginx.base

        targets: dict[str, Callable[[int], list[str]]] = {
            "nginx": curl(f"{nginx_base}/{store_path}"),
            "openhep": curl(f"{openhep_base}/{store_path}"),
            "xrdcp": xrdcp(f"{xrootd.url}//{store_path}"),
        }
        pids = {"nginx": nginx.proc.pid, "openhep": openhep.proc.pid, "xrdcp": xrootd.pid}
        problems: dict[str, str] = {}
        served = check_openhep(openhep_base, store_path, name, built)
        if served is not None:
            problems["openhep"] = served
            del targets["openhep"]
        note(f"warm-up: one download from each of {', '.join(targets)}")
        for what, argv_for in targets.items():
            downloads(argv_for, 1, size, pids[what])
        rates: dict[str, list[float]] = {what: [] for what in targets}
        cpu_per_gb: dict[str, list[float]] = {what: [] for what in targets}
        order = list(targets)
        for round_ in range(args.repeat):
            for what in order[round_ % len(order) :] + order[: round_ % len(order)]:
                rate, cpu = downloads(targets[what], args.clients, size, pids[what])
                rates[what].append(rate)
                cpu_per_gb[what].append(cpu)
                note(f"round {round_ + 1}: {what} {rate:,.0f} MB/s, {cpu:.2f} CPU s/GB")
        download = {what: round(statistics.median(found)) for what, found in rates.items()}
        server_cpu = {w: round(statistics.median(found), 3) for w, found in cpu_per_gb.items()}
        ratio = round(download["openhep"] / download["nginx"], 3) if "openhep" in download else None
        result = {
            "bench": "files",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "volume": volume,
            "download_mb_s": download,
            "download_rounds_mb_s": {w: [round(r) for r in found] for w, found in rates.items()},
            "server_cpu_s_per_gb": server_cpu,
            "clients": args.clients,
            "workers": args.workers,
            "baseline": "nginx (sendfile) serving the same inode; xrdcp from xrootd for scale",
            "openhep_vs_nginx": ratio,
            "checksum_gb_s": checksum,
            "checksum_baseline": (
                "zlib_readinto: zlib.adler32 over 8 MiB readinto() of the file, one reused buffer"
            ),
            "targets": {
                "openhep_vs_nginx_min": 0.8,
                "openhep_vs_nginx_met": ratio is not None and ratio >= 0.8,
                "checksum_gb_s_min": 1.0,
                "checksum_met": checksum["openhep_local"] >= 1.0,
            },
            "problems": problems,
            "code": source_tree(None),
            "machine": machine(load_start)
            | {
                "tools": {
                    "nginx": tool_version(["nginx", "-v"]),
                    "curl": tool_version(["curl", "--version"]),
                    "xrootd": tool_version(["xrootd", "-v"]),
                },
            },
            "other_cpu_cores": other.cores(),
            "seconds": round(time.perf_counter() - bench_started),
        }
        write_result(result, save=not args.no_record)
    finally:
        for server in servers:
            server.close()
        xrootd.stop()
        shutil.rmtree(work, ignore_errors=True)


def check_openhep(base: str, store_path: str, key: str, built: Path) -> str | None:
    """None if OpenHEP serves the file (both routes, ranges right); else what is wrong."""
    with httpx.Client(base_url=base, timeout=60) as client:
        head = client.head(f"/{store_path}")
        if head.status_code != 200:
            return f"HEAD /{store_path}: {head.status_code} {head.text[:200]}"
        with built.open("rb") as fh:
            fh.seek(123_456_789 % built.stat().st_size)
            expected = fh.read(MiB)
        start = 123_456_789 % built.stat().st_size
        for target in (f"/{store_path}", f"/record/{RECID}/files/{key}"):
            got = client.get(target, headers={"Range": f"bytes={start}-{start + MiB - 1}"})
            if got.status_code != 206 or got.content != expected:
                return f"GET {target} with Range: {got.status_code}, {len(got.content)} bytes"
    return None


if __name__ == "__main__":
    main()
