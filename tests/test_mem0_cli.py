"""The official Mem0 CLI (``mem0-cli``, pinned in requirements-test.txt), unchanged, against a live
mem0g: add, search, list, get, update and delete, with the key and base URL from the environment
(``MEM0_API_KEY``/``MEM0_BASE_URL``) and from flags. It sends ``"source": "CLI"`` in every body and
``?source=CLI`` on GET and DELETE: our Mem0 dialects ignore and name it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.services import apikey_create
from memories.models import Memory

pytestmark = pytest.mark.django_db(transaction=True)
MEM0 = str(Path(sys.executable).with_name("mem0"))


@pytest.fixture
def key(project):
    return apikey_create(project=project, name="cli", scopes="read,write")[1]


@pytest.fixture
def cli(live_server, key, tmp_path):
    """cli(*args, flags=False) -> the JSON the CLI printed (``--output json``)."""
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # it keeps its config in ~/.mem0
        "MEM0_TELEMETRY": "false",
        "MEM0_BASE_URL": live_server.url,
        "MEM0_API_KEY": key,
        "NO_COLOR": "1",
    }

    def run(*args, flags=False):
        command = [MEM0, *args]
        run_env = dict(env)
        if flags:  # the same through --base-url/--api-key, with nothing in the environment
            del run_env["MEM0_BASE_URL"], run_env["MEM0_API_KEY"]
            command += ["--base-url", live_server.url, "--api-key", key]
        done = subprocess.run(
            command, env=run_env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return json.loads(done.stdout) if "json" in args else done.stdout

    return run


def items(output) -> list[dict]:
    """The memories in what the CLI printed: a list, ``{"results": [...]}``, or its JSON envelope
    ``{"data": ...}`` (one memory or a list)."""
    while isinstance(output, dict) and ("data" in output or "results" in output):
        output = output.get("data", output.get("results"))
    return output if isinstance(output, list) else [output]


def test_the_cli_adds_searches_lists_gets_updates_and_deletes(cli, project):
    added = cli("add", "I love hiking in the Alps", "--user-id", "alice", "--no-infer", "--output", "json")
    memory_id = items(added)[0]["id"]
    assert Memory.objects.get(pk=memory_id).memory == "I love hiking in the Alps"
    cli("add", "I play the cello", "--user-id", "bob", "--no-infer", "--output", "json")

    found = cli("search", "mountains hiking", "--user-id", "alice", "--threshold", "0.1", "--output", "json")
    assert [m["id"] for m in items(found)] == [memory_id]

    listed = cli("list", "--user-id", "alice", "--output", "json", flags=True)
    assert [m["memory"] for m in items(listed)] == ["I love hiking in the Alps"]

    assert items(cli("get", memory_id, "--output", "json"))[0]["memory"] == "I love hiking in the Alps"
    cli("update", memory_id, "I love hiking in the Dolomites", "--output", "json", flags=True)
    assert Memory.objects.get(pk=memory_id).memory == "I love hiking in the Dolomites"
    assert items(cli("get", memory_id, "--output", "json"))[0]["memory"] == "I love hiking in the Dolomites"

    cli("delete", memory_id, "--force", "--output", "json")
    assert not Memory.objects.filter(pk=memory_id).exists()
    cli("delete", "--all", "--user-id", "bob", "--force", "--output", "json")
    assert not Memory.objects.filter(project=project).exists()
