"""An OpenHEP instance driven through its real ``openhep`` command, for end-to-end tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from openhep.catalog._schema import metadata


@dataclass
class Instance:
    """An OpenHEP instance: its data directory and (optionally) a PostgreSQL catalogue."""

    home: Path
    database_url: str | None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHEP_")}
        env["OPENHEP_HOME"] = str(self.home)
        if self.database_url:
            env["OPENHEP_DATABASE_URL"] = self.database_url
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
