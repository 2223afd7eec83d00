"""A throwaway nginx serving a directory over HTTP, for tests that read files with range
requests (as from CODP's HTTPS gateway to EOS): Debian's nginx on a free 127.0.0.1 port,
single and multipart ``Range`` answers as nginx gives them, removed on ``stop()``."""

from __future__ import annotations

import atexit
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from _services.throwaway import ThrowawayServer

__all__ = ["NginxError", "NginxServer", "NginxUnavailable"]

HOST = "127.0.0.1"
_START_TIMEOUT = 60.0


class NginxUnavailable(RuntimeError):
    """The nginx binary cannot be found."""


class NginxError(RuntimeError):
    """Starting the throwaway nginx failed."""


def find_nginx() -> Path:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise NginxUnavailable("nginx is not installed; run scripts/system-deps.sh")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class NginxServer(ThrowawayServer):
    """nginx serving ``root`` (a directory under the server's base, files put there with
    ``add``) at ``url``."""

    error = NginxError
    log_name = "error.log"

    def __init__(self) -> None:
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise NginxError("the server is not running")
        return f"http://{HOST}:{self._port}"

    @property
    def root(self) -> Path:
        return self.base_dir / "root"

    def add(self, source: Path, name: str | None = None) -> str:
        """Copy ``source`` into the served directory; its URL."""
        target = self.root / (name or source.name)
        shutil.copyfile(source, target)
        target.chmod(0o644)  # nginx's workers run as nobody when we are root
        return f"{self.url}/{target.name}"

    def start(self) -> NginxServer:
        if self._proc is not None:
            return self
        binary = find_nginx()
        # As root nginx's workers drop to nobody, who must traverse every parent: use /tmp.
        self._base = Path(tempfile.mkdtemp(prefix="openhep-nginx-", dir="/tmp"))
        self._base.chmod(0o755)
        self.root.mkdir(mode=0o755)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self._base / "tmp" / sub).mkdir(parents=True)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._user = f"{nobody.pw_name} {grp.getgrgid(nobody.pw_gid).gr_name}"
        try:
            self._start(binary)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _config(self, port: int) -> str:
        base = self.base_dir
        user = f"user {self._user};" if self._user else ""
        return f"""
{user}
worker_processes 1;
daemon off;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    server {{
        listen {HOST}:{port};
        root {self.root};
    }}
}}
"""

    def _start(self, binary: Path) -> None:
        port = _free_port()
        config = self.base_dir / "nginx.conf"
        config.write_text(self._config(port), encoding="utf-8")
        self._proc = subprocess.Popen(
            [str(binary), "-p", str(self.base_dir), "-c", str(config), "-e", str(self.log_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._port = port
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxError(f"nginx exited ({self._proc.returncode}):\n{self.log_tail()}")
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise NginxError(f"nginx did not listen on {port}:\n{self.log_tail()}")

    def stop(self) -> None:
        """End nginx and delete its directory. Idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
            self._proc = None
        self._port = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
        atexit.unregister(self.stop)
