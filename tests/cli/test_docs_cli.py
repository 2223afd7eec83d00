"""``openhep docs load`` and ``list``: CODP's real docs pages loaded all or nothing, again
without change; ``openhep demo`` loads them after the records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from openhep.catalog import Catalog
from openhep.cli import app
from openhep.settings import Settings

runner = CliRunner()


def test_load_then_load_again_changes_nothing(home: Path, anchors: Path) -> None:
    first = runner.invoke(app, ["docs", "load", str(anchors / "codp-docs"), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {
        "documents": 80, "created": 80, "updated": 0, "unchanged": 0
    }  # fmt: skip
    again = runner.invoke(app, ["docs", "load", str(anchors / "codp-docs")])
    assert again.exit_code == 0
    assert "80 created" not in again.stderr and "80 unchanged" in again.stderr
    listed = json.loads(runner.invoke(app, ["docs", "list", "--json"]).stdout)
    assert len(listed) == 80 and {"slug", "title", "type", "experiment"} <= set(listed[0])
    text = runner.invoke(app, ["docs", "list"]).stdout
    assert "cms-guide-docker" in text and "About ALICE" in text


def test_a_broken_document_stops_the_load_and_nothing_is_written(
    home: Path, anchors: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(anchors / "codp-docs", folder)
    broken = folder / "cms-guide-docker" / "cms-guide-docker.json"
    data = json.loads(broken.read_text())
    data[0]["slug"] = "CMS Guide"
    broken.write_text(json.dumps(data))
    result = runner.invoke(app, ["docs", "load", str(folder)])
    assert result.exit_code == 1
    assert str(broken) in result.stderr and "slug: expected" in result.stderr
    assert "nothing was written" in result.stderr
    with Catalog.open(Settings.from_env()) as catalog:
        assert catalog.documents.slugs() == frozenset()
        assert catalog.state().documents == 0
    missing = runner.invoke(app, ["docs", "load", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a folder of documents" in missing.stderr


def test_the_demo_loads_the_docs_after_the_records(
    home: Path, anchors: Path, codp_dir: Path, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    shutil.copy(codp_dir / "cms-derived-csv-2012.json", records)
    args = ["demo", "--records", str(records), "--no-samples", "--json"]
    result = runner.invoke(app, [*args, "--docs", str(anchors / "codp-docs")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["docs"]["created"] == 80
    # By default it finds the repository's data/codp-docs.
    again = runner.invoke(app, args)
    assert json.loads(again.stdout)["docs"] == {
        "documents": 80, "created": 0, "updated": 0, "unchanged": 80
    }  # fmt: skip
    bad = tmp_path / "bad-docs"
    bad.mkdir()
    broken = runner.invoke(app, [*args, "--docs", str(bad)])
    assert broken.exit_code == 1 and "holds no document" in broken.stderr
