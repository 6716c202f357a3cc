"""The examples in examples/, run against a live mem0g: the FastAPI chat app through FastAPI's test
client, the preferences flow end to end and the analytics report with its chart. The examples use
only the official Mem0 SDK and httpx; the only stand-in is a tiny local OpenAI-compatible server."""

import contextlib
import importlib.util
import io
import json
import logging
import os
import socket
import struct
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from accounts.models import ApiKey
from accounts.services import apikey_revoke
from graph.services import relationship_create
from memories.models import Memory

pytestmark = pytest.mark.django_db(transaction=True)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    """An example module, from its file (examples/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"mem0g_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """The three example modules, imported the way the SDK likes: telemetry off, a throw-away HOME
    (it writes ~/.mem0 on import)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEM0_TELEMETRY", "false")
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        return {name: load(name) for name in ("chat_with_memory", "user_preferences", "memory_analytics")}


@pytest.fixture
def key(project, make_key):
    return make_key(project, scopes="read,write", name="examples")


def chat_client(examples, **settings):
    from fastapi.testclient import TestClient

    chat = examples["chat_with_memory"]
    settings.setdefault("memory_timeout", 60)  # the shared test machine can be slow; the default is 5 s
    return TestClient(chat.create_app(chat.Settings(**settings)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- chat_with_memory.py ----------------------------------------------------------------------


def test_chat_answers_with_a_memory_stored_by_an_earlier_chat(examples, live_server, key, caplog):
    caplog.set_level(logging.INFO, logger="chat_with_memory")
    with chat_client(examples, mem0g_url=live_server.url, mem0g_api_key=key) as app:
        first = app.post("/chat", json={"user_id": "alice", "message": "Hi! I am vegetarian and I love spicy food."})
        assert first.status_code == 200
        assert first.json()["memories_used"] == [] and "don't know anything about you" in first.json()["reply"]
        # The test client returns once the background task has run: the exchange is stored.
        stored = Memory.objects.filter(user_id="alice").order_by("memory")
        assert [(m.memory, m.categories) for m in stored] == [
            ("User is vegetarian", ["preferences"]),
            ("User loves spicy food", ["preferences"]),
        ]
        assert all(m.metadata == {"source": "chat"} for m in stored)

        second = app.post("/chat", json={"user_id": "alice", "message": "What should I cook for dinner tonight?"})
        body = second.json()
        used = {m["memory"] for m in body["memories_used"]}
        assert used == {"User is vegetarian", "User loves spicy food"} and body["llm"] is False
        assert '"User is vegetarian"' in body["reply"] and '"User loves spicy food"' in body["reply"]
        assert all(0 < m["score"] <= 1 for m in body["memories_used"])
        # A question adds no fact, and the assistant's own words are not taken as facts about the user.
        assert Memory.objects.filter(user_id="alice").count() == 2

        other = app.post("/chat", json={"user_id": "bob", "message": "What should I cook for dinner tonight?"})
        assert other.json()["memories_used"] == []

        app.post("/chat", json={"user_id": "alice", "message": "I live in Lisbon."})
        summary = app.get("/memories/summary", params={"user_id": "alice"}).json()
        assert summary["total_memories"] == 3 and summary["categories"] == {"preferences": 2}
        assert sorted(summary["preferences"]) == ["User is vegetarian", "User loves spicy food"]
        assert summary["recent"][0] == "User lives in Lisbon" and len(summary["recent"]) == 3

        assert app.post("/chat", json={"user_id": "has space", "message": "hi"}).status_code == 422

        # The memory server starts refusing the key: the chat goes on without memories.
        apikey_revoke(api_key=ApiKey.objects.get(prefix=key[:12]))
        caplog.clear()
        blind = app.post("/chat", json={"user_id": "alice", "message": "What should I cook for dinner tonight?"})
        assert blind.status_code == 200 and blind.json()["memories_used"] == []
        assert "memory search failed for user alice: AuthenticationError" in caplog.text
        assert "storing the exchange of user alice failed" in caplog.text
        assert app.get("/memories/summary", params={"user_id": "alice"}).status_code == 503


def test_chat_works_while_the_memory_server_is_down(examples, caplog):
    caplog.set_level(logging.INFO, logger="chat_with_memory")
    down = f"http://127.0.0.1:{free_port()}"
    with chat_client(examples, mem0g_url=down, mem0g_api_key="mem0_not-reachable-anyway") as app:
        assert f"memory server {down} unavailable" in caplog.text
        reply = app.post("/chat", json={"user_id": "alice", "message": "I love green tea"})
        assert reply.status_code == 200
        assert reply.json()["memories_used"] == [] and "I love green tea" in reply.json()["reply"]
        assert "exchange of user alice not stored: memory server unavailable" in caplog.text
        summary = app.get("/memories/summary", params={"user_id": "alice"})
        assert summary.status_code == 503 and summary.json() == {"detail": "The memory server is unavailable"}


def test_a_memory_server_that_hangs_does_not_hold_the_chat(examples, caplog):
    caplog.set_level(logging.INFO, logger="chat_with_memory")
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with chat_client(examples, mem0g_url=url, mem0g_api_key="mem0_whatever", memory_timeout=0.5) as app:
            reply = app.post("/chat", json={"user_id": "alice", "message": "I love green tea"})
            assert reply.status_code == 200 and reply.json()["memories_used"] == []
        assert f"memory server {url} unavailable: ReadTimeout" in caplog.text


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions that answers with the system prompt it was sent."""

    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.requests.append((self.path, self.headers.get("Authorization"), body))
        answer = {"choices": [{"message": {"role": "assistant", "content": "LLM: " + body["messages"][0]["content"]}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_chat_through_an_openai_compatible_llm(examples, live_server, key, project, add):
    add(project, "User loves spicy food", user_id="alice")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    FakeLLM.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    llm = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        with chat_client(
            examples,
            mem0g_url=live_server.url,
            mem0g_api_key=key,
            llm_base_url=llm,
            llm_api_key="sk-t",
            llm_model="tiny",
        ) as app:
            body = app.post("/chat", json={"user_id": "alice", "message": "What should I cook tonight?"}).json()
            assert body["llm"] is True and body["reply"].startswith("LLM: You are a helpful assistant.")
            assert "- User loves spicy food" in body["reply"]
            path, auth, sent = FakeLLM.requests[0]
            assert (path, auth, sent["model"]) == ("/v1/chat/completions", "Bearer sk-t", "tiny")
            assert sent["messages"][1] == {"role": "user", "content": "What should I cook tonight?"}
            server.shutdown()
            server.server_close()
            fallback = app.post("/chat", json={"user_id": "alice", "message": "What should I cook tonight?"}).json()
            assert fallback["llm"] is False and '"User loves spicy food"' in fallback["reply"]
    finally:
        server.server_close()


# --- user_preferences.py ----------------------------------------------------------------------


def test_preferences_flow(examples, live_server, key):
    flow = examples["user_preferences"]
    client = flow.MemoryClient(api_key=key, host=live_server.url)
    lines = []
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Token {key}"}) as http:
        seen = flow.run(client, http, "carol", say=lines.append)

    assert {c: [(r["event"], r["memory"]) for r in results] for c, results in seen["stored"].items()} == {
        "food": [("ADD", "User is vegetarian"), ("ADD", "User loves spicy food")],
        "travel": [("ADD", "User prefers window seats on flights")],
        "communication": [("ADD", "User prefers emails over phone calls")],
        "tools": [("ADD", "User's favourite editor is Vim")],
    }
    vim = Memory.objects.get(pk=seen["stored"]["tools"][0]["id"])
    assert vim.valid_from == flow.SAID_ON  # the timestamp sent through the SDK
    assert seen["by_category"] == {
        "food": ["User is vegetarian", "User loves spicy food"],
        "travel": ["User prefers window seats on flights"],
        "communication": ["User prefers emails over phone calls"],
        "tools": ["User's favourite editor is Vim"],
    }
    assert seen["travel"] == ["User prefers window seats on flights"]
    assert seen["found"][0] == "User prefers window seats on flights"
    assert seen["history"] == [
        ("ADD", None, "User prefers window seats on flights"),
        ("UPDATE", "User prefers window seats on flights", flow.EDIT),
    ]
    assert Memory.objects.get(pk=seen["stored"]["travel"][0]["id"]).memory == flow.EDIT

    # The change supersedes the old preference, which is closed at the time of the change and kept.
    [changed] = seen["changed"]
    assert (changed["event"], changed["memory"], changed["supersedes"]) == (
        "SUPERSEDE",
        "User's favourite editor is Emacs",
        str(vim.id),
    )
    vim.refresh_from_db()
    assert vim.valid_to == flow.CHANGED_ON
    assert seen["now"] == ["User's favourite editor is Emacs"]
    assert seen["then"] == ["User's favourite editor is Vim"]
    assert seen["found_now"] == ["User's favourite editor is Emacs"]
    assert seen["found_then"] == ["User's favourite editor is Vim"]
    assert seen["chain"] == [
        (-1, "User's favourite editor is Vim", "2025-01-10", "2025-09-01"),
        (0, "User's favourite editor is Emacs", "2025-09-01", "now"),
    ]
    assert "== 6. Change a preference (said on 2025-09-01): 'My favourite editor is Emacs.'" in lines


# --- memory_analytics.py ----------------------------------------------------------------------


def test_analytics_report_and_chart(examples, live_server, key, project, other_project, add, settings, tmp_path):
    settings.GRAPH_AUTO_LINK_THRESHOLD = 0  # only the links made here
    day = datetime(2026, 3, 1, 9, tzinfo=UTC)
    tea, coffee, cake = add(project, "Loves tea", "Drinks coffee at work", "Bakes cakes", user_id="alice", now=day)
    add(project, "Likes tea with lemon", user_id="alice", categories=["food"], now=day)
    add(project, "Flies to Oslo", "Prefers aisle seats", user_id="bob", agent_id="travel", categories=["travel"],
        now=day + timedelta(days=1))  # fmt: skip
    add(project, "Runbook: restart nightly", agent_id="ops", categories=["ops", "notes"], now=day + timedelta(days=3))
    add(other_project, "Another project's memory", user_id="mallory", now=day)
    for target, relation in ((coffee, "related_to"), (cake, "related_to")):
        relationship_create(project=project, source_id=tea.id, target_id=target.id, relation=relation)
    lemon = Memory.objects.get(memory="Likes tea with lemon")
    relationship_create(project=project, source_id=lemon.id, target_id=tea.id, relation="part_of")

    analytics = examples["memory_analytics"]
    chart = tmp_path / "report.png"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEM0G_URL", live_server.url)
        patch.setenv("MEM0G_API_KEY", key)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert analytics.main(["--chart", str(chart), "--top", "3"]) == 0
    text = out.getvalue()

    assert "Memories: 7\nUsers: 2 (alice, bob)" in text
    assert "Memories per user:\n  alice" in text and "Memories per category:\n  (none)" in text
    # The numbers, from the report itself.
    client = analytics.MemoryClient(api_key=key, host=live_server.url)
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Token {key}"}) as http:
        report = analytics.build_report(client, http, top=3)
    assert report.total == 7 and report.users == ["alice", "bob"]
    assert report.per_user == {"alice": 4, "bob": 2, "(no user)": 1}
    assert report.per_agent == {"(no agent)": 4, "travel": 2, "ops": 1}
    assert report.per_category == {"(none)": 3, "food": 1, "travel": 2, "ops": 1, "notes": 1}
    assert [(d.isoformat(), added, total) for d, added, total in report.growth] == [
        ("2026-03-01", 4, 4),
        ("2026-03-02", 2, 6),
        ("2026-03-04", 1, 7),
    ]
    assert report.most_linked[0] == (3, str(tea.id), "Loves tea")
    assert {(count, memory) for count, _, memory in report.most_linked[1:]} <= {
        (1, "Drinks coffee at work"),
        (1, "Bakes cakes"),
        (1, "Likes tea with lemon"),
    } and len(report.most_linked) == 3
    assert "  2026-03-04       1      7" in text and "    3  Loves tea  [" in text

    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (1200, 800)
    assert f"Chart: {chart}" in text


# --- as examples/README.md says ------------------------------------------------------------------

README = EXAMPLES / "README.md"
ROOT = EXAMPLES.parent


def readme_commands() -> list[str]:
    """The commands examples/README.md gives (its ``sh`` blocks' lines that start with .venv/bin/)."""
    commands, in_shell = [], False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_shell = line == "```sh"
        elif in_shell and line.startswith(".venv/bin/"):
            commands.append(line.split("  #")[0].strip())
    return commands


def readme_command(prefix: str) -> list[str]:
    [command] = [c for c in readme_commands() if c.startswith(prefix)]
    return command.split()


@pytest.fixture
def readme_dir(tmp_path):
    """A working directory laid out as the repository root for the README's relative paths
    (.venv, examples), so a command's outputs (the chart) land in tmp_path."""
    for name in (".venv", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


@pytest.fixture
def readme_env(live_server, key, tmp_path):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEM0")},
        "MEM0G_URL": live_server.url,
        "MEM0G_API_KEY": key,
        "HOME": str(tmp_path),  # the SDK writes ~/.mem0
    }


def run_readme(command: list[str], cwd: Path, env: dict) -> str:
    import subprocess

    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def test_the_readme_setup_installs_what_every_example_imports():
    """What `.venv/bin/pip install -r examples/requirements.txt` brings covers every module the
    examples import (with their dependencies), and this virtualenv has it all."""
    import ast
    import subprocess
    from importlib import metadata

    install = readme_command(".venv/bin/pip install")
    assert install == [".venv/bin/pip", "install", "-r", "examples/requirements.txt"]
    listed = {
        line.split("==")[0].strip().lower()
        for line in (EXAMPLES / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    def closure(names: set[str]) -> set[str]:
        seen, todo = set(), list(names)
        while todo:
            name = todo.pop().lower().replace("_", "-")
            if name in seen:
                continue
            seen.add(name)
            try:
                requirements = metadata.requires(name) or []
            except metadata.PackageNotFoundError:  # a dependency its environment marker leaves out
                continue
            for requirement in requirements:
                if "extra ==" not in requirement:
                    todo.append(requirement.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0]
                                .split("!")[0].split("~")[0].strip())  # fmt: skip
        return seen

    provided = closure(listed)
    distributions = metadata.packages_distributions()
    for example in EXAMPLES.glob("*.py"):
        tree = ast.parse(example.read_text())
        modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}  # fmt: skip
        modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level}  # fmt: skip
        for module in sorted(modules - set(sys.stdlib_module_names)):
            owners = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            assert owners & provided, f"{example.name} imports {module}, which examples/requirements.txt does not bring"

    dry_run = subprocess.run(
        [str(ROOT / install[0]), "install", "--dry-run", "--no-deps", "-r", str(ROOT / install[3])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry_run.returncode == 0 and "Would install" not in dry_run.stdout, dry_run.stdout[-2000:]


def test_user_preferences_runs_as_the_readme_says(readme_dir, readme_env):
    out = run_readme(readme_command(".venv/bin/python examples/user_preferences.py"), readme_dir, readme_env)
    assert "User's favourite editor is Emacs" in out and "User's favourite editor is Vim" in out


def test_memory_analytics_runs_as_the_readme_says(readme_dir, readme_env, project, add):
    add(project, "Loves tea", "Bakes cakes", user_id="alice")
    command = readme_command(".venv/bin/python examples/memory_analytics.py")
    out = run_readme(command, readme_dir, readme_env)
    assert "Memories: 2\nUsers: 1 (alice)" in out
    assert (readme_dir / command[-1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_chat_app_runs_as_the_readme_says(readme_dir, readme_env):
    import subprocess
    import time

    command = readme_command(".venv/bin/uvicorn chat_with_memory:app")
    port = free_port()
    command[command.index("--port") + 1] = str(port)  # the README's 8001 may be taken on a shared machine
    server = subprocess.Popen(command, cwd=readme_dir, env=readme_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/chat",
                    json={"user_id": "dora", "message": "I love spicy food."},
                    timeout=60,
                )
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()[-2000:]
                time.sleep(0.3)
        assert reply.status_code == 200 and reply.json()["memories_used"] == []
        deadline = time.monotonic() + 30
        while not Memory.objects.filter(user_id="dora").exists():
            assert time.monotonic() < deadline, "the chat did not store the exchange"
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
