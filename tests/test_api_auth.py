"""Every endpoint: no key -> 401, bad key -> 401, a key without the scope -> 403; the three header
forms the Mem0 world uses all work."""

import json

import pytest

from accounts.models import ApiKey
from accounts.selectors import apikey_authenticate
from accounts.services import apikey_create, apikey_revoke, apikeys_bootstrap
from memories.models import Memory
from tests.conftest import error_of

# Every endpoint: (method, path, scope it needs, body, status when allowed). {mid} is alice's memory,
# {org}/{proj} the key's organisation and project. Extend this list with every new endpoint.
ADD = {"messages": "I love tea", "user_id": "alice"}
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"
HOOK = {"name": "h", "url": "https://example.com/h", "event_types": ["memory_add"]}
ENDPOINTS = [
    ("GET", "/status", None, None, 200),
    ("GET", "/metrics", "admin", None, 200),
    ("GET", "/metrics/prometheus", "admin", None, 200),
    ("GET", "/v1/users/alice/stats", "read", None, 200),
    ("DELETE", "/v1/users/alice/memories", "write", None, 200),
    # Mem0 Platform
    ("GET", "/v1/ping/", None, None, 200),
    ("POST", "/v3/memories/add/", "write", ADD, 200),
    ("POST", "/v3/memories/", "read", {"filters": {"user_id": "alice"}}, 200),
    ("POST", "/v2/memories/", "read", {"filters": {"user_id": "alice"}}, 200),
    ("POST", "/v3/memories/search/", "read", {"query": "tea", "filters": {"user_id": "alice"}}, 200),
    ("POST", "/v2/memories/search/", "read", {"query": "tea", "filters": {"user_id": "alice"}}, 200),
    ("POST", "/v1/memories/search/", "read", {"query": "tea", "user_id": "alice"}, 200),
    ("GET", "/v1/memories/search?query=tea&user_id=alice", "read", None, 200),
    ("GET", "/v1/memories/user/alice", "read", None, 200),
    ("GET", "/v1/memories/?user_id=alice", "read", None, 200),
    ("POST", "/v1/memories/", "write", {"content": "User likes jazz", "user_id": "alice"}, 201),
    ("DELETE", "/v1/memories/?user_id=alice", "write", None, 200),
    ("GET", "/v1/memories/{mid}/", "read", None, 200),
    ("PUT", "/v1/memories/{mid}/", "write", {"text": "User loves oolong tea"}, 200),
    ("DELETE", "/v1/memories/{mid}/", "write", None, 200),
    ("GET", "/v1/memories/{mid}/history/", "read", None, 200),
    ("GET", "/v1/entities/", "read", None, 200),
    ("DELETE", "/v2/entities/user/alice/", "write", None, 200),
    ("PUT", "/v1/batch/", "write", {"memories": [{"memory_id": "{mid}", "text": "edited"}]}, 200),
    ("DELETE", "/v1/batch/", "write", {"memories": [{"memory_id": "{mid}"}]}, 200),
    ("POST", "/v1/feedback/", "write", {"memory_id": "{mid}", "feedback": "POSITIVE"}, 200),
    ("POST", "/v1/exports/", "read", {"schema": {}, "filters": {"user_id": "alice"}}, 201),
    ("POST", "/v1/exports/get/", "read", {"memory_export_id": "00000000-0000-0000-0000-000000000000"}, 404),
    ("POST", "/v1/summary/", "read", {"filters": {"user_id": "alice"}}, 200),
    ("GET", "/api/v1/orgs/organizations/{org}/projects/{proj}/", "read", None, 200),
    ("PATCH", "/api/v1/orgs/organizations/{org}/projects/{proj}/", "admin", {"custom_instructions": "x"}, 200),
    ("DELETE", "/api/v1/orgs/organizations/{org}/projects/{proj}/", "admin", None, 200),
    ("GET", "/api/v1/orgs/organizations/{org}/projects/", "read", None, 200),
    ("POST", "/api/v1/orgs/organizations/{org}/projects/", "admin", {"name": "Second"}, 201),
    ("GET", "/api/v1/orgs/organizations/{org}/projects/{proj}/members/", "read", None, 200),
    # (no user has this email: refused after the checks)
    ("POST", "/api/v1/orgs/organizations/{org}/projects/{proj}/members/", "admin", {"email": "no@example.com"}, 422),
    ("PUT", "/api/v1/orgs/organizations/{org}/projects/{proj}/members/", "admin", {"email": "no@example.com"}, 422),
    ("DELETE", "/api/v1/orgs/organizations/{org}/projects/{proj}/members/?email=no@example.com", "admin", None, 422),
    ("GET", "/api/v1/webhooks/projects/{proj}/", "read", None, 200),
    ("POST", "/api/v1/webhooks/projects/{proj}/", "admin", HOOK, 201),
    ("PUT", "/api/v1/webhooks/999999/", "admin", {"name": "renamed"}, 404),
    ("DELETE", "/api/v1/webhooks/999999/", "admin", None, 404),
    ("POST", "/api/v1/webhooks/999999/secret/", "admin", None, 404),
    ("POST", "/v1/users/", "write", {"user_id": "carol"}, 201),
    ("POST", "/v1/agents/", "write", {"agent_id": "bot"}, 201),
    ("POST", "/v1/apps/", "write", {"app_id": "desk"}, 201),
    ("POST", "/v1/runs/", "write", {"run_id": "r1"}, 201),
    ("GET", "/v2/entities/user/alice/profile/", "read", None, 200),
    ("POST", "/v2/profiles/jobs/", "write", {"operation": "trigger", "entity_id": "alice"}, 200),
    ("GET", f"/v2/profiles/jobs/{NO_SUCH_ID}/", "read", None, 404),
    ("GET", "/v2/profiles/settings/", "read", None, 200),
    ("POST", "/v2/profiles/settings/", "admin", {"enabled": True}, 200),
    # Mem0 OSS server
    ("POST", "/memories", "write", {"messages": [{"role": "user", "content": "I love tea"}], "user_id": "alice"}, 200),
    ("GET", "/memories?user_id=alice", "read", None, 200),
    ("DELETE", "/memories?user_id=alice", "admin", None, 200),
    ("GET", "/memories/{mid}", "read", None, 200),
    ("PUT", "/memories/{mid}", "write", {"text": "User loves oolong tea"}, 200),
    ("DELETE", "/memories/{mid}", "write", None, 200),
    ("GET", "/memories/{mid}/history", "read", None, 200),
    ("POST", "/search", "read", {"query": "tea", "user_id": "alice"}, 200),
    ("POST", "/reset", "admin", None, 200),
    ("GET", "/entities", "read", None, 200),
    ("DELETE", "/entities/user/alice", "admin", None, 200),
    # The graph extension ({mid} is alice's only memory: relating it to itself is refused after the checks).
    ("POST", "/v1/memories/{mid}/relationships", "write", {"target_id": "{mid}", "relation": "related_to"}, 422),
    ("GET", "/v1/memories/{mid}/relationships?direction=both", "read", None, 200),
    ("PATCH", f"/v1/relationships/{NO_SUCH_ID}", "write", {"weight": 0.5}, 404),
    ("DELETE", f"/v1/relationships/{NO_SUCH_ID}", "write", None, 404),
    ("GET", "/v1/memories/{mid}/related?depth=2", "read", None, 200),
    ("GET", "/v1/memories/graph?user_id=alice", "read", None, 200),
    ("GET", "/v1/memories/{mid}/timeline", "read", None, 200),
]
ALL_SCOPES = {"read", "write", "admin"}


@pytest.fixture
def alice_memory(project, add):
    return add(project, "User loves green tea", user_id="alice")


def fill(value, memory):
    """The endpoint's path or body with alice's memory and the key's project filled in."""
    if value is None:
        return None
    text = json.dumps(value) if not isinstance(value, str) else value
    text = text.replace("{mid}", str(memory.id)).replace("{org}", str(memory.project.organization_id))
    text = text.replace("{proj}", str(memory.project_id))
    return json.loads(text) if not isinstance(value, str) else text


@pytest.mark.parametrize("method, path, scope, body, status", ENDPOINTS)
def test_no_key_is_401(api, db, method, path, scope, body, status):
    body = error_of(api(method, path), 401, "UNAUTHORIZED")
    assert "credentials" in body["detail"].lower()


@pytest.mark.parametrize("method, path, scope, body, status", ENDPOINTS)
def test_unknown_key_is_401(api, db, method, path, scope, body, status):
    body = error_of(api(method, path, key="mem0_not-a-real-key-at-all-000000"), 401, "UNAUTHORIZED")
    assert body["detail"] == "Invalid API key"


@pytest.mark.parametrize("method, path, scope, body, status", ENDPOINTS)
def test_revoked_key_is_401(api, project, method, path, scope, body, status):
    api_key, raw = apikey_create(project=project, name="old", scopes=["read", "write", "admin"])
    apikey_revoke(api_key=api_key)
    error_of(api(method, path, key=raw), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("method, path, scope, body, status", [e for e in ENDPOINTS if e[2]])
def test_a_key_without_the_scope_is_403(api, project, make_key, alice_memory, method, path, scope, body, status):
    lacking = {"read": "write", "write": "read", "admin": "read,write"}[scope]
    response = api(
        method, fill(path, alice_memory), key=make_key(project, scopes=lacking), data=fill(body, alice_memory)
    )
    assert scope in error_of(response, 403, "FORBIDDEN")["detail"]
    assert Memory.objects.filter(pk=alice_memory.id, memory="User loves green tea").exists()


@pytest.mark.parametrize("method, path, scope, body, status", ENDPOINTS)
def test_a_key_with_the_scope_gets_through(api, project, make_key, alice_memory, method, path, scope, body, status):
    response = api(
        method, fill(path, alice_memory), key=make_key(project, scopes=scope or "read"), data=fill(body, alice_memory)
    )
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith(("application/json", "text/plain"))
    assert response.content  # every answer has a body (the Mem0 SDK parses every response)


@pytest.mark.parametrize("header", ["token", "bearer", "x-api-key"])
def test_all_three_header_forms_authenticate(api, project, make_key, header):
    response = api("GET", "/status", key=make_key(project), header=header)
    assert response.status_code == 200
    assert response.json()["project_id"] == str(project.id)


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Token", "Token   ", "mem0_abc"])
def test_malformed_authorization_is_401(client, db, authorization):
    error_of(client.get("/status", HTTP_AUTHORIZATION=authorization), 401, "UNAUTHORIZED")


def test_401_says_how_to_authenticate(api, db):
    assert api("GET", "/status")["WWW-Authenticate"].startswith("Token")


def test_keys_are_stored_only_as_salted_hashes(project):
    api_key, raw = apikey_create(project=project, name="app", scopes="read,write")
    assert raw.startswith("mem0_") and len(raw) > 40
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw not in {str(value) for value in stored.values()}
    assert stored["prefix"] == raw[:12]
    assert apikey_authenticate(raw) == api_key
    assert apikey_authenticate(raw[:-1] + ("x" if raw[-1] != "x" else "y")) is None
    # The same key made twice would hash differently: each key has its own salt.
    other, _ = apikey_create(project=project, name="app2", scopes="read")
    assert other.salt != api_key.salt


def test_scopes_are_validated(project):
    from mem0g_site.exceptions import ValidationFailed

    for scopes in ("", "read,delete", []):
        with pytest.raises(ValidationFailed):
            apikey_create(project=project, name="x", scopes=scopes)
    assert ApiKey.objects.count() == 0


def test_admin_includes_read_and_write_but_write_does_not_include_read(project):
    admin_key, _ = apikey_create(project=project, name="a", scopes="admin")
    write_key, _ = apikey_create(project=project, name="w", scopes="write")
    assert admin_key.has_scope("read") and admin_key.has_scope("write")
    assert write_key.has_scope("write") and not write_key.has_scope("read")


def test_bootstrap_keys_are_created_once_and_kept_in_line(project):
    user_key, admin_key = "bootstrap-user-key-0123456789", "bootstrap-admin-key-0123456789"
    assert apikeys_bootstrap(keys=[user_key], admin_keys=[admin_key]) == 2
    assert apikeys_bootstrap(keys=[user_key], admin_keys=[admin_key]) == 0
    assert ApiKey.objects.count() == 2
    assert sorted(apikey_authenticate(user_key).scopes) == ["read", "write"]
    assert apikey_authenticate(admin_key).has_scope("admin")
    apikey_revoke(api_key=apikey_authenticate(user_key))
    assert apikey_authenticate(user_key) is None
    assert apikeys_bootstrap(keys=[user_key], admin_keys=[]) == 1  # revived
    assert apikey_authenticate(user_key).project == project


def test_last_used_is_recorded(api, project, make_key):
    raw = make_key(project)
    assert api("GET", "/status", key=raw).status_code == 200
    assert ApiKey.objects.get().last_used_at is not None
