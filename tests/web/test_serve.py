"""``openhep serve --workers N``: workers share one index directory and start cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from conftest import run_openhep, serving


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
