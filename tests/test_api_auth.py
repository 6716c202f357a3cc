"""API keys: the three header forms the Mem0 world uses, how keys are stored, scopes and bootstrap
keys. What every route answers to each kind of key is in ``tests/test_access_matrix.py``."""

import pytest

from accounts.models import ApiKey
from accounts.selectors import apikey_authenticate
from accounts.services import apikey_create, apikey_revoke, apikeys_bootstrap
from tests.conftest import error_of


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
