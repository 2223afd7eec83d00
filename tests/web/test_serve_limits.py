"""What a client can make ``openhep serve`` hold: huge heads, half-sent requests, idle
connections, bodies no route reads (a real server, over raw sockets)."""

from __future__ import annotations

import select
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _services.processes import serving_pid, worker_pids
from _services.serve import openhep_env, run_openhep, run_serve, serving

_HALF_SENT = b"GET /api/records/?size=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


@pytest.fixture(scope="module")
def home(codp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("limits") / "home"
    run_openhep(home, "ingest", str(codp_dir / "cms-derived-csv-Run2011A.json"))
    return home


def _serving_pids(port: int) -> list[int]:
    """The processes answering on ``port``: the ``openhep serve`` process, or its workers."""
    parent = serving_pid(port)
    return worker_pids(parent) or [parent]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += Path.readlink(fd).as_posix().startswith("socket:")
        except OSError:
            continue
    return count


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def _request_ms(url: str) -> float:
    """One request on a connection of its own (so the server must accept one meanwhile), from
    connecting to the end of the answer; a raw socket, so that the client costs nothing."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            b"GET /api/records/?size=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    elapsed = (time.perf_counter() - started) * 1000
    assert _status(answer) == 200, answer[:300]
    return elapsed


def _warm(url: str) -> None:
    # Every worker has answered (and imported what answering needs) before memory is read.
    for _ in range(16):
        _request_ms(url)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_200_mb_header_is_refused_at_once_and_leaves_no_memory_behind(
    home: Path, tmp_path: Path, workers: str
) -> None:
    with serving(home, tmp_path / "serve.log", "--workers", workers) as url:
        port = int(url.rsplit(":", 1)[1])
        _warm(url)
        pids = _serving_pids(port)
        before = {pid: _rss_kib(pid) for pid in pids}
        chunk, sent, answer = b"a" * 65536, 0, b""
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as attack:
            attack.sendall(b"GET /api/records/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            try:
                while sent < 200 << 20 and time.monotonic() - started < 120:
                    attack.sendall(chunk)
                    sent += len(chunk)
                    if _readable(attack):
                        break
            except OSError:
                pass  # the server closed the connection while it was still being sent
            while chunk := attack.recv(65536):
                answer += chunk
        took = time.monotonic() - started
        print(f"\n{workers} worker(s): 431 after {sent / 2**20:.1f} MiB sent, {took:.2f} s")
        assert _status(answer) == 431, answer[:300]
        assert b"longer than 65536 bytes" in answer
        assert sent < 32 << 20  # what the kernel's buffers held, not the 200 MB
        # Meanwhile the others are answered; and the worker holds nothing of the header.
        assert _request_ms(url) > 0
        grown = {pid: _rss_kib(pid) - before[pid] for pid in pids}
        print(f"RSS growth (KiB) per worker: {grown}")
        assert max(grown.values()) < 8 * 1024


@pytest.mark.parametrize("workers", ["1", "2"])
def test_half_sent_requests_are_closed_after_the_head_timeout_and_others_are_served_meanwhile(
    home: Path, tmp_path: Path, workers: str
) -> None:
    timeout_s = 6
    env = {"OPENHEP_HEAD_TIMEOUT_S": str(timeout_s)}
    with serving(home, tmp_path / "serve.log", "--workers", workers, env=env) as url:
        port = int(url.rsplit(":", 1)[1])
        _warm(url)
        with _slowloris(port, 2000) as attackers:
            opened = time.monotonic()
            # Meanwhile, a client with a connection of its own per request is answered.
            latencies = [_request_ms(url) for _ in range(9)]
            sampled = time.monotonic() - opened
            median = statistics.median(latencies)
            print(
                f"\n{workers} worker(s), 2,000 half-sent requests: latency of another client "
                f"median {median:.1f} ms, max {max(latencies):.1f} ms "
                f"({', '.join(f'{ms:.0f}' for ms in latencies)})"
            )
            still_open = [s for s in attackers if not _readable(s)]
            if sampled < timeout_s - 1:  # the samples were taken while the attack held
                assert len(still_open) == len(attackers)
            assert median < 100
            # Then the server closes each of them (408: they had sent part of a head).
            closed, answers = _wait_closed(attackers, timeout_s + 20)
            assert closed == len(attackers), f"{len(attackers) - closed} still open"
            assert answers.get(408, 0) == len(attackers), answers
        assert _request_ms(url) > 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_idle_connections_beyond_the_cap_close_the_longest_idle_and_hold_no_descriptors(
    home: Path, tmp_path: Path, workers: str
) -> None:
    cap = 64
    env = {"OPENHEP_MAX_CONNECTIONS": str(cap), "OPENHEP_HEAD_TIMEOUT_S": "300"}
    with serving(home, tmp_path / "serve.log", "--workers", workers, env=env) as url:
        port = int(url.rsplit(":", 1)[1])
        _warm(url)
        pids = _serving_pids(port)
        before = {pid: _sockets(pid) for pid in pids}
        with _slowloris(port, 600, send=b"") as idle:
            time.sleep(0.5)
            latencies = [_request_ms(url) for _ in range(9)]
            print(f"\nlatency with 600 idle connections, cap {cap}: {latencies}")
            held = {pid: _sockets(pid) - before[pid] for pid in pids}
            print(f"sockets held beyond the listening ones: {held}")
            assert max(held.values()) <= cap
            # The server closed the longest-idle ones to make room: the first ones opened.
            closed = sum(1 for s in idle[:100] if _readable(s))
            assert closed == 100


def _readable(s: socket.socket) -> bool:
    """Whether the server has sent something on ``s`` or closed it (poll: fds above 1,024)."""
    poller = select.poll()
    poller.register(s, select.POLLIN)
    return bool(poller.poll(0))


def _wait_closed(attackers: list[socket.socket], seconds: float) -> tuple[int, dict[int, int]]:
    """Wait until the server has closed each connection; how many did, and what it answered."""
    pending = {s: b"" for s in attackers}
    by_fd = {s.fileno(): s for s in attackers}
    poller = select.poll()
    for s in attackers:
        poller.register(s, select.POLLIN)
    answers: dict[int, int] = {}
    closed = 0
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(1000):
            s = by_fd[fd]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                pending[s] += data
                continue
            answer = pending.pop(s)
            poller.unregister(s)
            closed += 1
            status = _status(answer) if answer else 0
            answers[status] = answers.get(status, 0) + 1
    return closed, answers


class _slowloris:
    """``count`` connections to ``port``, each having sent ``send`` (part of a request head)."""

    def __init__(self, port: int, count: int, send: bytes = _HALF_SENT) -> None:
        self.port, self.count, self.send = port, count, send
        self.sockets: list[socket.socket] = []

    def __enter__(self) -> list[socket.socket]:
        for _ in range(self.count):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            if self.send:
                s.sendall(self.send)
            self.sockets.append(s)
        return self.sockets

    def __exit__(self, *_: object) -> None:
        for s in self.sockets:
            s.close()


def _iter_bad_values() -> Iterator[tuple[str, str, str]]:
    yield "OPENHEP_MAX_HEADER_BYTES", "64k", "give a whole number from 1024"
    yield "OPENHEP_MAX_HEADERS", "5", "give a whole number from 10"
    yield "OPENHEP_MAX_URL_BYTES", "-1", "give a whole number from 256"
    yield "OPENHEP_MAX_BODY_BYTES", "1e6", "give a whole number from 0"
    yield "OPENHEP_HEAD_TIMEOUT_S", "0", "give a number of seconds above 0"
    yield "OPENHEP_HEAD_TIMEOUT_S", "nan", "give a number of seconds above 0"
    yield "OPENHEP_KEEPALIVE_TIMEOUT_S", "2.5", "give a whole number from 1"
    yield "OPENHEP_REQUEST_THREADS", "0", "give a whole number from 1"
    yield "OPENHEP_MAX_CONNECTIONS", "99999999", "give a whole number from 16"
    yield "OPENHEP_MAX_CONNECTIONS", "16000000", "more than half the open-files limit"


@pytest.mark.parametrize(("variable", "value", "message"), list(_iter_bad_values()))
def test_serve_refuses_a_bad_limit_at_start_saying_what_to_change(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    refused = run_serve(openhep_env(tmp_path / "home") | {variable: value}, "--port", "9")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"openhep serve: {variable}"), refused.stderr
    assert message in refused.stderr and "Traceback" not in refused.stderr
    assert "listening on" not in refused.stdout


def test_a_body_no_route_reads_is_refused_beyond_the_limit_and_uploads_are_not(
    home: Path,
) -> None:
    from fastapi.testclient import TestClient

    from openhep.settings import Settings
    from openhep.web import create_app

    settings = Settings.from_env(openhep_env(home) | {"OPENHEP_MAX_BODY_BYTES": "1000"})
    with TestClient(create_app(settings)) as client:
        small = client.request("GET", "/api/records/", params={"size": 1}, content=b"x" * 1000)
        assert small.status_code == 200
        large = client.request("GET", "/api/records/", content=b"x" * 1001)
        assert large.status_code == 413
        assert large.headers["connection"] == "close"
        assert large.json() == {
            "status": 413,
            "message": "the request body is longer than 1000 bytes (only uploads may be longer)",
        }
        # Sent in chunks (no Content-Length): counted as it arrives.
        chunked = client.request("POST", "/api/records/", content=iter([b"x" * 600] * 2))
        assert chunked.status_code == 413
        fits = client.request("GET", "/api/records/", content=iter([b"x" * 500] * 2))
        assert fits.status_code == 200
        # An upload is not held to it: it gets as far as asking for a token.
        upload = client.put("/api/records/5200/files/big.csv", content=b"x" * 5000)
        assert upload.status_code == 401
