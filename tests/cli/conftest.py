"""Fixtures for the CLI tests that run the command in this process (typer's ``CliRunner``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory the command uses: ``OPENHEP_HOME``, and no catalogue or store
    named elsewhere by the environment."""
    for variable in ("OPENHEP_DATABASE_URL", "OPENHEP_STORAGE_URL", "OPENHEP_STORAGE_PREFIXES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OPENHEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
