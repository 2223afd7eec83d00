"""The smaller ``openhep`` sub-commands; every command, option and setting is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
from typer.testing import CliRunner

from openhep.cli import app
from openhep.settings import ENVIRONMENT, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
runner = CliRunner()


def test_schema_is_a_json_schema_that_accepts_a_real_record(codp_dir: Path) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    record = json.loads((codp_dir / "cms-derived-csv-2012.json").read_text())[0]
    jsonschema.validate(record, schema)
    assert set(schema["required"]) == {
        "recid",
        "title",
        "type",
        "experiment",
        "date_published",
        "publisher",
    }


def test_demo_loads_the_records_and_stats_describes_them(home: Path, codp_dir: Path) -> None:
    result = runner.invoke(app, ["demo", "--records", str(codp_dir), "--no-samples", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 7535
    assert (home / "catalog.sqlite").is_file()
    stats = json.loads(runner.invoke(app, ["stats", "--json"]).stdout)
    assert (stats["total"], stats["embargoed"]) == (7535, 0)
    text = runner.invoke(app, ["stats"]).stdout
    assert "public records: 7,535" in text
    assert re.search(r"6,993\s+CMS", text)


def test_demo_without_records_says_what_to_pass(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openhep.cli import _demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_demo, "SOURCE_TREE", tmp_path)  # an install without the repository
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1
    assert "no data/codp-records in this folder or its parents" in result.stderr
    assert "pass --records DIR" in result.stderr


def test_get_and_versions(home: Path, codp_dir: Path) -> None:
    runner.invoke(app, ["ingest", str(codp_dir / "cms-derived-csv-2012.json")])
    record = json.loads(runner.invoke(app, ["get", "5200"]).stdout)
    assert record["recid"] == "5200"
    assert json.loads(runner.invoke(app, ["versions", "5200"]).stdout)[0]["version"] == 1
    for command in (["get", "5200", "--version", "2"], ["get", "77"], ["versions", "77"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert "does not exist" in result.stderr
    assert runner.invoke(app, ["get", "5200", "--version", "0"]).exit_code == 2


def test_migrate_creates_the_catalogue(home: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0
    assert (home / "catalog.sqlite").is_file()


def test_settings_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"OPENHEP_HOME": str(tmp_path)})
    assert settings.catalog_url == f"sqlite:///{tmp_path.resolve() / 'catalog.sqlite'}"
    pg = Settings.from_env({"OPENHEP_DATABASE_URL": "postgresql://u@h:5/db"})
    assert pg.catalog_url == "postgresql+psycopg://u@h:5/db"
    assert Settings.from_env({}).home == Path("openhep-data")


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## `openhep ([a-z -]+)`$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def leaf_commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every command that runs something, named as typed (``files add``), groups walked.

    (Typer vendors its own click, so groups are told by their ``commands``.)
    """
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= leaf_commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_every_command_and_option_is_documented() -> None:
    documented = sections((DOCS / "cli.md").read_text())
    commands = leaf_commands(typer.main.get_command(app))
    assert set(commands) == set(documented)
    for name, command in commands.items():
        flags = [flag for param in command.params for flag in param.opts if flag.startswith("-")]
        for flag in flags:
            assert f"`{flag}" in documented[name], f"openhep {name} {flag} is undocumented"


def test_every_environment_variable_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for variable in ENVIRONMENT:
        assert f"`{variable}`" in text
