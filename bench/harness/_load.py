"""The closed-loop load generator: clients on keep-alive HTTP/1.1 connections (asyncio +
h11) taking their requests from one shared pool, and the figures of a measurement
(nearest-rank percentiles, rate, errors, answer-cache hits, the CPU of each side)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

from bench.harness._meters import cpu_machine, cpu_self
from bench.harness._servers import HOST, Server

#: Per-request bound of the load loops: a request still unanswered then is an error.
REQUEST_TIMEOUT_S = 60.0


class Pool:
    """The requests of one class for one server, in one fixed order (shuffled with ``seed``,
    or as given when ``seed`` is None), shared by all clients: each request is sent at most
    once until every one was, then the order starts again. A pool lives as long as its
    server, so warm-up, single-client and loaded runs continue where the last stopped."""

    def __init__(self, targets: Sequence[str], seed: int | None = 7535) -> None:
        if not targets:
            raise ValueError("a pool needs at least one request")
        self.targets = list(targets)
        if seed is not None:
            random.Random(seed).shuffle(self.targets)
        self.position = 0

    def __len__(self) -> int:
        return len(self.targets)

    def take(self) -> str:
        target = self.targets[self.position % len(self.targets)]
        self.position += 1
        return target

    @property
    def passes(self) -> float:
        """How many times the whole pool has been sent so far."""
        return round(self.position / len(self.targets), 3)


@dataclass(slots=True)
class Samples:
    """What one measurement saw: each answer's latency, errors, and cache marks."""

    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    #: answered 200 but with less than was asked (Datasette: a facet or the count timed out)
    partial: int = 0
    by_target: dict[str, list[int]] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    #: answers that said whether they came from the server's answer cache, and those that did
    cache_marked: int = 0
    cache_hits: int = 0

    def cache(self, mark: bytes | None) -> None:
        if mark is not None:
            self.cache_marked += 1
            self.cache_hits += mark == b"hit"

    def ok(self, target: str, sent_ns: int) -> None:
        latency = time.perf_counter_ns() - sent_ns
        self.latencies_ns.append(latency)
        self.by_target.setdefault(target, []).append(latency)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(what)


class Connection:
    """One keep-alive HTTP/1.1 connection driven by h11 (cheap next to httpx per request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.conn = h11.Connection(h11.CLIENT)
        #: the last answer's ``x-cache`` header (``hit``/``miss``; None: not marked)
        self.cache: bytes | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, target: str, headers: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
        """GET ``target`` (with ``headers`` besides Host); read the whole response; its status
        and body."""
        if self.writer is None or self.conn.our_state is not h11.IDLE:
            self.close()
            await self.open()
        assert self.reader is not None and self.writer is not None
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", f"{self.host}:{self.port}"), *headers],
        )
        self.writer.write(self.conn.send(request) + (self.conn.send(h11.EndOfMessage()) or b""))
        status = 0
        body: list[bytes] = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(262_144)
                self.conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                self.cache = next((v for k, v in event.headers if k == b"x-cache"), None)
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            self.close()
        return status, b"".join(body)


async def closed_loop(
    port: int,
    pool: Pool,
    clients: int,
    seconds: float,
    samples: Samples | None,
    partial: Callable[[bytes], bool] | None = None,
    think: float = 0.0,
) -> float:
    """``clients`` clients, each taking the pool's next request as soon as its last one is
    answered (with ``think`` > 0: after a random pause, exponential with that mean in
    seconds, the first one uniform in [0, think), so that they browse rather than move in
    lockstep). Requests are sent until ``seconds`` have passed; those in flight then are
    finished and counted. Returns the wall time from start to the last answer. ``partial``
    tells incomplete 200 answers."""
    started = time.perf_counter()
    deadline = started + seconds

    async def client(index: int) -> None:
        rng = random.Random(index)
        connection = Connection(HOST, port)
        try:
            if think:
                await asyncio.sleep(rng.uniform(0, think))
            while time.perf_counter() < deadline:
                target = pool.take()
                sent = time.perf_counter_ns()
                try:
                    status, body = await asyncio.wait_for(connection.get(target), REQUEST_TIMEOUT_S)
                except (OSError, h11.ProtocolError, TimeoutError) as exc:
                    connection.close()
                    if samples is not None:
                        samples.error(f"{target}: {type(exc).__name__}: {exc}")
                    continue
                if samples is not None:
                    samples.sent.add(target)
                    if status == 200:
                        samples.ok(target, sent)
                        samples.cache(connection.cache)
                        if partial is not None and partial(body):
                            samples.partial += 1
                    else:
                        samples.error(f"{target}: HTTP {status}")
                if think:
                    pause = rng.expovariate(1 / think)
                    if time.perf_counter() + pause >= deadline:
                        break  # its next request would come after the end: it leaves now
                    await asyncio.sleep(pause)
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - started


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def summarize(
    samples: Samples, wall: float, extra: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Percentiles, rate and errors of one measurement; per query too if ``labels`` names them."""
    ms = sorted(ns / 1e6 for ns in samples.latencies_ns)
    figure: dict[str, Any] = {
        "p50_ms": round(percentile(ms, 50), 2) if ms else None,
        "p95_ms": round(percentile(ms, 95), 2) if ms else None,
        "p99_ms": round(percentile(ms, 99), 2) if ms else None,
        "rps": round(len(ms) / wall, 1) if wall else None,
        "requests": len(ms),
        "errors": samples.errors,
    }
    if samples.partial:
        figure["partial"] = samples.partial
    if samples.cache_marked:
        figure["cache_hit_ratio"] = round(samples.cache_hits / samples.cache_marked, 4)
    if samples.error_examples:
        figure["error_examples"] = samples.error_examples
    if labels:
        figure["per_query_p50_ms"] = {
            labels[t]: round(percentile(sorted(ns / 1e6 for ns in lat), 50), 2)
            for t, lat in samples.by_target.items()
        }
    return figure | extra


def measure_http(
    runner: asyncio.Runner,
    server: Server,
    pool: Pool,
    clients: int,
    seconds: float,
    *,
    partial: Callable[[bytes], bool] | None = None,
    think: float = 0.0,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``seconds`` of load of ``clients`` on one server from ``pool``: the figures, the
    distinct requests sent and the pool's size, and the CPU (cores) of the load generator,
    the server and everything else on the machine meanwhile (they share its cores).
    ``labels`` names the requests for per-query figures (only for pools under 20)."""
    samples = Samples()
    client_cpu, server_cpu, all_cpu = cpu_self(), server.cpu_seconds(), cpu_machine()
    wall = runner.run(closed_loop(server.port, pool, clients, seconds, samples, partial, think))
    client_cpu, server_cpu = cpu_self() - client_cpu, server.cpu_seconds() - server_cpu
    # Whatever else ran on the machine meanwhile (other processes skew absolute figures).
    other_cpu = max(cpu_machine() - all_cpu - client_cpu - server_cpu, 0.0)
    return summarize(
        samples,
        wall,
        {
            "clients": clients,
            "seconds": round(wall, 2),
            "pool": len(pool),
            "distinct_sent": len(samples.sent),
            "client_cpu_cores": round(client_cpu / wall, 2),
            "server_cpu_cores": round(server_cpu / wall, 2),
            "other_cpu_cores": round(other_cpu / wall, 2),
        },
        labels if labels and len(labels) < 20 else None,
    )


def warm_up(runner: asyncio.Runner, server: Server, pool: Pool, seconds: float = 1.0) -> None:
    """Untimed requests from two connections (both workers of a two-worker server)."""
    runner.run(closed_loop(server.port, pool, 2, seconds, None))


def brief(figure: dict[str, Any]) -> str:
    """One line of a figure for the progress log."""
    cpu = (
        f", cpu client {figure['client_cpu_cores']} server {figure['server_cpu_cores']}"
        f" other {figure['other_cpu_cores']}"
        if "server_cpu_cores" in figure
        else ""
    )
    hits = f", hit ratio {figure['cache_hit_ratio']}" if "cache_hit_ratio" in figure else ""
    return (
        f"p50 {figure['p50_ms']} ms, p95 {figure['p95_ms']} ms, p99 {figure['p99_ms']} ms, "
        f"{figure['rps']} req/s, {figure['errors']} errors{hits}{cpu}"
    )
