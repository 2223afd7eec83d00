"""What the tests' throwaway servers (PostgreSQL, XRootD) share: a base directory that exists
while they run, a log file in it, its tail for error messages, and use as a context manager."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

LOG_TAIL_LINES = 40


class ThrowawayServer:
    """Subclasses set ``_base`` while running, name their ``log_name`` and ``error`` type, and
    implement ``start`` (returning self) and ``stop``."""

    #: The exception raised when the server is used while it is not running.
    error: type[Exception] = RuntimeError
    #: Its message.
    not_running = "the server is not running"
    #: The server's log file, in its base directory.
    log_name = "server.log"
    _base: Path | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def base_dir(self) -> Path:
        if self._base is None:
            raise self.error(self.not_running)
        return self._base

    @property
    def log_file(self) -> Path:
        return self.base_dir / self.log_name

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except (OSError, self.error):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
