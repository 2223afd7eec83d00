"""``openhep files add``, ``token`` and ``fixity`` from the command line: what they print, and
that bad input gets a clear message, a non-zero exit and no change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openhep.cli import app

runner = CliRunner()
PARENT = "12341"


@pytest.fixture
def home(home: Path, codp_dir: Path) -> Path:
    """The conftest's data directory, with CODP's record 12341 ingested."""
    records = codp_dir / "cms-derived-nanoaod-outreach-DoubleMuParked.json"
    assert runner.invoke(app, ["ingest", str(records)]).exit_code == 0
    return home


@pytest.fixture
def sample(anchors: Path) -> Path:
    return anchors / "cms-samples" / "uproot-Zmumu.root"


def versions(recid: str) -> str:
    return runner.invoke(app, ["versions", recid]).stdout


def stored_files(home: Path) -> list[Path]:
    root = home / "files"
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and ".partial" not in p.parts]


def test_files_add_prints_the_entry_and_fixity_passes(home: Path, sample: Path) -> None:
    result = runner.invoke(app, ["files", "add", PARENT, str(sample), "--json"])
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert added["version"] == 2
    [entry] = added["files"]
    assert (entry["key"], entry["size"], entry["type"]) == (
        sample.name,
        sample.stat().st_size,
        "root",
    )
    fixity = runner.invoke(app, ["fixity", "--json"])
    assert fixity.exit_code == 0
    assert json.loads(fixity.stdout)["checked"] == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["999999999", "{sample}"], 1, "ingest the record first"),
        ([PARENT, "/no/such/file.root"], 2, "not a readable file"),
        ([PARENT, "{sample}", "--key", "../escape.root"], 1, "nothing was added"),
        ([PARENT, "{sample}", "--key", "a/b.root"], 1, "nothing was added"),
        ([PARENT, "{sample}", "{sample}", "--key", "one.root"], 2, "--key names one file"),
        ([PARENT, "{sample}", "{sample}"], 1, "its own key"),
    ],
)
def test_files_add_refuses_bad_input_and_changes_nothing(
    home: Path, sample: Path, args: list[str], code: int, message: str
) -> None:
    before = versions(PARENT)
    argv = ["files", "add", *(a.replace("{sample}", str(sample)) for a in args)]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert versions(PARENT) == before
    assert stored_files(home) == []


def test_fixity_exits_1_and_names_a_flipped_file(home: Path, sample: Path) -> None:
    assert runner.invoke(app, ["files", "add", PARENT, str(sample)]).exit_code == 0
    [stored] = stored_files(home)
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01
    stored.write_bytes(bytes(data))
    result = runner.invoke(app, ["fixity"])
    assert result.exit_code == 1
    assert f"corrupt: {stored.relative_to(home / 'files')} (checksum)" in result.stderr
    assert "1 corrupt" in result.stderr


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\there"])
def test_token_create_refuses_bad_names(home: Path, name: str) -> None:
    result = runner.invoke(app, ["token", "create", "--name", name])
    assert result.exit_code == 2
    assert "printable characters" in result.stderr
    assert json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout) == []


def test_token_revoke_of_an_unknown_id_says_so(home: Path) -> None:
    result = runner.invoke(app, ["token", "revoke", "42"])
    assert result.exit_code == 1
    assert "there is no token 42" in result.stderr
