"""An OpenHEP instance driven through its real ``openhep`` command, for end-to-end tests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from _services.serve import openhep_env
from openhep.catalog._schema import metadata


@dataclass
class Instance:
    """An OpenHEP instance: its data directory, and the URLs of its catalogue (such as a
    PostgreSQL one) and its store where they are not the data directory's own."""

    home: Path
    database_url: str | None
    storage_url: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = openhep_env(self.home)
        if self.database_url:
            env["OPENHEP_DATABASE_URL"] = self.database_url
        if self.storage_url:
            env["OPENHEP_STORAGE_URL"] = self.storage_url
        return env

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "openhep", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"openhep {' '.join(args)} failed:\n{result.stderr}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "openhep", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def file_digests(self) -> dict[str, str]:
        """sha256 of every file in the data directory (the SQLite catalogue's bytes)."""
        return {
            str(p.relative_to(self.home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.home.rglob("*"))
            if p.is_file()
        }

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every catalogue table, in primary-key order."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return {
                    table.name: [
                        tuple(row)
                        for row in conn.execute(select(table).order_by(*table.primary_key))
                    ]
                    for table in metadata.sorted_tables
                }
        finally:
            engine.dispose()

    def snapshot(self) -> Any:
        """What must not change when a batch fails: bytes on SQLite, every row on PostgreSQL."""
        return self.dump() if self.database_url else self.file_digests()
