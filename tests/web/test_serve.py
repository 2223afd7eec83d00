"""``openhep serve --workers N``: workers share one index directory and start cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import _wait_until_serving, free_port, openhep_env, run_openhep


def test_several_workers_build_a_missing_index_and_see_new_records(
    codp_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "openhep", "serve", "--port", str(port), "--workers", "2"],
            env=openhep_env(home),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(url, process, log)
            with httpx.Client(trust_env=False, timeout=10.0) as http:
                # Ask more often than there are workers: every worker answers from the index.
                totals = {http.get(f"{url}/api/records/").json()["hits"]["total"] for _ in range(8)}
                assert totals == {9}
                run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-2012.json"))
                totals = {http.get(f"{url}/api/records/").json()["hits"]["total"] for _ in range(8)}
                assert totals == {10}
                found = http.get(f"{url}/api/records/", params={"q": "recid:5200"}).json()
                assert [h["id"] for h in found["hits"]["hits"]] == ["5200"]
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert "Traceback" not in log.read_text(), log.read_text()
    assert json.loads(run_openhep(home, "stats", "--json").stdout)["total"] == 10
