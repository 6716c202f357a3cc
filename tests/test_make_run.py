"""`make run` on a fresh data directory: embedded PostgreSQL, migrations, gunicorn, /health within a
minute; Ctrl-C stops the server and the database cleanly."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.live_server_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(process)
    return found


def call(port: int, key: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_make_run_serves_health_on_the_embedded_database_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    api_key = "mem0_make-run-test-key-000000000000000"
    env.update(PORT=str(port), HOST="127.0.0.1", MEM0G_DATA_DIR=str(tmp_path), WEB_CONCURRENCY="2", API_KEYS=api_key)
    log = (tmp_path / "server.log").open("w+")
    started = time.monotonic()
    server = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        body = None
        while time.monotonic() - started < 180 and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    body = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        assert body is not None, f"no /health within 180 s; server output:\n{log.read()}"
        assert body["status"] == "healthy" and body["database"] == "ok"
        pgdata = (tmp_path / "pgdata").resolve()
        assert (pgdata / "PG_VERSION").exists()
        assert postgres_processes(pgdata), "the embedded PostgreSQL should be running"
        workers = [
            p for p in psutil.Process(server.pid).children(recursive=True) if "gunicorn" in " ".join(p.cmdline())
        ]
        assert len(workers) >= 3, "a gunicorn master and two workers"
        job_workers = [p for p in psutil.Process(server.pid).children(recursive=True) if p.cmdline()[-1:] == ["worker"]]
        assert len(job_workers) == 1, "one background-job worker (TASK_WORKERS defaults to 1)"
        # An async add is done by that worker, on the database serve handed it.
        event = call(
            port, api_key, "POST", "/v3/memories/add/", {"messages": "I love tea", "user_id": "a", "async_mode": True}
        )
        assert event["status"] == "PENDING"
        while event["status"] in ("PENDING", "RUNNING") and time.monotonic() - started < 150:
            time.sleep(0.5)
            event = call(port, api_key, "GET", f"/v1/event/{event['event_id']}/")
        assert event["status"] == "SUCCEEDED", event
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 15
    while postgres_processes(pgdata) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert postgres_processes(pgdata) == [], "Ctrl-C must stop the embedded PostgreSQL"
    log.seek(0)
    output = log.read()
    assert "Traceback" not in output, output
    assert "mem0g stopped." in output
