"""The official Mem0 TypeScript SDK (npm mem0ai 3.3.1) against a live mem0g, when node is present."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.services import apikey_create
from memories.models import Memory

TS_DIR = Path(__file__).resolve().parent / "ts"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def node_sdk():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: the TypeScript SDK check needs them")
    if not (TS_DIR / "node_modules" / "mem0ai").is_dir():
        subprocess.run([npm, "ci"], cwd=TS_DIR, check=True, capture_output=True, timeout=300)
    return node


def test_the_typescript_sdk_adds_lists_searches_and_deletes(node_sdk, live_server, project):
    key = apikey_create(project=project, name="ts", scopes="read,write")[1]
    env = {**os.environ, "MEM0_TELEMETRY": "false", "MEM0G_URL": live_server.url, "MEM0G_API_KEY": key}
    run = subprocess.run([node_sdk, "sdk_check.mjs"], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert out["orgId"] == str(project.organization_id) and out["projectId"] == str(project.id)
    assert [r["memory"] for r in out["added"]["results"]] == ["User loves green tea"]
    assert out["raw"]["results"][0]["memory"] == "raw note from typescript"
    assert out["all"]["count"] == 2
    assert out["found"]["results"][0]["memory"] == "User loves green tea"
    assert out["deleted"]["message"] == "Memory deleted successfully!"
    assert [m["memory"] for m in out["after"]["results"]] == ["raw note from typescript"]
    assert list(Memory.objects.values_list("memory", flat=True)) == ["raw note from typescript"]
