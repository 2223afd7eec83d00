"""``openhep serve --workers N``: workers share one index directory and start cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from _services.processes import alive, children, serving_pid, worker_pids
from _services.serve import openhep_env, run_openhep, run_serve, serving


def test_several_workers_build_a_missing_index_and_see_new_records(
    codp_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    log = tmp_path / "serve.log"
    with (
        serving(home, log, "--workers", "2") as url,
        httpx.Client(trust_env=False, timeout=10.0) as http,
    ):
        # Ask more often than there are workers: every worker answers from the index.
        totals = {http.get(f"{url}/api/records/").json()["hits"]["total"] for _ in range(8)}
        assert totals == {9}
        run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-2012.json"))
        totals = {http.get(f"{url}/api/records/").json()["hits"]["total"] for _ in range(8)}
        assert totals == {10}
        found = http.get(f"{url}/api/records/", params={"q": "recid:5200"}).json()
        assert [h["id"] for h in found["hits"]["hits"]] == ["5200"]
    assert "Traceback" not in log.read_text(), log.read_text()
    assert json.loads(run_openhep(home, "stats", "--json").stdout)["total"] == 10


def test_workers_share_the_port_and_stop_together(codp_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    log = tmp_path / "serve.log"
    with serving(home, log, "--workers", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        # The port is taken: a second server is refused rather than let share it.
        refused = run_serve(openhep_env(home), "--port", str(port), "--workers", "2")
        assert refused.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
        statuses = {
            httpx.get(f"{url}/api/records/", params={"size": 1}, trust_env=False).status_code
            for _ in range(8)
        }
        assert statuses == {200}
        workers = children(serving_pid(port))
        assert len(workers) >= 2
    # serving() sent SIGTERM to the parent only: it stopped its workers.
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    assert "Traceback" not in log.read_text(), log.read_text()


_ACCESS_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (GET|HEAD) (\S+) (\d{3}) \d+\.\dms$")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_prints_its_address_and_a_line_per_request(
    codp_dir: Path, tmp_path: Path, workers: str
) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    log = tmp_path / "serve.log"
    with (
        serving(home, log, "--workers", workers) as url,
        httpx.Client(trust_env=False, timeout=10.0) as http,
    ):
        assert http.get(f"{url}/search?q=muon", headers={"accept": "text/html"}).status_code == 200
        assert http.get(f"{url}/no/such/page").status_code == 404
        # A target with an encoded line break stays on its line.
        assert http.get(f"{url}/api/records/?q=a%0Ab").status_code == 200
        assert http.head(f"{url}/favicon.ico").status_code in (200, 405)
    output = log.read_text()
    plural = "s" if workers != "1" else ""
    assert f"openhep serve: listening on {url}/ ({workers} worker{plural})\n" in output
    logged = [m.groups() for m in map(_ACCESS_LINE.match, output.splitlines()) if m]
    assert ("GET", "/search?q=muon", "200") in logged
    assert ("GET", "/no/such/page", "404") in logged
    assert ("GET", "/api/records/?q=a%0Ab", "200") in logged
    # Every line is an access line but the address (and nothing went wrong).
    others = [line for line in output.splitlines() if not _ACCESS_LINE.match(line)]
    assert others == [f"openhep serve: listening on {url}/ ({workers} worker{plural})"], others


def test_no_access_log_turns_the_lines_off(codp_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    log = tmp_path / "serve.log"
    with serving(home, log, "--no-access-log") as url:
        assert httpx.get(f"{url}/search?q=muon", trust_env=False).status_code == 200
    assert log.read_text().splitlines() == [f"openhep serve: listening on {url}/ (1 worker)"]


def test_a_taken_port_is_refused_with_one_worker(codp_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    with serving(home, tmp_path / "serve.log") as url:
        port = int(url.rsplit(":", 1)[1])
        refused = run_serve(openhep_env(home), "--port", str(port))
    assert refused.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
    assert "listening on" not in refused.stdout


def test_serve_refuses_bad_origin_rules_at_start_saying_what_to_change(tmp_path: Path) -> None:
    for value, message in (
        ("root://eospublic.cern.ch//eos/opendata/", "is not 'uri-prefix=https-base'"),
        ("root://eospublic.cern.ch//eos/opendata/=ftp://mirror/", "http:// or https://"),
    ):
        refused = run_serve(
            openhep_env(tmp_path / "home") | {"OPENHEP_FILE_ORIGINS": value}, "--port", "9"
        )
        assert refused.returncode == 2
        assert refused.stderr.startswith("openhep serve: OPENHEP_FILE_ORIGINS: ")
        assert message in refused.stderr and "Traceback" not in refused.stderr


def _descendants(root: int) -> list[int]:
    found, frontier = [], [root]
    while frontier:
        below = children(frontier.pop())
        found += below
        frontier += below
    return found


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/records/", params={"size": 1}, trust_env=False).is_success
    except httpx.TransportError:
        return False


def _listening(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port`` (each worker binds its own)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    try:
        held = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    except OSError:
        return False
    return bool(inodes & held)


def test_killing_the_parent_kills_its_workers_and_frees_the_port(
    codp_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    with serving(home, tmp_path / "serve.log", "--workers", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        parent = serving_pid(port)
        descendants = _descendants(parent)
        assert len(descendants) >= 2
        os.kill(parent, signal.SIGKILL)  # no chance to stop them itself
        assert _wait_for(lambda: not [p for p in descendants if alive(p)], 10), [
            p for p in descendants if alive(p)
        ]
        # The port is free: a new server starts on it.
        with (tmp_path / "again.log").open("wb") as output:
            again = subprocess.Popen(
                [sys.executable, "-m", "openhep", "serve", "--port", str(port), "--workers", "2"],
                env=openhep_env(home),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                assert _wait_for(lambda: _answers(url), 60), (tmp_path / "again.log").read_text()
            finally:
                again.terminate()
                again.wait(timeout=30)
        assert again.returncode == 0, (tmp_path / "again.log").read_text()


def test_a_killed_worker_is_restarted_with_back_off_and_the_server_keeps_answering(
    codp_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    log = tmp_path / "serve.log"
    with serving(home, log, "--workers", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        parent = serving_pid(port)

        def workers() -> set[int]:
            return {p for p in worker_pids(parent) if alive(p)}

        first = workers()
        assert len(first) == 2
        # The server answers once one worker listens; the other may still be starting (on a
        # loaded machine, for seconds). Killing the only listening worker then leaves none.
        assert _wait_for(lambda: all(_listening(pid, port) for pid in first), 60)
        killed: set[int] = set()
        # Kill a worker, then its replacements as soon as they appear (within their first
        # 10 s): each is restarted, later and later; the other worker answers throughout.
        for _ in range(3):
            victim = sorted(workers() - killed)[-1]
            os.kill(victim, signal.SIGKILL)
            killed.add(victim)
            assert _answers(url)
            assert _wait_for(lambda: len(workers() - killed) == 2, 30), log.read_text()
        assert _wait_for(lambda: _answers(url), 10)
        statuses = {
            httpx.get(f"{url}/api/records/", params={"size": 1}, trust_env=False).status_code
            for _ in range(8)
        }
        assert statuses == {200}
    delays = re.findall(r"worker \d+ ended \(signal 9\); restarting it in (\d+) s", log.read_text())
    # The first victim may have lived 10 s (restarted at once) or not; its replacements had not.
    assert [int(d) for d in delays] in ([0, 1, 2], [1, 2, 4]), log.read_text()
    assert "Traceback" not in log.read_text()
