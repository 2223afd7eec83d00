"""Fixtures of the event tests: the real iSpy files and a builder of small .ig files."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

IG_FILES = ("Hto4l_120-130GeV.ig", "DoubleMuParked_Run2012C_0.ig")


@pytest.fixture(params=IG_FILES)
def ig_file(request: pytest.FixtureRequest, anchors: Path) -> Path:
    return anchors / "ispy" / str(request.param)


@pytest.fixture
def make_ig(tmp_path: Path) -> Callable[..., Path]:
    """An .ig file (a zip) of the given entries: name → bytes."""

    def make(entries: dict[str, bytes], name: str = "made.ig") -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, data in entries.items():
                archive.writestr(entry, data)
        return path

    return make
