"""``openhep hist``: the same histograms as the API, from the command line — counts or JSON on
standard output, a PNG with --png, and errors that say what to change (exit 1, or 2 for bad
options)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _services.analysis import (
    DOUBLEMU,
    EMBARGOED,
    NANO_DIMUON,
    ZMUMU_CSV,
    ZMUMU_ROOT,
    build_analysis_home,
)
from openhep.cli import app

runner = CliRunner()
Z_MASS = 91.1876


@pytest.fixture(scope="module")
def analysis_home(codp_dir: Path, anchors: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analysis_home(tmp_path_factory.mktemp("hist-cli"), codp_dir, anchors)


@pytest.fixture
def home(analysis_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OPENHEP_DATABASE_URL", "OPENHEP_STORAGE_URL", "OPENHEP_STORAGE_PREFIXES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENHEP_HOME", str(analysis_home))
    monkeypatch.setenv("OPENHEP_FILE_ORIGINS", "")
    return analysis_home


def hist(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["hist", *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def test_json_answers_the_apis_answer_and_peaks_at_the_z(home: Path) -> None:
    for recid, extra in ((ZMUMU_CSV, []), (ZMUMU_ROOT, ["--tree", "events"])):
        result = hist(recid, "M", "--bins", "60", "--range", "60", "120", "--json", *extra)
        answer = json.loads(result.stdout)
        counts = answer["counts"]
        i = counts.index(max(counts))
        assert abs((answer["edges"][i] + answer["edges"][i + 1]) / 2 - Z_MASS) <= 2
        assert answer["request"]["recid"] == recid and answer["events_read"] == 2304


def test_the_text_answer_lists_every_bin(home: Path) -> None:
    result = hist(ZMUMU_CSV, "pt1", "--bins", "4", "--range", "0", "100",
                  "--selection", "Q1 != Q2")  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"record {ZMUMU_CSV} (Zmumu_2010.csv): ")
    assert "entries from 2,304 events" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [(float(r[0]), float(r[1])) for r in rows] == [(0, 25), (25, 50), (50, 75), (75, 100)]


def test_png_writes_a_png(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "z.png"
    result = hist(ZMUMU_CSV, "M", "--bins", "60", "--range", "60", "120", "--png", str(out),
                  "--log", "--json")  # fmt: skip
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(result.stdout)["counts"]
    assert f"wrote {out}" in result.stderr


def test_validated_runs_from_a_file(home: Path, tmp_path: Path) -> None:
    runs = tmp_path / "golden.json"
    entries = []
    # The 40 events of nano_dimuon.root are of run 315267.
    for golden in ('{"315267": [[1, 100000]]}', '{"1": [[1, 1]]}'):
        runs.write_text(golden)
        result = hist(NANO_DIMUON, "nMuon", "--bins", "10", "--range", "0", "10", "--json",
                      "--validated-runs", str(runs))  # fmt: skip
        entries.append(json.loads(result.stdout)["entries"])
    assert entries == [40, 0]
    # The DoubleMuParked sample has no run and luminosityBlock columns: the error says so.
    result = hist(DOUBLEMU, "nMuon", "--bins", "5", "--range", "0", "5",
                  "--validated-runs", str(runs), code=1)  # fmt: skip
    assert result.stderr.startswith("error: ")


def test_a_bad_expression_shows_where_it_goes_wrong(home: Path) -> None:
    result = hist(ZMUMU_CSV, "sqrt(px1**2 + pyy1**2)", "--bins", "10", "--range", "0", "1",
                  code=1)  # fmt: skip
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: expression: ")
    assert lines[1] == "  sqrt(px1**2 + pyy1**2)"
    assert lines[2] == "  " + " " * len("sqrt(px1**2 + ") + "^"
    assert "py1" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ([ZMUMU_CSV, "M", "--bins", "0", "--range", "0", "1"], 2, "bins"),
        ([ZMUMU_CSV, "M", "--bins", "10", "--range", "1", "0"], 2, "upper edge"),
        ([ZMUMU_CSV, "M", "--bins", "10", "--range", "0", "1", "--file", "x.csv"], 1, "x.csv"),
        (["999999", "M", "--bins", "10", "--range", "0", "1"], 1, "999999"),
        ([EMBARGOED, "M", "--bins", "10", "--range", "0", "1"], 1, EMBARGOED),
        ([ZMUMU_CSV, "M", "--bins", "10", "--range", "0", "1", "--validated-runs", "/nope"], 2,
         "/nope"),
    ],
)  # fmt: skip
def test_errors_say_what_to_change(home: Path, args: list[str], code: int, says: str) -> None:
    result = hist(*args, code=code)
    assert says in result.stderr
    assert result.stdout == ""
