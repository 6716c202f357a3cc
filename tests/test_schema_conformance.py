"""Every operation of the live OpenAPI document answers as documented: schemathesis sends requests
generated from the schema (its examples first, then a bounded number of random ones) to the live
server with an owner key, and checks each answer's status code, content type and body against what
the schema says of that operation. The project holds real memories, relationships, events, exports
and webhooks first, and the path examples name them, so the reads answer real bodies."""

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import apikey_create

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Random requests per operation, beside the schema's own examples; keeps the module near a minute.
MAX_EXAMPLES = 4
# Operations that delete what the others read: run in a test of their own, after a fresh seed.
DESTRUCTIVE = {("POST", "/reset")}


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value) -> bytes:
    """Archive imports: a JSON value per line (a string body is sent as it is)."""
    if isinstance(value, (bytes, str)):
        return value.encode() if isinstance(value, str) else value
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _destructive(method: str, path: str) -> bool:
    return method.upper() == "DELETE" or (method.upper(), path) in DESTRUCTIVE


def _seed(base_url: str, key: str, project) -> dict[str, str]:
    """Memories of a user, an agent and a run (one edited, one related to another), an add event,
    an export, a webhook and a profile job; returns the ids the path examples should name."""
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Token {key}"}, timeout=60)

    def call(method, path, **kwargs):
        response = client.request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text[:500])
        return response.json()

    added = call(
        "POST",
        "/v3/memories/add/",
        json={
            "messages": [
                {"role": "user", "content": "I'm Alice. I prefer Python for scripting."},
                {"role": "user", "content": "I live in Lisbon and I am a vegetarian."},
            ],
            "user_id": "alice",
            "metadata": {"source": "chat"},
        },
    )
    call(
        "POST",
        "/v3/memories/add/",
        json={"messages": "Alice's flight lands at 18:40", "user_id": "alice", "run_id": "trip-42", "infer": False},
    )
    call(
        "POST",
        "/v1/memories/",
        json={"content": "Answers in short sentences", "agent_id": "helper", "app_id": "notes", "immutable": True},
    )
    memories = call("POST", "/v1/memories/search/", json={"query": "Python", "user_id": "alice", "threshold": 0})
    first, second = memories["results"][0]["id"], memories["results"][1]["id"]
    call("PUT", f"/v1/memories/{first}/", json={"text": "Prefers Python and Go for scripting"})
    relationship = call("POST", f"/v1/memories/{first}/relationships", json={"target_id": second, "relation": "rel"})
    export = call("POST", "/v1/exports/", json={"filters": {"user_id": "alice"}})
    webhook = call(
        "POST",
        f"/api/v1/webhooks/projects/{project.id}/",
        json={"name": "hook", "url": "https://example.com/hook", "event_types": ["memory_add"]},
    )
    job = call("POST", "/v2/profiles/jobs/", json={"operation": "trigger", "entity_type": "user", "entity_id": "alice"})
    return {
        "memory_id": first,
        "event_id": added["event_id"],
        "relationship_id": relationship["id"],
        "memory_export_id": export["id"],
        "webhook_id": str(webhook["id"]),
        "job_id": job["job_id"],
        "org_id": str(project.organization_id),
        "project_id": str(project.id),
    }


def _name_seeded_ids(raw: dict, ids: dict[str, str]) -> dict:
    """Point the path examples at the seeded rows (the documented examples are made-up ids)."""
    for item in raw["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "path" and parameter["name"] in ids:
                    parameter.pop("example", None)
                    parameter["examples"] = {"seeded": {"value": ids[parameter["name"]]}}
    return raw


def _load(live_server, project) -> tuple[schemathesis.schemas.BaseSchema, dict]:
    key = apikey_create(project=project, name="owner", scopes="read,write,admin")[1]
    ids = _seed(live_server.url, key, project)
    raw = httpx.get(f"{live_server.url}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    schema = schemathesis.openapi.from_dict(_name_seeded_ids(raw, ids))
    schema.config.update(base_url=live_server.url, request_timeout=60)
    schema.config.generation.update(
        modes=["positive"],
        allow_extra_parameters=False,
        with_security_parameters=False,
        allow_x00=False,
        deterministic=True,
    )
    return schema, {"Authorization": f"Token {key}"}


def _failures(operation, headers: dict) -> list[str]:
    """Send ``operation`` its schema examples, then ``MAX_EXAMPLES`` generated requests; what broke."""
    failures: list[str] = []

    def check(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as group:
            failures.append(str(group).strip()[:1500])

    for strategy in [*operation.get_strategies_from_examples(), operation.as_strategy()]:
        settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )(given(case=strategy)(check))()
    return failures


def _violations(schema, headers: dict, wanted) -> list[str]:
    """Every wanted operation's answers that break its documentation (the first one of each)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    found = []
    for operation in operations:
        if wanted(operation.method, operation.path):
            failures = _failures(operation, headers)
            if failures:
                found.append(f"{operation.method.upper()} {operation.path}: {failures[0]}")
    return found


@pytest.fixture
def fast_limits(settings):
    settings.RATE_LIMIT_REQUESTS = 10**6
    settings.RATE_LIMIT_BURST = 0


def test_every_operation_answers_as_documented(live_server, project, fast_limits):
    schema, headers = _load(live_server, project)
    violations = _violations(schema, headers, lambda method, path: not _destructive(method, path))
    assert not violations, "\n\n".join(violations)


def test_every_deleting_operation_answers_as_documented(live_server, project, fast_limits):
    schema, headers = _load(live_server, project)
    violations = _violations(schema, headers, _destructive)
    assert not violations, "\n\n".join(violations)


def test_a_response_breaking_its_schema_is_caught(live_server, project):
    """The checks can fail: a body without a documented required property is a violation."""
    raw = httpx.get(f"{live_server.url}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    ping = raw["paths"]["/v1/ping/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = ping["$ref"].rsplit("/", 1)[1]
    raw["components"]["schemas"][name]["required"].append("not_answered")
    broken = schemathesis.openapi.from_dict(raw)
    key = apikey_create(project=project, name="owner", scopes="read")[1]
    case = broken["/v1/ping/"]["GET"].Case()
    with pytest.raises(FailureGroup, match="not_answered"):
        case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Token {key}"}, checks=CHECKS)
