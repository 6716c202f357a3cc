"""``manage.py bench load --url URL --api-key KEY --clients N --duration S``: many clients at once
against a running server, over HTTP, as the Mem0 SDK calls it.

Each client is a thread with its own keep-alive connection that sends, back to back, a mix of
operations: search (``POST /v3/memories/search/``), add (``POST /v3/memories/add/``, verbatim unless
``--infer``), get, update and delete (``/v1/memories/{id}/``) and list (``POST /v3/memories/``),
over ``--users`` users. Each search question gets a distinct tail unless ``--repeat-queries``
(the server's cache of recent query vectors would otherwise answer most of them without the
model). Before the clock starts the clients add ``--seed-memories`` memories, so
gets, updates and deletes have something to act on. It reports requests/s, and per operation the
count, the errors, the client-side p50/p95/p99 and the p50 of every ``Server-Timing`` stage.

The server's rate limit counts these requests too: start it with a limit the run cannot reach
(``RATE_LIMIT_REQUESTS=100000000 RATE_LIMIT_BURST=0``); refused calls are counted as 429s.
No Django in here: the command only parses options and prints.
"""

import http.client
import json
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy

from memories.bench.data import synthetic_fact, synthetic_question

# Share of each operation in the mix: reads dominate, as in an assistant that searches before it answers.
MIX: dict[str, float] = {"search": 0.40, "add": 0.20, "get": 0.15, "list": 0.10, "update": 0.10, "delete": 0.05}


@dataclass
class Sample:
    op: str
    status: int
    ms: float
    timing: dict[str, float]
    at: float = 0.0  # time.perf_counter() when the call returned (for timelines of a failure run)


@dataclass
class Shared:
    """Memory ids the clients made and may read, change or delete."""

    ids: list[tuple[str, str]] = field(default_factory=list)  # (memory id, user id)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, memory_id: str, user: str) -> None:
        with self.lock:
            self.ids.append((memory_id, user))

    def pick(self, rng: random.Random, remove: bool = False) -> tuple[str, str] | None:
        with self.lock:
            if not self.ids:
                return None
            index = rng.randrange(len(self.ids))
            if remove:
                self.ids[index], self.ids[-1] = self.ids[-1], self.ids[index]
                return self.ids.pop()
            return self.ids[index]


def parse_server_timing(header: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in (header or "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if duration:
            try:
                out[name] = float(duration)
            except ValueError:
                pass
    return out


class Client:
    def __init__(self, url: str, api_key: str, *, timeout: float = 60.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be an http(s) URL, not {url!r}")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.base = parts.path.rstrip("/")
        self.headers = {"Authorization": f"Token {api_key}", "Content-Type": "application/json"}
        self.timeout = timeout
        self.connection = self._connect()

    def _connect(self):
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=self.timeout)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, float], float]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.connection.request(method, self.base + path, body=data, headers=self.headers)
                response = self.connection.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: once more on a new one.
                self.connection.close()
                self.connection = self._connect()
                if attempt == 2:
                    raise
        ms = (time.perf_counter() - started) * 1000
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = self._connect()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return response.status, payload, parse_server_timing(response.getheader("Server-Timing")), ms


def _fact(rng: random.Random) -> str:
    return synthetic_fact(rng)[1]


def _question(rng: random.Random) -> str:
    return synthetic_question(rng)


class LoadRun:
    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        clients: int,
        duration: float,
        users: int,
        seed_memories: int,
        infer: bool = False,
        seed: int = 1,
        mix: dict[str, float] | None = None,
        repeat_queries: bool = False,
    ):
        self.repeat_queries = repeat_queries
        self.url, self.api_key = url, api_key
        self.clients, self.duration, self.users = clients, duration, users
        self.seed_memories, self.infer, self.seed = seed_memories, infer, seed
        self.mix = mix or MIX
        self.shared = Shared()
        self.samples: list[list[Sample]] = [[] for _ in range(clients)]
        self.failures: list[str] = []
        self.tag = tag = f"{int(time.time())}-{random.Random(seed).randrange(10**6):06d}"
        self.user_ids = [f"load-{tag}-{n:04d}" for n in range(users)]

    # --- one operation -------------------------------------------------------------------

    def _add(self, client: Client, rng: random.Random) -> tuple[int, dict, float]:
        user = rng.choice(self.user_ids)
        body = {"messages": [{"role": "user", "content": _fact(rng)}], "user_id": user, "infer": self.infer}
        status, payload, timing, ms = client.call("POST", "/v3/memories/add/", body)
        if status == 200 and isinstance(payload, dict):
            for result in payload.get("results") or []:
                if result.get("id") and result.get("event") in ("ADD", "UPDATE", None):
                    self.shared.add(result["id"], user)
        return status, timing, ms

    def _one(self, op: str, client: Client, rng: random.Random) -> tuple[int, dict, float] | None:
        if op == "add":
            return self._add(client, rng)
        if op == "search":
            query = _question(rng)
            if not self.repeat_queries:
                # The synthetic questions repeat, and the server remembers recent query vectors:
                # a distinct tail makes each search embed its query, as real questions mostly do.
                query = f"{query} (#{self.tag}-{rng.randrange(10**9)})"  # distinct across runs too
            body = {"query": query, "filters": {"user_id": rng.choice(self.user_ids)}, "top_k": 10}
            status, _, timing, ms = client.call("POST", "/v3/memories/search/", body)
            return status, timing, ms
        if op == "list":
            body = {"filters": {"user_id": rng.choice(self.user_ids)}}
            status, _, timing, ms = client.call("POST", "/v3/memories/?page_size=20", body)
            return status, timing, ms
        picked = self.shared.pick(rng, remove=op == "delete")
        if picked is None:
            return None
        memory_id = picked[0]
        if op == "get":
            status, _, timing, ms = client.call("GET", f"/v1/memories/{memory_id}/")
        elif op == "update":
            status, _, timing, ms = client.call("PUT", f"/v1/memories/{memory_id}/", {"text": _fact(rng)})
        else:
            status, _, timing, ms = client.call("DELETE", f"/v1/memories/{memory_id}/")
        if op != "delete" and status == 404:
            # Deleted by another client meanwhile: not an error of the server's.
            return None
        return status, timing, ms

    # --- the run -------------------------------------------------------------------------

    def _client(self, index: int, start: threading.Barrier, until: list[float]) -> None:
        rng = random.Random(self.seed * 1000 + index)
        try:
            client = Client(self.url, self.api_key)
            share = self.seed_memories // self.clients + (1 if index < self.seed_memories % self.clients else 0)
            for _ in range(share):
                status, _, _ = self._add(client, rng)
                if status != 200:
                    raise RuntimeError(f"seeding: POST /v3/memories/add/ answered {status}")
        except Exception as exc:  # noqa: BLE001 (reported, and the run goes on without this client)
            self.failures.append(f"client {index}: {exc}")
            start.abort()
            return
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        ops, weights = list(self.mix), list(self.mix.values())
        samples = self.samples[index]
        while time.perf_counter() < until[0]:
            op = rng.choices(ops, weights)[0]
            try:
                outcome = self._one(op, client, rng)
            except Exception as exc:  # noqa: BLE001
                samples.append(Sample(op, 0, 0.0, {}, time.perf_counter()))
                if len(self.failures) < 20:
                    self.failures.append(f"{op}: {exc}")
                continue
            if outcome is not None:
                status, timing, ms = outcome
                samples.append(Sample(op, status, ms, timing, time.perf_counter()))

    def run(self) -> dict[str, Any]:
        until = [float("inf")]
        start = threading.Barrier(self.clients + 1)
        threads = [
            threading.Thread(target=self._client, args=(i, start, until), daemon=True) for i in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        try:
            start.wait()
        except threading.BrokenBarrierError:
            raise RuntimeError("; ".join(self.failures) or "a client failed while seeding") from None
        began = time.perf_counter()
        until[0] = began + self.duration
        for thread in threads:
            thread.join(timeout=self.duration + 120)
        elapsed = time.perf_counter() - began
        return self.report(elapsed)

    def report(self, elapsed: float) -> dict[str, Any]:
        every = [sample for samples in self.samples for sample in samples]
        ok = [s for s in every if 200 <= s.status < 300]
        by_op: dict[str, Any] = {}
        for op in self.mix:
            chosen = [s for s in every if s.op == op]
            good = [s for s in chosen if 200 <= s.status < 300]
            entry: dict[str, Any] = {
                "requests": len(chosen),
                "per_second": round(len(chosen) / elapsed, 1),
                "errors": sum(1 for s in chosen if not 200 <= s.status < 300),
                "statuses": _count(s.status for s in chosen),
            }
            if good:
                p50, p95, p99 = numpy.percentile([s.ms for s in good], [50, 95, 99])
                entry["latency_ms"] = {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2)}
                stages = sorted({name for s in good for name in s.timing})
                entry["server_timing_p50_ms"] = {
                    name: round(statistics.median(s.timing.get(name, 0.0) for s in good), 3) for name in stages
                }
            by_op[op] = entry
        latencies = [s.ms for s in ok]
        overall = {}
        if latencies:
            p50, p95, p99 = numpy.percentile(latencies, [50, 95, 99])
            overall = {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2)}
        return {
            "config": {
                "url": self.url,
                "clients": self.clients,
                "duration_s": self.duration,
                "users": self.users,
                "seed_memories": self.seed_memories,
                "infer": self.infer,
                "repeat_queries": self.repeat_queries,
                "mix": self.mix,
            },
            "elapsed_s": round(elapsed, 2),
            "requests": len(every),
            "ok": len(ok),
            "errors": len(every) - len(ok),
            "requests_per_second": round(len(every) / elapsed, 1),
            "ok_per_second": round(len(ok) / elapsed, 1),
            "latency_ms": overall,
            "operations": by_op,
            "failures": self.failures[:20],
        }


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


def print_report(report: dict[str, Any], write) -> None:
    config = report["config"]
    write(
        f"bench load: {config['clients']} clients for {report['elapsed_s']} s against {config['url']} "
        f"({config['users']} users, {config['seed_memories']} memories seeded, infer {config['infer']})"
    )
    latency = report["latency_ms"]
    write(
        f"{report['requests']} requests, {report['requests_per_second']}/s ({report['ok_per_second']}/s answered 2xx, "
        f"{report['errors']} errors); all 2xx: p50 {latency.get('p50', '-')} ms, p95 {latency.get('p95', '-')} ms, "
        f"p99 {latency.get('p99', '-')} ms"
    )
    write(f"  {'operation':<9}{'count':>8}{'/s':>8}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  server p50 ms")
    for op, entry in report["operations"].items():
        nan = float("nan")
        lat = entry.get("latency_ms", {})
        stages = entry.get("server_timing_p50_ms", {})
        staged = " ".join(f"{name} {value:.2f}" for name, value in stages.items())
        write(
            f"  {op:<9}{entry['requests']:>8}{entry['per_second']:>8}{entry['errors']:>8}"
            f"{lat.get('p50', nan):>9.1f}{lat.get('p95', nan):>9.1f}{lat.get('p99', nan):>9.1f}"
            f"  {staged}"
        )
        if entry["errors"]:
            write(f"  {'':<9}statuses {entry['statuses']}")
    for failure in report["failures"]:
        write(f"  failure: {failure}")
