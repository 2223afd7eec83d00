"""Throwaway PostgreSQL clusters for the test suite.

``PostgresCluster`` runs ``initdb`` into a fresh temporary directory, starts a
private ``postgres`` server on a free TCP port of 127.0.0.1 (durability turned
off for speed) and removes everything again on ``stop()``.  It never touches a
distribution-managed cluster (e.g. Debian's on port 5432).

PostgreSQL refuses to run as root, so when the current process is root the
server binaries are run through ``runuser -u <user> --`` as the ``postgres``
system user (created by Debian's ``postgresql`` package) or, if that does not
exist, as a dedicated system user ``openhep-pg`` created on demand.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from _services.throwaway import ThrowawayServer

__all__ = ["PostgresCluster", "PostgresError", "PostgresUnavailable", "find_bindir"]

USER = "openhep"
"""Superuser name created by ``initdb`` (``-U``); connections use trust auth."""

HOST = "127.0.0.1"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
FALLBACK_SYSTEM_USER = "openhep-pg"
_COMMAND_TIMEOUT = 120.0
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (``initdb``, ``pg_ctl``) cannot be found."""


class PostgresError(RuntimeError):
    """Setting up, starting or using the throwaway cluster failed."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bindir() -> Path:
    """Directory holding ``initdb`` and ``pg_ctl``.

    ``$PATH`` wins; otherwise the newest ``/usr/lib/postgresql/<ver>/bin``
    (Debian keeps the server binaries off ``$PATH``).
    """
    initdb = shutil.which("initdb")
    if initdb is not None:
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    candidates = sorted(
        (
            bindir
            for bindir in DEBIAN_PG_ROOT.glob("*/bin")
            if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()
        ),
        key=_version_key,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
        f"{DEBIAN_PG_ROOT}/*/bin; run scripts/system-deps.sh "
        "(apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_system_user() -> pwd.struct_passwd:
    """The unprivileged account to run the server as when we are root."""
    for name in ("postgres", FALLBACK_SYSTEM_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", nologin, FALLBACK_SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(FALLBACK_SYSTEM_USER)
    except KeyError:
        raise PostgresError(
            f"running as root and could not create system user {FALLBACK_SYSTEM_USER!r}: "
            f"{(result.stdout + result.stderr).strip()}"
        ) from None


def _utf8_locale_env() -> dict[str, str]:
    """Environment for ``initdb``: a UTF-8 locale if one is installed, so that
    case mapping of non-ASCII text works; otherwise leave the locale alone."""
    try:
        listed = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, check=False, timeout=10
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return {}
    for name in ("C.UTF-8", "C.utf8"):
        if name in listed:
            return {"LC_ALL": name, "LANG": name}
    return {}


class PostgresCluster(ThrowawayServer):
    """A private PostgreSQL server in a temporary directory.

    >>> with PostgresCluster() as cluster:  # doctest: +SKIP
    ...     url = cluster.create_database("test_something")
    """

    error = PostgresError
    not_running = "cluster is not running"
    log_name = "postgres.log"

    def __init__(self, bindir: Path | str | None = None) -> None:
        self._bindir_arg = Path(bindir) if bindir is not None else None
        self._bindir: Path | None = None
        self._base: Path | None = None
        self._port: int | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._running = False

    # -- public API ---------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def user(self) -> str:
        return USER

    @property
    def port(self) -> int:
        if self._port is None or not self._running:
            raise PostgresError("cluster is not running")
        return self._port

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database ``postgres``."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgresql+psycopg://{USER}@{HOST}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string (for psycopg) of ``dbname``."""
        return f"host={HOST} port={self.port} user={USER} dbname={dbname}"

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> PostgresCluster:
        """initdb + start; returns ``self``.  Raises ``PostgresUnavailable``
        when the binaries are missing and ``PostgresError`` on failure."""
        if self._running:
            return self
        self._bindir = self._bindir_arg or find_bindir()
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user()
        try:
            self._make_base_dir()
            self._initdb()
            self._start_server()
        except BaseException:
            self._cleanup_dir()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server (``-m immediate``) and delete its directory.
        Idempotent; safe to call when never started."""
        if self._running and self._base is not None:
            result = self._pg_ctl("-m", "immediate", "-w", "-t", "30", "stop")
            if result.returncode != 0:
                self._kill_postmaster()
            self._running = False
        self._cleanup_dir()
        atexit.unregister(self.stop)

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` and return its SQLAlchemy URL."""
        if not _DB_NAME_RE.fullmatch(name):
            raise ValueError(f"invalid database name {name!r} (want [A-Za-z_][A-Za-z0-9_]*)")
        try:
            with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise PostgresError(f"CREATE DATABASE {name} failed: {exc}") from exc
        return self.url_for(name)

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._running else "stopped"
        return f"<PostgresCluster {state} dir={self._base}>"

    # -- internals ----------------------------------------------------------

    @property
    def _data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def _socket_dir(self) -> Path:
        return self.base_dir / "sock"

    def _make_base_dir(self) -> None:
        # As root the server runs as another user: it must be able to traverse
        # every parent, so use /tmp (mode 1777) rather than a possibly private $TMPDIR.
        parent = "/tmp" if self._run_as is not None else None
        self._base = Path(tempfile.mkdtemp(prefix="openhep-pg-", dir=parent))
        self._base.chmod(0o755)
        self._socket_dir.mkdir(mode=0o700)
        self.log_file.touch(mode=0o600)
        if self._run_as is not None:
            for path in (self._base, self._socket_dir, self.log_file):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
            self._check_traversable(self._base)

    def _check_traversable(self, path: Path) -> None:
        assert self._run_as is not None
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001 and parent.stat().st_uid != self._run_as.pw_uid:
                raise PostgresError(
                    f"{parent} is not traversable by user {self._run_as.pw_name!r} "
                    f"(mode {oct(mode & 0o777)})"
                )

    def _command(self, program: str, *args: str) -> list[str]:
        assert self._bindir is not None
        argv = [str(self._bindir / program), *args]
        if self._run_as is not None:
            argv = ["runuser", "-u", self._run_as.pw_name, "--", *argv]
        return argv

    def _run(
        self, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                argv,
                cwd=self.base_dir,  # readable by the server user, unlike e.g. /root
                env={**os.environ, **env} if env else None,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
                timeout=_COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(
                f"timed out after {_COMMAND_TIMEOUT:.0f}s: {shlex.join(argv)}\n"
                f"--- server log ({self.log_file}) ---\n{self.log_tail()}"
            ) from exc

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(self._command("pg_ctl", "-D", str(self._data_dir), *args))

    def _failure(self, what: str, result: subprocess.CompletedProcess[str]) -> PostgresError:
        output = (result.stdout + result.stderr).strip()
        return PostgresError(
            f"{what} failed (exit {result.returncode}): {shlex.join(result.args)}\n"
            f"{output}\n--- server log ({self.log_file}) ---\n{self.log_tail()}"
        )

    def _initdb(self) -> None:
        result = self._run(
            self._command(
                "initdb",
                "-D",
                str(self._data_dir),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            env=_utf8_locale_env(),
        )
        if result.returncode != 0:
            raise self._failure("initdb", result)

    def _start_server(self, attempts: int = 3) -> None:
        result: subprocess.CompletedProcess[str] | None = None
        for _ in range(attempts):
            port = _free_port()
            options = " ".join(
                [
                    f"-c listen_addresses={HOST}",
                    f"-p {port}",
                    f"-k {shlex.quote(str(self._socket_dir))}",
                    "-c fsync=off",
                    "-c full_page_writes=off",
                    "-c synchronous_commit=off",
                ]
            )
            result = self._pg_ctl(
                "-o", options, "-l", str(self.log_file), "-w", "-t", "60", "start"
            )
            if result.returncode == 0:
                self._port = port
                self._running = True
                return
            # Lost the race for the port?  Retry on another one; otherwise give up.
            if "could not bind" not in self.log_tail():
                break
            self._kill_postmaster()
            time.sleep(0.2)
        assert result is not None
        raise self._failure("pg_ctl start", result)

    def _kill_postmaster(self) -> None:
        """Last resort when ``pg_ctl stop`` fails: SIGKILL the postmaster."""
        pidfile = self._data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 9)

    def _cleanup_dir(self) -> None:
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
