"""Throwaway XRootD servers for the test suite and the benchmarks.

``XRootDServer`` writes a configuration into a fresh temporary directory, starts Debian's
``xrootd`` (package xrootd-server) on a free TCP port over that directory's ``data/``, accepting
connections from this machine only, waits until it answers the XRootD protocol, and on
``stop()`` ends it and removes everything.

xrootd would run as root, but a test server must not: when the current
process is root the server drops to the ``xrootd`` system user (created by the Debian package)
or ``nobody`` with its ``-R`` option, and the data directory belongs to that user.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from _services.throwaway import ThrowawayServer

__all__ = ["XRootDError", "XRootDServer", "XRootDUnavailable", "find_xrootd"]

HOST = "127.0.0.1"
RUN_AS_USERS = ("xrootd", "nobody")
_START_TIMEOUT = 60.0


class XRootDUnavailable(RuntimeError):
    """The ``xrootd`` server binary cannot be found."""


class XRootDError(RuntimeError):
    """Starting or stopping the throwaway server failed."""


def find_xrootd() -> Path:
    for candidate in (shutil.which("xrootd"), "/usr/bin/xrootd"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise XRootDUnavailable(
        "the xrootd server binary is not on PATH; run scripts/system-deps.sh "
        "(apt-get install xrootd-server xrootd-client)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as_user() -> pwd.struct_passwd:
    for name in RUN_AS_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise XRootDError(f"running as root and none of the users {RUN_AS_USERS} exists")


class XRootDServer(ThrowawayServer):
    """A private ``xrootd`` on 127.0.0.1 serving a temporary directory.

    >>> with XRootDServer() as server:  # doctest: +SKIP
    ...     store = XRootDStore(server.store_url("t1"))  # files land in server.data_dir / "t1"
    """

    error = XRootDError
    not_running = "the server is not running"
    log_name = "xrootd.log"

    def __init__(self, binary: Path | str | None = None) -> None:
        self._binary_arg = Path(binary) if binary is not None else None
        self._base: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as: pwd.struct_passwd | None = None

    # -- public API ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None or self._proc is None:
            raise XRootDError("the server is not running")
        return self._port

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise XRootDError("the server is not running")
        return self._proc.pid

    @property
    def url(self) -> str:
        """``root://127.0.0.1:<port>``: append ``//abs/path`` for a file or directory."""
        return f"root://{HOST}:{self.port}"

    def store_url(self, name: str) -> str:
        """The URL of a store rooted at ``data_dir / name`` (created on first write)."""
        return f"{self.url}//{name.strip('/')}"

    @property
    def data_dir(self) -> Path:
        """The directory the server exports as ``/``."""
        return self.base_dir / "data"

    @property
    def user(self) -> str:
        """The user the server runs as (whoever owns the files it writes)."""
        return self._run_as.pw_name if self._run_as else pwd.getpwuid(os.getuid()).pw_name

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> XRootDServer:
        if self._proc is not None:
            return self
        binary = self._binary_arg or find_xrootd()
        if os.geteuid() == 0:
            self._run_as = _run_as_user()
        try:
            self._make_base_dir()
            self._start(binary)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """End the server and delete its directory. Idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
            self._proc = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
        atexit.unregister(self.stop)

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return f"<XRootDServer {state} dir={self._base}>"

    # -- internals ----------------------------------------------------------

    def _make_base_dir(self) -> None:
        # As root the server runs as another user, who must traverse every parent: use /tmp.
        parent = "/tmp" if self._run_as is not None else None
        self._base = Path(tempfile.mkdtemp(prefix="openhep-xrd-", dir=parent))
        self._base.chmod(0o755)
        for name in ("data", "admin"):
            (self._base / name).mkdir(mode=0o755)
            if self._run_as is not None:
                os.chown(self._base / name, self._run_as.pw_uid, self._run_as.pw_gid)

    def _config(self, port: int) -> str:
        return "\n".join(
            [
                f"xrd.port {port}",
                # Only this machine may connect (xrootd listens on every interface).
                "xrd.allow host localhost",
                "xrd.network nodnr",
                "all.role server",
                "all.export / ",
                f"oss.localroot {self.data_dir}",
                f"all.adminpath {self.base_dir / 'admin'}",
                f"all.pidpath {self.base_dir / 'admin'}",
                # Serve adler32 checksums (xrdcp --cksum, xrdfs query checksum), as EOS does.
                "xrootd.chksum adler32",
                "",
            ]
        )

    def _start(self, binary: Path, attempts: int = 3) -> None:
        for _ in range(attempts):
            port = _free_port()
            config = self.base_dir / "xrootd.cfg"
            config.write_text(self._config(port), encoding="utf-8")
            argv = [str(binary), "-c", str(config)]
            if self._run_as is not None:
                argv += ["-R", self._run_as.pw_name]
            with self.log_file.open("ab") as log:
                self._proc = subprocess.Popen(
                    argv,
                    cwd=self.base_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self._port = port
            if self._wait_ready():
                return
            # Lost the race for the port? Try another; otherwise report the log.
            if "Address already in use" not in self.log_tail():
                break
        code = self._proc.poll() if self._proc is not None else None
        raise XRootDError(
            f"xrootd did not start (exit {code}): {' '.join(argv)}\n"
            f"--- server log ({self.log_file}) ---\n{self.log_tail()}"
        )

    def _wait_ready(self) -> bool:
        from XRootD import client

        assert self._proc is not None and self._port is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                socket.create_connection((HOST, self._port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            status, _ = client.FileSystem(self.url).stat("/", timeout=10)
            if status.ok:
                return True
            time.sleep(0.1)
        self._proc.kill()
        self._proc.wait(timeout=10)
        self._proc = None
        return False
