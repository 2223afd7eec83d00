"""The servers a bench measures: each a subprocess in its own process group on a free
loopback port (``openhep serve``, Datasette, uvicorn, nginx), the environment that points
``openhep`` at a home and at a source tree, and one-shot CLI runs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from bench.harness._meters import tree_cpu_seconds

HOST = "127.0.0.1"  # loopback only
#: ``openhep serve`` with its answer cache off: every answer computed for its request.
NO_CACHE = {"OPENHEP_ANSWER_CACHE_MB": "0"}
#: What answers 200 once ``openhep serve`` is ready: the first record of the listing.
READY = "/api/records/?size=1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server subprocess in its own process group, ended (group and all) on ``close`` or on
    leaving it as a context manager.

    ``{port}`` in ``argv`` becomes the free port it was given."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, path: str, timeout: float = 180.0) -> None:
        """Wait until ``path`` answers 200; exit with the server's log if it died first."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base, timeout=30, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"bench: {self.name} exited at start:\n{tail}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(path).status_code == 200:
                        return
                time.sleep(0.2)
        raise SystemExit(f"bench: {self.name} not ready after {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server's whole process tree so far."""
        return tree_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_cli(argv: list[str], env: dict[str, str], what: str) -> float:
    """Run a command to its end (exit with its stderr if it fails); its wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {what} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return round(time.perf_counter() - started, 1)


def openhep_env(home: Path, src: Path | None = None) -> dict[str, str]:
    """The environment of an ``openhep`` subprocess: this one's without ``OPENHEP_*``, the
    instance at ``home``, and with ``src`` (a checkout's ``src`` directory) first on
    ``PYTHONPATH`` when given, so that the code of another checkout is what runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHEP_")}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(src), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
    return env | {"OPENHEP_HOME": str(home)}


def openhep_cli() -> list[str]:
    return [sys.executable, "-m", "openhep"]


def openhep_server(
    name: str,
    home: Path,
    log: Path,
    workers: int,
    *,
    src: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Server:
    """``openhep serve --workers N --no-access-log`` over the instance at ``home`` (on the code
    of ``src`` when given; ``env`` added to its environment), started: wait until it is ready
    with ``wait_ready(READY)``."""
    argv = [*openhep_cli(), "serve", "--host", HOST, "--port", "{port}",
            "--workers", str(workers), "--no-access-log"]  # fmt: skip
    return Server(name, argv, openhep_env(home, src) | dict(env or {}), log)


def cached_and_uncached(
    stack: contextlib.ExitStack, home: Path, work: Path, workers: int, src: Path | None
) -> tuple[Server, Server]:
    """Two ``openhep serve`` over ``home``, ready: as shipped (``openhep``: each answer kept
    until the catalogue changes) and with its answer cache off (``openhep_nocache``: what every
    first-time request costs); logs in ``work``, both ended with ``stack``."""
    cached, uncached = (
        stack.enter_context(
            openhep_server(name, home, work / f"{name}.log", workers, src=src, env=extra)
        )
        for name, extra in (("openhep", {}), ("openhep_nocache", NO_CACHE))
    )
    for server in (cached, uncached):
        server.wait_ready(READY)
    return cached, uncached


def source_tree(src: Path | None) -> dict[str, str | None]:
    """Which code the ``openhep`` subprocesses ran: the ``src`` directory (None: the one this
    process imports), its git commit if it is in a checkout, and a digest of its Python files
    (the same digest, the same code)."""
    if src is None:
        import openhep

        src = Path(openhep.__file__).resolve().parent.parent
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if done.returncode == 0:
            commit = done.stdout.strip()
    digest = hashlib.sha256()
    for path in sorted((src / "openhep").rglob("*.py")):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return {"src": str(src), "git_commit": commit, "python_files_sha256": digest.hexdigest()[:16]}


#: What a pages bench's nginx adds to its ``http`` block: keep-alive as long as the run, HTML.
PAGES_HTTP = "keepalive_requests 1000000;\n    types { text/html html; }"


def nginx_server(
    work: Path,
    root: Path,
    workers: int,
    *,
    worker_connections: int = 1024,
    http: str = PAGES_HTTP,
) -> Server:
    """Debian's nginx serving ``root`` (``sendfile``, no access log) with ``workers`` worker
    processes; ``http`` is added to its ``http`` block (e.g. a default file type)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("bench: nginx not found; run scripts/system-deps.sh")
    prefix = work / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # workers drop root, as in any nginx installation
        user = f"user {pwd.getpwnam('nobody').pw_name} nogroup;"
        root.chmod(0o755)
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    template = prefix / "nginx.conf.in"
    template.write_text(
        f"""
{user}
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    {http}
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen {HOST}:@PORT@;
        root {root};
    }}
}}
""",
        encoding="utf-8",
    )
    conf = prefix / "nginx.conf"
    # The Server picks a free port and puts it where {port} is: the config is written then.
    command = (
        f"sed 's/@PORT@/{{port}}/' {template} > {conf} && "
        f"exec {nginx} -p {prefix} -c {conf} -e {prefix / 'error.log'}"
    )
    return Server("nginx", ["sh", "-c", command], dict(os.environ), work / "nginx.log")
