"""``openhep demo``'s sample records: real bytes, true sizes and checksums, idempotent re-runs."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openhep.catalog import Catalog
from openhep.cli import app
from openhep.cli._samples import SAMPLE_RECIDS, SAMPLES, Sample
from openhep.settings import Settings

runner = CliRunner()
DOUBLEMU = "cms-derived-nanoaod-outreach-DoubleMuParked.json"


@pytest.fixture
def records(codp_dir: Path, tmp_path: Path) -> Path:
    """A records directory with CODP's 12341 only (the parent one sample names)."""
    folder = tmp_path / "records"
    folder.mkdir()
    shutil.copy(codp_dir / DOUBLEMU, folder / DOUBLEMU)
    return folder


def demo(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["demo", *args, "--json"])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_every_sample_becomes_a_record_with_its_true_bytes(
    home: Path, records: Path, anchors: Path
) -> None:
    summary = demo("--records", str(records), "--samples", str(anchors))
    recids = [s.recid for s in SAMPLES]
    assert summary["samples"] == {
        "created": len(SAMPLES),
        "updated": 0,
        "unchanged": 0,
        "recids": recids,
        "skipped": [],
    }
    assert all(int(r) in SAMPLE_RECIDS for r in recids)
    with Catalog.open(Settings.from_env()) as catalog:
        for sample in SAMPLES:
            stored = catalog.get(sample.recid)
            data = (anchors / sample.directory / sample.file).read_bytes()
            (entry,) = stored.metadata["files"]
            assert entry["key"] == sample.file
            assert entry["size"] == stored.metadata["distribution"]["size"] == len(data)
            assert entry["checksum"] == f"adler32:{zlib.adler32(data):08x}"
            assert stored.metadata["experiment"] == ["CMS"]
            path = entry["uri"].removeprefix("root://eospublic.cern.ch//")
            assert (home / "files" / path).read_bytes() == data
        # The RNTuple sample is a record of its own, related to (never posing as) 12341.
        sample = catalog.get("990001").metadata
        parent = catalog.get("12341").metadata
        assert sample["relations"] == [
            {
                "type": "isChildOf",
                "recid": "12341",
                "doi": parent["doi"],
                "title": parent["title"],
                "description": "This sample holds the first 1,000 events of that record's "
                f"file, {parent['files'][0]['uri'].rsplit('/', 1)[1]}, in RNTuple format.",
            }
        ]
        assert sample["files"][0]["checksum"] != parent["files"][0]["checksum"]
        assert "doi" not in sample
        assert sample["distribution"]["number_events"] == 1000


def sentences(html: str) -> list[str]:
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.recid)
def test_sample_texts_are_whole_sentences(sample: Sample) -> None:
    record = sample.record(1)
    texts = [record["abstract"]["description"]]
    texts += [r["description"] for r in record.get("relations", [])]
    for text in texts:
        for sentence in sentences(text):
            # A sentence starts with a capital, ends with a full stop and has a verb-like
            # word of its own (no bare "200 events of …" fragments).
            assert sentence[0].isupper() and sentence.endswith("."), sentence
            assert re.search(r"\b(is|are|holds|ships|comes|has|have)\b", sentence), sentence


def test_running_the_demo_again_changes_nothing(home: Path, records: Path, anchors: Path) -> None:
    demo("--records", str(records), "--samples", str(anchors))
    stored_files = sorted(p for p in (home / "files").rglob("*") if p.is_file())
    again = demo("--records", str(records), "--samples", str(anchors))
    assert again["unchanged"] == 1
    assert (again["samples"]["unchanged"], again["samples"]["created"]) == (len(SAMPLES), 0)
    assert sorted(p for p in (home / "files").rglob("*") if p.is_file()) == stored_files
    with Catalog.open(Settings.from_env()) as catalog:
        assert all(len(catalog.versions(s.recid)) == 1 for s in SAMPLES)


def test_a_sample_whose_bytes_went_missing_is_stored_again(
    home: Path, records: Path, anchors: Path
) -> None:
    demo("--records", str(records), "--samples", str(anchors))
    with Catalog.open(Settings.from_env()) as catalog:
        uri = catalog.get("990004").metadata["files"][0]["uri"]
    # Gone behind the catalogue's back (its replica row still claims it).
    (home / "files" / uri.removeprefix("root://eospublic.cern.ch//")).unlink()
    again = demo("--records", str(records), "--samples", str(anchors))
    assert (again["samples"]["updated"], again["samples"]["unchanged"]) == (1, len(SAMPLES) - 1)
    with Catalog.open(Settings.from_env()) as catalog:
        assert len(catalog.versions("990004")) == 2
        new_uri = catalog.get("990004").metadata["files"][0]["uri"]
    assert (home / "files" / new_uri.removeprefix("root://eospublic.cern.ch//")).is_file()


def test_missing_samples_are_skipped_and_said(
    home: Path, records: Path, anchors: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    (partial / "ispy").mkdir(parents=True)
    shutil.copy(anchors / "ispy" / "Hto4l_120-130GeV.ig", partial / "ispy")
    summary = demo("--records", str(records), "--samples", str(partial))
    assert summary["samples"]["recids"] == ["990008"]
    assert len(summary["samples"]["skipped"]) == len(SAMPLES) - 1
    text = runner.invoke(app, ["demo", "--records", str(records), "--samples", str(partial)])
    assert text.exit_code == 0
    assert "skipped sample cms-samples/uproot-Zmumu.root: not found under" in text.stderr
    assert f"1 unchanged, {len(SAMPLES) - 1} skipped" in text.stderr


def test_without_sample_files_the_demo_says_what_it_skipped(
    home: Path, records: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-samples"
    empty.mkdir()
    result = runner.invoke(app, ["demo", "--records", str(records), "--samples", str(empty)])
    assert result.exit_code == 0, result.output
    assert f"skipped sample ispy/Hto4l_120-130GeV.ig: not found under {empty}" in result.stderr
    assert f"0 created, 0 updated, 0 unchanged, {len(SAMPLES)} skipped" in result.stderr
    summary = demo("--records", str(records), "--no-samples")
    assert "samples" not in summary


def test_the_demo_finds_the_repository_data_from_any_folder_below_it() -> None:
    from openhep.cli._demo import find_demo_data

    repo = Path(__file__).resolve().parents[2]
    assert find_demo_data(repo / "docs") == repo / "data"
    assert (repo / "data" / "codp-records").is_dir()


def test_samples_from_a_scikit_hep_testdata_wheel(
    home: Path, records: Path, anchors: Path, tmp_path: Path
) -> None:
    # A wheel laid out as scikit-hep-testdata 0.3.12's (its files are byte for byte those of
    # data/cms-samples), built here rather than fetched from the registry.
    wheel = tmp_path / "scikit_hep_testdata-0.3.12-py2.py3-none-any.whl"
    names = ["uproot-Zmumu.root", "uproot-HZZ.root", "uproot-small-dy-withoffsets.root"]
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("skhep_testdata/__init__.py", "")
        for name in names:
            archive.write(anchors / "cms-samples" / name, f"skhep_testdata/data/{name}")
    summary = demo("--records", str(records), "--samples", str(wheel))
    assert summary["samples"]["recids"] == ["990004", "990005", "990006"]
    assert summary["samples"]["created"] == 3
    with Catalog.open(Settings.from_env()) as catalog:
        entry = catalog.get("990004").metadata["files"][0]
    data = (anchors / "cms-samples" / "uproot-Zmumu.root").read_bytes()
    assert (entry["size"], entry["checksum"]) == (len(data), f"adler32:{zlib.adler32(data):08x}")
    assert demo("--records", str(records), "--samples", str(wheel))["samples"]["unchanged"] == 3
    not_a_wheel = tmp_path / "broken.whl"
    not_a_wheel.write_bytes(b"not a zip")
    result = runner.invoke(app, ["demo", "--records", str(records), "--samples", str(not_a_wheel)])
    assert result.exit_code == 1
    assert "not a usable wheel" in result.stderr
