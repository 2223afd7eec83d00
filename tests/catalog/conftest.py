"""Fixtures for driving the real ``openhep`` command against a catalogue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _services.instance import Instance


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Instance:
    home = tmp_path / "home"
    home.mkdir()
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return Instance(home, url)


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write ``data`` as JSON to a file under a fresh input directory; return its path."""
    import json

    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)

    def write(name: str, data: Any) -> Path:
        path = inputs / name
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    return write
