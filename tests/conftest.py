import json
import os
import weakref

import pytest

from accounts import leases
from accounts.models import Organization, Project
from accounts.selectors import project_default
from memories.inputs import NewMemory, Scope
from memories.services import memories_add

os.environ.setdefault("MEM0_TELEMETRY", "false")


# Every test module's kind, for `make test-fast` (`pytest -m "not system"`) and `make test` (all):
#   core:   services, selectors and pure modules, called directly (real database and model);
#   api:    the HTTP API through Django's test client (and live servers in this process);
#   ui:     the web UI and the admin through Django's test client;
#   system: separate processes (make run, workers, servers, the cluster), a browser, SDK and CLI
#           subprocesses: slow, and left out of the fast loop.
# A module missing here fails the collection: give a new one its kind.
TEST_KINDS = {
    "test_access_matrix": "api",
    "test_request_cost": "api",
    "test_admin": "ui",
    "test_contract_reuse": "api",
    "test_api_auth": "api",
    "test_api_errors": "api",
    "test_api_isolation": "api",
    "test_api_rate_limit": "api",
    "test_archives": "core",
    "test_async_ingestion": "system",
    "test_bench": "core",
    "test_bench_load": "system",
    "test_change_table": "core",
    "test_bulk_insert": "core",
    "test_citus_readiness": "core",
    "test_cluster": "system",
    "test_configuration": "core",
    "test_decisions": "core",
    "test_deferred_inserts": "core",
    "test_dialect_legacy": "api",
    "test_dialect_memory_layer": "api",
    "test_dialect_oss": "api",
    "test_dialect_platform_admin": "api",
    "test_dialect_platform_more": "api",
    "test_docker_compose": "core",
    "test_embedded_restart": "system",
    "test_embedding": "core",
    "test_examples": "system",
    "test_extraction": "core",
    "test_extraction_quality": "core",
    "test_filters": "core",
    "test_graph_admin": "ui",
    "test_graph_api": "api",
    "test_graph_autolink": "core",
    "test_graph_relations": "core",
    "test_graph_services": "core",
    "test_health": "api",
    "test_hosts": "api",
    "test_hybrid_search": "core",
    "test_search_statements": "core",
    "test_import_contracts": "core",
    "test_ingest_concurrency": "core",
    "test_ingest_pipeline": "core",
    "test_kept_connections": "core",
    "test_key_cache": "system",
    "test_key_commands": "core",
    "test_live_servers": "system",
    "test_llm": "core",
    "test_llm_real_server": "system",
    "test_login_throttle": "ui",
    "test_make_run": "system",
    "test_mcp": "api",
    "test_mcp_access": "api",
    "test_mem0_cli": "system",
    "test_mem0_flags": "api",
    "test_mem0_sdk": "system",
    "test_mem0_ts_sdk": "system",
    "test_memory_crud": "core",
    "test_memory_search": "core",
    "test_memory_vectors": "core",
    "test_memory_validation": "core",
    "test_moments": "core",
    "test_openapi": "api",
    "test_paging": "core",
    "test_ops": "api",
    "test_rate_lease": "core",
    "test_rate_limit_processes": "system",
    "test_request_limits": "api",
    "test_review": "ui",
    "test_schema_conformance": "system",
    "test_server_timing": "api",
    "test_site_templates": "ui",
    "test_sources": "core",
    "test_ui_access": "ui",
    "test_ui_browser": "system",
    "test_ui_graph": "ui",
    "test_ui_seed_demo": "ui",
    "test_ui_views": "ui",
    "test_unknown_fields": "api",
    "test_webhook_security": "api",
}


def pytest_collection_modifyitems(config, items):
    """Mark every test with its module's kind (``TEST_KINDS``); a module without one is an error."""
    unmarked = set()
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        kind = TEST_KINDS.get(module)
        if kind is None:
            unmarked.add(module)
        else:
            item.add_marker(getattr(pytest.mark, kind))
    if unmarked:
        raise pytest.UsageError(
            f"tests/conftest.py TEST_KINDS has no kind (core, api, ui or system) for: {', '.join(sorted(unmarked))}"
        )


@pytest.fixture
def project(db) -> Project:
    return project_default()


@pytest.fixture
def other_project(db) -> Project:
    organization = Organization.objects.create(name="Other org", slug="other-org")
    return Project.objects.create(organization=organization, name="Other", slug="other")


@pytest.fixture
def add():
    """Store raw memories through the real service: add(project, "text", user_id="alice", ...)."""

    def _add(project, *texts, user_id=None, agent_id=None, app_id=None, run_id=None, now=None, **fields):
        scope = Scope(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id)
        items = [NewMemory(text=text, scope=scope, **fields) for text in texts]
        created = memories_add(project=project, items=items, now=now)
        return created[0] if len(created) == 1 else created

    return _add


@pytest.fixture(scope="session", autouse=True)
def _short_lived_connections():
    """Live-server tests answer in threads; without this each thread would keep its database
    connection open past the test (CONN_MAX_AGE) and block dropping the test database."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session", autouse=True)
def _metrics_written_per_request():
    """Request metrics written as each request is answered (METRICS_FLUSH_SECONDS=0), inside the
    test's transaction, rather than by a background thread whose connection would outlive it; the
    deferred writer has its own tests (tests/test_server_timing.py)."""
    from django.conf import settings

    settings.METRICS_FLUSH_SECONDS = 0


@pytest.fixture(scope="session", autouse=True)
def _each_password_hashed_once():
    """Django's real PBKDF2 (1,000,000 rounds, ~0.3 s of CPU) runs once per distinct password, not
    once per user created or login made: ``make_password`` and ``verify_password`` are remembered per
    (password, stored hash, hasher settings), and both are functions of exactly those. The hash is
    still real, logins still check it; only the same computation is not repeated hundreds of times
    (the UI and admin fixtures create a user with a password for nearly every test)."""
    from django.conf import settings
    from django.contrib.auth import base_user, hashers
    from django.contrib.auth import models as auth_models

    real_make, real_verify = hashers.make_password, hashers.verify_password
    made, verified = {}, {}

    def make_password(password, salt=None, hasher="default"):
        if not isinstance(password, str) or salt is not None or hasher != "default":
            return real_make(password, salt, hasher)
        key = (password, tuple(settings.PASSWORD_HASHERS))
        if key not in made:
            made[key] = real_make(password)
        return made[key]

    def verify_password(password, encoded, preferred="default"):
        if not isinstance(password, str) or not isinstance(encoded, str) or preferred != "default":
            return real_verify(password, encoded, preferred)
        key = (password, encoded, tuple(settings.PASSWORD_HASHERS))
        if key not in verified:
            verified[key] = real_verify(password, encoded)
        return verified[key]

    patched = [(base_user, "make_password"), (auth_models, "make_password"), (hashers, "verify_password")]
    originals = [getattr(module, name) for module, name in patched]
    base_user.make_password = auth_models.make_password = make_password
    hashers.verify_password = verify_password
    yield
    for (module, name), original in zip(patched, originals, strict=True):
        setattr(module, name, original)


@pytest.fixture(scope="session", autouse=True)
def _flush_keeps_what_migrate_made():
    """After a ``transaction=True`` test Django empties every table (one TRUNCATE), then sends
    ``post_migrate`` so that contenttypes and auth write their rows again, the same rows with new
    ids: about 0.1 s per test, half the cost of the flush. Here the flush empties every table but
    those two (``django_content_type``, ``auth_permission``), which then already hold exactly what
    ``post_migrate`` would have written, and sends no signal. Each test still starts from empty
    tables. Should any other ``post_migrate`` receiver be connected (an app that writes rows of its
    own on migrate), or a test ask for ``available_apps`` or a serialized rollback, Django's own
    flush runs."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.core.management.color import no_style
    from django.db import connections
    from django.db.models.signals import post_migrate
    from django.test import TransactionTestCase

    kept = {ContentType._meta.db_table, Permission._meta.db_table}
    known = {
        "django.contrib.contenttypes.management.create_contenttypes",
        "django.contrib.auth.management.create_permissions",
    }

    def only_known_receivers() -> bool:
        for _key, receiver, _is_async in post_migrate.receivers:
            receiver = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
            if receiver is not None and f"{receiver.__module__}.{receiver.__qualname__}" not in known:
                return False
        return True

    standard = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self):
        if self.available_apps is not None or self.serialized_rollback or not only_known_receivers():
            return standard(self)
        for db_name in self._databases_names(include_mirrors=False):
            connection = connections[db_name]
            tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
            sql = connection.ops.sql_flush(no_style(), [table for table in tables if table not in kept])
            connection.ops.execute_sql_flush(sql)

    TransactionTestCase._fixture_teardown = _fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = standard


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Start every test with an empty cache and no rate-limit leases. (Rate-limit counters and
    metrics live in the database, accounts/counters.py: rolled back, or flushed, with the test's
    data; this process's leases of their slots, accounts/leases.py, would outlive them.)"""
    from django.core.cache import cache

    cache.clear()
    leases.forget()
    yield
    cache.clear()
    leases.forget()


@pytest.fixture
def make_key(db):
    """make_key(project, scopes="read,write", user_id=None) -> the raw key."""
    from accounts.services import apikey_create

    def _make(project, scopes="read,write", user_id=None, name="test"):
        return apikey_create(project=project, name=name, scopes=scopes, user_id=user_id)[1]

    return _make


@pytest.fixture
def api(client):
    """api(method, path, key=None, header="token", **kwargs) -> response, through Django's test client."""

    def _call(method, path, key=None, header="token", data=None, **extra):
        if key is not None:
            if header == "token":
                extra["HTTP_AUTHORIZATION"] = f"Token {key}"
            elif header == "bearer":
                extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
            else:
                extra["HTTP_X_API_KEY"] = key
        kwargs = {"content_type": "application/json"} if data is not None else {}
        if data is not None:
            kwargs["data"] = data if isinstance(data, (str, bytes)) else json.dumps(data)
        return getattr(client, method.lower())(path, **kwargs, **extra)

    return _call


def error_of(response, status: int, code: str) -> dict:
    """Assert the one error format and return the body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code", "request_id", "success", "error", "timestamp"}
    assert body["code"] == code and body["error"]["code"] == code
    assert body["success"] is False
    assert body["detail"] == body["error"]["message"] and body["detail"]
    assert body["request_id"] == body["error"]["request_id"] == response["X-Request-ID"]
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return body


@pytest.fixture
def llm_server(settings):
    """A local OpenAI-compatible server (tests/llm_server.py) with the LLM settings pointing at it:
    script its answers with server.reply(...), .reply_raw(...), .fail(500), .stall(seconds).

    The client's patience is generous, so an answer that is due never times out on a loaded
    machine; a test about timeouts sets LLM_TIMEOUT_SECONDS itself, below its stalls."""
    from tests.llm_server import LLMServer

    with LLMServer() as server:
        settings.LLM_BASE_URL = server.base_url
        settings.LLM_API_KEY = "test-llm-key"
        settings.LLM_MODEL = "test-model"
        settings.LLM_TIMEOUT_SECONDS = 10
        settings.LLM_MAX_RETRIES = 1
        yield server
    assert not server.unscripted, f"{server.unscripted} LLM request(s) had no scripted reply"


def _without_counter_queries(queries: list[str]) -> list[str]:
    """The queries a request made, less those of the shared rate-limit and metrics counters
    (``accounts/counters.py``: one statement each per request, wrapped in a savepoint inside a
    test's transaction). Pinned query counts are about what a view does, not this bookkeeping."""
    from accounts.counters import TABLE

    kept, i = [], 0
    while i < len(queries):
        sql = queries[i]
        if sql.startswith("SAVEPOINT ") and i + 1 < len(queries) and TABLE in queries[i + 1]:
            j = i + 1
            while j < len(queries) and TABLE in queries[j]:
                j += 1
            if j < len(queries) and queries[j] == f"RELEASE {sql}":
                i = j + 1
                continue
        if TABLE not in sql:
            kept.append(sql)
        i += 1
    return kept


@pytest.fixture
def django_assert_max_num_queries():
    """pytest-django's fixture of that name, without the counter queries (see above)."""
    from contextlib import contextmanager

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    @contextmanager
    def _assert(num: int, info: str | None = None):
        with CaptureQueriesContext(connection) as context:
            yield context
        queries = _without_counter_queries([q["sql"] for q in context.captured_queries])
        if len(queries) > num:
            listing = "\n".join(f"{n}. {sql}" for n, sql in enumerate(queries, 1))
            pytest.fail(f"Expected to perform {num} queries or less but {len(queries)} were done\n{listing}")

    return _assert


@pytest.fixture
def live_server(live_server):
    """pytest-django's live server, with the embedding model loaded first: loading it cold takes
    several seconds, longer than an HTTP client's default timeout, so a module run on its own would
    otherwise see its first request time out."""
    from memories.embedding import get_embedder

    get_embedder()
    return live_server


@pytest.fixture
def walks(db):
    """PostgreSQL would rather sort a handful of rows than walk an HNSW index: here it walks
    wherever the statement lets it (a sort stays possible where nothing else is). For the tests of
    the HNSW paths (memories and messages)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_sort")


@pytest.fixture
def embedded(monkeypatch):
    """The texts the add path hands to the model, call by call."""
    from memories.services import records

    calls = []

    def spying(real):  # at once, or beside the add (embed_later)
        def spy(texts):
            calls.append(list(texts))
            return real(texts)

        return spy

    monkeypatch.setattr(records, "embed_texts", spying(records.embed_texts))
    monkeypatch.setattr(records, "embed_later", spying(records.embed_later))
    return calls
