"""A crash of the whole stack (web, job workers, embedded PostgreSQL: kill -9 of every process) and a
restart on the same data directory: the data is there, and SIGTERM stops everything again, the
embedded PostgreSQL included; so does the exit of a management command run afterwards.

The restart also meets the pids of the crashed processes reused by live ones (as after a container
restart): a live process in the users list of the cluster and in ``postmaster.pid``. After the
restart, PostgreSQL ends the web worker's kept connections, and every request still answers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from mem0g_site.embedded_db import USERS_FILE, embedded_database_users, postgres_processes, process_identity
from tests.test_live_servers import call as status_of

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "mem0_restart-test-key-0000000000000000"

pytestmark = pytest.mark.live_server_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str, body: dict | None = None) -> dict | list:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Token {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # a busy machine: the model loads
        return json.loads(response.read())


def serve(data_dir: Path, log_path: Path, **settings: str) -> tuple[subprocess.Popen, int]:
    """``manage.py serve`` on a free port (``settings``: more environment), once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEM0G_DATABASE_EMBEDDED")}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        MEM0G_DATA_DIR=str(data_dir),
        WEB_CONCURRENCY="1",
        TASK_WORKERS="1",
        API_KEYS=API_KEY,
        **settings,
    )
    log = log_path.open("w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if json.loads(response.read())["database"] == "ok":
                    return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    process.wait()
    log.seek(0)
    pytest.fail(f"serve gave no healthy /health within 90 s:\n{log.read()}")


def add_bees(port: int) -> str:
    """One memory, stored verbatim; its id."""
    added = call(
        port,
        "POST",
        "/v3/memories/add/",
        {"messages": [{"role": "user", "content": "I keep bees"}], "user_id": "kim", "infer": False},
    )
    return added["results"][0]["id"]


def every_request_answers_after_the_server_ends_the_kept_connections(port: int, memory_id: str, pgdata: Path):
    """The web worker keeps a connection per thread (CONN_MAX_AGE). When PostgreSQL ends them (a
    restart, pg_terminate_backend, idle_session_timeout) each is replaced before a request uses it
    (mem0g_site/kept_connections.py): no request fails for it. (Part of the restart test: one
    server start fewer.)"""
    url = f"http://127.0.0.1:{port}/v1/memories/{memory_id}/"
    with ThreadPoolExecutor(8) as pool:  # every thread of the worker opens its connection
        assert set(pool.map(lambda _: status_of(url, API_KEY)[0], range(32))) == {200}
    with psycopg.connect(host=str(pgdata), dbname="mem0g", user="postgres", autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()[0]
    assert ended >= 2, "the web threads' connections (and the job worker's)"
    time.sleep(0.5)  # the goodbyes arrive
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: status_of(url, API_KEY)[0], range(32)))
    assert statuses == [200] * 32


def stack(server: subprocess.Popen, pgdata: Path) -> list[int]:
    """serve, gunicorn's master and workers, the job workers and every PostgreSQL process."""
    children = [child.pid for child in psutil.Process(server.pid).children(recursive=True)]
    return [server.pid, *children, *postgres_processes(pgdata)]


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if process_identity(pid) is not None]
    return alive


def test_kill_9_of_everything_then_restart_then_sigterm_stops_everything(tmp_path):
    data_dir = tmp_path / "data"
    pgdata = data_dir / "pgdata"
    server, port = serve(data_dir, tmp_path / "serve-1.log")
    impostors: list[subprocess.Popen] = []
    try:
        memory_id = add_bees(port)
        assert embedded_database_users(data_dir) == [server.pid]
        crashed = stack(server, pgdata)
        assert len(crashed) >= 5, f"serve, gunicorn master + worker, a job worker, PostgreSQL: {crashed}"
        for pid in crashed:
            os.kill(pid, signal.SIGKILL)
        server.wait()
        assert wait_gone(crashed, 15) == []
        assert postgres_processes(pgdata) == []

        # What the crash left: a postmaster.pid and a users list naming dead processes. Hand the
        # dead pids to live processes, as a restarted container does, so PostgreSQL's own check
        # (is that pid alive?) and a bare liveness check of the users list would both be fooled.
        # As root, PostgreSQL runs as the owner of pgdata: so do the impostors, or PostgreSQL would
        # ignore them (another user's process cannot be a postmaster of its data directory).
        owner = pgdata.stat().st_uid if os.geteuid() == 0 else None
        impostors = [subprocess.Popen(["sleep", "300"], user=owner) for _ in range(2)]
        stale_postmaster = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        for path in [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*.lock")]:
            text = path.read_text()
            assert text.startswith(f"{stale_postmaster}\n")
            path.write_text(f"{impostors[0].pid}\n" + text.split("\n", 1)[1])
        users = json.loads((data_dir / USERS_FILE).read_text())
        assert [user["pid"] for user in users] == [server.pid], "the crashed serve is still listed"
        users.append({"pid": impostors[1].pid, "start": users[0]["start"]})
        (data_dir / USERS_FILE).write_text(json.dumps(users))

        server, port = serve(data_dir, tmp_path / "serve-2.log", RATE_LIMIT_BURST="0")
        memory = call(port, "GET", f"/v1/memories/{memory_id}/")
        assert memory["memory"] == "I keep bees"
        assert embedded_database_users(data_dir) == [server.pid], "dead and reused pids are dropped"
        running = stack(server, pgdata)
        assert len(running) >= 5 and postgres_processes(pgdata)
        every_request_answers_after_the_server_ends_the_kept_connections(port, memory_id, pgdata)

        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        assert wait_gone(running, 20) == [], "SIGTERM must stop web, job workers and PostgreSQL"
        assert postgres_processes(pgdata) == []
        assert time.monotonic() - started < 60
        assert server.returncode in (0, -signal.SIGTERM), (tmp_path / "serve-2.log").read_text()
    finally:
        if server.poll() is None:  # failed before its SIGTERM: stop the whole stack, not serve alone
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        for process in [*impostors]:
            process.kill()
            process.wait()
        for pid in postgres_processes(pgdata):
            os.kill(pid, signal.SIGKILL)

    # A management command after all this starts the cluster and stops it again when it exits.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEM0G_DATABASE_EMBEDDED")}
    env["MEM0G_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "manage.py", "showmigrations", "memories"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "[X]" in result.stdout
    assert wait_gone(postgres_processes(pgdata), 10) == [], "the command must not leave PostgreSQL running"
    assert json.loads((data_dir / USERS_FILE).read_text()) == []


def test_sigterm_of_a_management_command_stops_the_cluster_it_started(tmp_path):
    """A command that does not handle SIGTERM itself still releases the cluster before dying."""
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEM0G_DATABASE_EMBEDDED")}
    env["MEM0G_DATA_DIR"] = str(data_dir)
    stderr = (tmp_path / "stderr.log").open("w")
    command = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", "import time; print('ready', flush=True); time.sleep(300)"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        line = None
        while line not in ("ready\n", ""):  # "" is the end of the output
            line = command.stdout.readline()
        assert line == "ready\n", (tmp_path / "stderr.log").read_text()
        assert postgres_processes(data_dir / "pgdata")
        assert embedded_database_users(data_dir) == [command.pid]
        command.send_signal(signal.SIGTERM)
        command.wait(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == -signal.SIGTERM
    assert wait_gone(postgres_processes(data_dir / "pgdata"), 10) == []
    assert embedded_database_users(data_dir) == []
