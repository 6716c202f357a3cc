"""Mem0 Platform administration paths: projects and members, webhooks, entities made before their
first memory, user profiles and profile jobs; and the small fixes (PUT timestamp, v3 add content,
paged entities). Tenancy: another organisation's or project's ids answer like missing ones."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Membership, ProfileJob, Project, ProjectMember, RegisteredEntity, UserProfile, Webhook
from memories.models import Memory
from tests.conftest import error_of

HOOK = {"name": "Logger", "url": "https://example.com/hooks/mem0", "event_types": ["memory_add"]}


@pytest.fixture
def admin_key(project, make_key):
    return make_key(project, scopes="read,write,admin")


@pytest.fixture
def rw_key(project, make_key):
    return make_key(project, scopes="read,write")


@pytest.fixture
def org_key(project):
    """An organisation key (``createapikey --org-admin``) of the project's organisation."""
    from accounts.services import apikey_create

    return apikey_create(project=project, name="org", scopes="read", organization_key=True)[1]


@pytest.fixture
def sibling(project):
    """A second project in the key's organisation."""
    return Project.objects.create(organization=project.organization, name="Sibling", slug="sibling")


def projects_path(project, suffix=""):
    return f"/api/v1/orgs/organizations/{project.organization_id}/projects/{suffix}"


# --- projects ---------------------------------------------------------------------------------


def test_an_organisation_key_creates_lists_and_deletes_projects(api, project, org_key, add):
    admin_key = org_key
    response = api("POST", projects_path(project), key=admin_key, data={"name": "Support bot", "description": "x"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "Support bot" and created["description"] == "x"
    assert created["org_id"] == str(project.organization_id)
    new = Project.objects.get(pk=created["project_id"])

    listed = api("GET", projects_path(project), key=admin_key).json()
    assert {p["id"] for p in listed} == {str(project.id), str(new.id)}

    error_of(api("POST", projects_path(project), key=admin_key, data={"name": "Support bot"}), 409, "CONFLICT")
    add(new, "User likes tea", user_id="alice")
    deleted = api("DELETE", projects_path(project, f"{new.id}/"), key=admin_key)
    assert deleted.json() == {"message": "Project deleted successfully."}
    assert not Project.objects.filter(pk=new.pk).exists()
    assert not Memory.objects.filter(project_id=new.pk).exists()


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, {"name": "x" * 201}, {"name": "ok", "description": 1}])
def test_bad_project_bodies_are_422_and_write_nothing(api, project, org_key, body):
    error_of(api("POST", projects_path(project), key=org_key, data=body), 422, "VALIDATION_ERROR")
    assert Project.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": ""}, "name must be a non-empty string of at most 200 characters"),
        ({"name": "  "}, "name must be a non-empty string of at most 200 characters"),
        ({"name": "ok", "description": 1}, "description must be a string"),
    ],
)
def test_a_bad_project_body_is_refused_by_the_services_rule(api, project, org_key, body, detail):
    """The request contract hands the values on as given: one rule, one message (not DRF's own)."""
    response = api("POST", projects_path(project), key=org_key, data=body)
    assert error_of(response, 422, "VALIDATION_ERROR")["detail"] == detail


def test_unknown_fields_are_ignored_and_named(api, project, org_key):
    response = api("POST", projects_path(project), key=org_key, data={"name": "a", "x": 1})
    assert response.status_code == 201 and response["X-Mem0g-Ignored-Fields"] == "x"
    assert Project.objects.filter(name="a").exists()


@pytest.mark.parametrize("scopes", ["read,write", "read,write,admin"])
def test_a_project_key_sees_only_its_own_project_whatever_its_scopes(api, project, make_key, sibling, scopes):
    key = make_key(project, scopes=scopes)
    assert [p["id"] for p in api("GET", projects_path(project), key=key).json()] == [str(project.id)]
    error_of(api("GET", projects_path(project, f"{sibling.id}/"), key=key), 404, "NOT_FOUND")
    if "admin" in scopes:
        error_of(api("GET", projects_path(project, f"{sibling.id}/members/"), key=key), 404, "NOT_FOUND")
        error_of(api("GET", f"/api/v1/webhooks/projects/{sibling.id}/", key=key), 404, "NOT_FOUND")
        error_of(api("DELETE", projects_path(project, f"{sibling.id}/"), key=key), 404, "NOT_FOUND")
        error_of(api("POST", projects_path(project), key=key, data={"name": "Mine"}), 403, "FORBIDDEN")
    assert set(Project.objects.values_list("name", flat=True)) == {project.name, "Sibling"}


def test_an_organisation_key_reaches_its_organisations_projects_only(api, project, org_key, sibling, other_project):
    admin_key = org_key
    assert api("GET", projects_path(project, f"{sibling.id}/"), key=admin_key).json()["name"] == "Sibling"
    other_org = f"/api/v1/orgs/organizations/{other_project.organization_id}/projects/"
    for method, path in [
        ("GET", other_org),
        ("POST", other_org),
        ("GET", f"{other_org}{other_project.id}/"),
        ("DELETE", f"{other_org}{other_project.id}/"),
        ("GET", f"{other_org}{other_project.id}/members/"),
        ("GET", projects_path(project, f"{other_project.id}/")),  # right org, project of another
        ("DELETE", projects_path(project, f"{other_project.id}/")),
        ("GET", projects_path(project, "not-a-uuid/")),
        ("GET", f"/api/v1/webhooks/projects/{other_project.id}/"),
        ("POST", f"/api/v1/webhooks/projects/{other_project.id}/"),
    ]:
        response = api(method, path, key=admin_key, data={"name": "x", **HOOK} if method == "POST" else None)
        error_of(response, 404, "NOT_FOUND")
    assert Project.objects.filter(pk=other_project.pk).exists()
    assert not Webhook.objects.exists()


# --- members ----------------------------------------------------------------------------------


def test_members_are_added_changed_listed_and_removed(api, project, admin_key, rw_key):
    user = get_user_model().objects.create_user("ana", email="Ana@Example.com", password="x")
    Membership.objects.create(user=user, organization=project.organization)
    path = projects_path(project, f"{project.id}/members/")
    assert api("GET", path, key=admin_key).json() == {"members": [], "results": []}
    error_of(api("GET", path, key=rw_key), 403, "FORBIDDEN")  # e-mails are for admin keys

    added = api("POST", path, key=admin_key, data={"email": "ana@example.com"})
    assert added.status_code == 200 and added.json()["message"].startswith("User added")
    assert ProjectMember.objects.get(user=user).role == "READER"
    error_of(api("POST", path, key=admin_key, data={"email": "ana@example.com"}), 409, "CONFLICT")

    assert api("PUT", path, key=admin_key, data={"email": "ana@example.com", "role": "OWNER"}).status_code == 200
    members = api("GET", path, key=admin_key).json()["members"]
    assert [(m["username"], m["email"], m["role"]) for m in members] == [("ana", "Ana@example.com", "OWNER")]

    error_of(
        api("PUT", path, key=admin_key, data={"email": "ana@example.com", "role": "ADMIN"}), 422, "VALIDATION_ERROR"
    )
    assert ProjectMember.objects.get(user=user).role == "OWNER"

    assert api("DELETE", f"{path}?email=ana@example.com", key=admin_key).status_code == 200
    assert not ProjectMember.objects.exists()
    error_of(api("DELETE", f"{path}?email=ana@example.com", key=admin_key), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body", [{"email": "nobody@example.com"}, {"email": "not-an-email"}, {}, {"email": "ana@example.com", "role": "x"}]
)
def test_bad_member_bodies_are_422_and_write_nothing(api, project, admin_key, body):
    ana = get_user_model().objects.create_user("ana", email="ana@example.com", password="x")
    Membership.objects.create(user=ana, organization=project.organization)
    path = projects_path(project, f"{project.id}/members/")
    error_of(api("POST", path, key=admin_key, data=body), 422, "VALIDATION_ERROR")
    assert not ProjectMember.objects.exists()


def test_only_users_of_the_organisation_can_be_added_and_others_look_unknown(api, project, other_project, admin_key):
    """A key cannot probe which e-mails use this server, nor pull another organisation's user in."""
    outsider = get_user_model().objects.create_user("olga", email="olga@example.com", password="x")
    Membership.objects.create(user=outsider, organization=other_project.organization)
    path = projects_path(project, f"{project.id}/members/")
    known = error_of(api("POST", path, key=admin_key, data={"email": "olga@example.com"}), 422, "VALIDATION_ERROR")
    unknown = error_of(api("POST", path, key=admin_key, data={"email": "nemo@example.com"}), 422, "VALIDATION_ERROR")
    assert known["detail"].replace("olga", "X") == unknown["detail"].replace("nemo", "X")
    assert not ProjectMember.objects.exists()


# --- webhooks ---------------------------------------------------------------------------------


def test_webhooks_are_created_listed_updated_and_deleted(api, project, admin_key, rw_key):
    path = f"/api/v1/webhooks/projects/{project.id}/"
    created = api("POST", path, key=admin_key, data=HOOK)
    assert created.status_code == 201
    hook = created.json()
    assert {k: hook[k] for k in HOOK} == HOOK and hook["project"] == str(project.id) and hook["is_active"]
    assert isinstance(hook["webhook_id"], int)

    assert [h["webhook_id"] for h in api("GET", path, key=admin_key).json()] == [hook["webhook_id"]]
    error_of(api("GET", path, key=rw_key), 403, "FORBIDDEN")  # webhook URLs are for admin keys

    update = {"event_types": ["memory_add", "memory_delete", "memory_add"], "name": "Renamed"}
    updated = api("PUT", f"/api/v1/webhooks/{hook['webhook_id']}/", key=admin_key, data=update).json()
    assert updated["event_types"] == ["memory_add", "memory_delete"] and updated["name"] == "Renamed"
    assert updated["url"] == HOOK["url"]

    deleted = api("DELETE", f"/api/v1/webhooks/{hook['webhook_id']}/", key=admin_key)
    assert deleted.json() == {"message": "Webhook deleted successfully"}
    assert api("GET", path, key=admin_key).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {**HOOK, "event_types": ["memory_eaten"]},
        {**HOOK, "event_types": []},
        {**HOOK, "event_types": "memory_add"},
        {**HOOK, "url": "ftp://example.com/x"},
        {**HOOK, "url": "not a url"},
        {**HOOK, "name": ""},
        {"url": HOOK["url"], "event_types": HOOK["event_types"]},
    ],
)
def test_bad_webhooks_are_422_and_write_nothing(api, project, admin_key, body):
    error_of(api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data=body), 422, "VALIDATION_ERROR")
    assert not Webhook.objects.exists()


def test_a_bad_webhook_update_changes_nothing(api, project, admin_key):
    hook = api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data=HOOK).json()
    path = f"/api/v1/webhooks/{hook['webhook_id']}/"
    for body in ({}, {"name": "ok", "event_types": ["nope"]}, {"url": "mailto:a@b.c"}):
        error_of(api("PUT", path, key=admin_key, data=body), 422, "VALIDATION_ERROR")
    for body, detail in (
        ({}, "nothing to update: give name, url or event_types"),
        ({"name": ""}, "name must be a non-empty string of at most 200 characters"),
        ({"url": ""}, "url must be an http(s) URL"),
        ({"event_types": None}, "event_types must be a non-empty list"),
    ):
        assert error_of(api("PUT", path, key=admin_key, data=body), 422, "VALIDATION_ERROR")["detail"] == detail
    stored = Webhook.objects.get()
    assert (stored.name, stored.url, stored.event_types) == (HOOK["name"], HOOK["url"], HOOK["event_types"])


def test_another_projects_webhook_is_404(api, project, other_project, admin_key, make_key):
    theirs = api(
        "POST", f"/api/v1/webhooks/projects/{other_project.id}/", key=make_key(other_project, "admin"), data=HOOK
    )
    hook_id = theirs.json()["webhook_id"]
    for method, data in [("PUT", {"name": "mine now"}), ("DELETE", None)]:
        error_of(api(method, f"/api/v1/webhooks/{hook_id}/", key=admin_key, data=data), 404, "NOT_FOUND")
    for bad in ("abc", "-1", "99999999999999999999999"):
        error_of(api("DELETE", f"/api/v1/webhooks/{bad}/", key=admin_key), 404, "NOT_FOUND")
    assert Webhook.objects.get().name == HOOK["name"]


# --- entities made before their first memory ---------------------------------------------------


def test_registered_entities_are_listed_with_zero_memories_and_deleted(api, project, rw_key, add):
    add(project, "User likes tea", user_id="alice")
    created = api("POST", "/v1/users/", key=rw_key, data={"user_id": "carol", "metadata": {"plan": "pro"}})
    assert created.status_code == 201 and created.json()["user_id"] == "carol" and created.json()["created"]
    again = api("POST", "/v1/users/", key=rw_key, data={"user_id": "carol", "metadata": {"plan": "max"}})
    assert again.status_code == 200 and again.json()["metadata"] == {"plan": "max"}
    assert api("POST", "/v1/agents/", key=rw_key, data={"agent_id": "bot", "name": "Bot"}).json()["name"] == "Bot"

    entities = api("GET", "/v1/entities/", key=rw_key).json()
    rows = {(e["type"], e["name"]): e for e in entities["results"]}
    assert set(rows) == {("user", "alice"), ("user", "carol"), ("agent", "bot")}
    assert rows[("user", "carol")]["total_memories"] == 0 and rows[("user", "carol")]["metadata"] == {"plan": "max"}
    assert entities["total_users"] == 2 and entities["total_agents"] == 1

    assert api("DELETE", "/v2/entities/user/carol/", key=rw_key).status_code == 200
    assert not RegisteredEntity.objects.filter(name="carol").exists()
    error_of(api("DELETE", "/v2/entities/user/carol/", key=rw_key), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        ("/v1/users/", {}, 422, "VALIDATION_ERROR"),
        ("/v1/users/", {"user_id": ""}, 422, "VALIDATION_ERROR"),
        ("/v1/users/", {"user_id": "a b"}, 422, "VALIDATION_ERROR"),
        ("/v1/users/", {"user_id": "carol", "metadata": [1]}, 422, "VALIDATION_ERROR"),
        ("/v1/users/", {"agent_id": "carol"}, 422, "VALIDATION_ERROR"),  # agent_id ignored: no user_id
        ("/v1/runs/", {"run_id": "r", "name": ""}, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_entity_bodies_write_nothing(api, project, rw_key, path, body, status, code):
    error_of(api("POST", path, key=rw_key, data=body), status, code)
    assert not RegisteredEntity.objects.exists()


def test_a_user_restricted_key_registers_only_its_user(api, project, make_key):
    key = make_key(project, user_id="alice")
    error_of(api("POST", "/v1/users/", key=key, data={"user_id": "bob"}), 404, "USER_NOT_FOUND")
    error_of(api("POST", "/v1/agents/", key=key, data={"agent_id": "bot"}), 403, "FORBIDDEN")
    assert api("POST", "/v1/users/", key=key, data={"user_id": "alice"}).status_code == 201
    api("POST", "/v1/users/", key=make_key(project), data={"user_id": "bob"})
    assert [e["name"] for e in api("GET", "/v1/entities/", key=key).json()["results"]] == ["alice"]


def test_entities_are_paged(api, project, rw_key, add):
    for name in ("a1", "a2", "a3"):
        add(project, f"User {name} likes tea", user_id=name)
    first = api("GET", "/v1/entities/?page=1&page_size=2", key=rw_key).json()
    assert first["count"] == 3 and [e["name"] for e in first["results"]] == ["a1", "a2"] and first["next"]
    assert first["total_users"] == 3 and first["previous"] is None
    second = api("GET", "/v1/entities/?page=2&page_size=2", key=rw_key).json()
    assert [e["name"] for e in second["results"]] == ["a3"] and second["next"] is None and second["previous"]
    error_of(api("GET", "/v1/entities/?page_size=201", key=rw_key), 422, "VALIDATION_ERROR")


def test_other_projects_entities_are_not_listed(api, project, other_project, rw_key, make_key):
    api("POST", "/v1/users/", key=make_key(other_project), data={"user_id": "zed"})
    assert api("GET", "/v1/entities/", key=rw_key).json()["results"] == []
    error_of(api("DELETE", "/v2/entities/user/zed/", key=rw_key), 404, "NOT_FOUND")
    assert RegisteredEntity.objects.filter(name="zed").exists()


# --- profiles ---------------------------------------------------------------------------------


def test_a_profile_is_built_by_a_job_and_the_key_makes_it_once(api, project, rw_key, add):
    add(project, "User loves green tea", "User lives in Lisbon", user_id="alice")
    before = api("GET", "/v2/entities/user/alice/profile/", key=rw_key).json()
    assert before["status"] == "pending" and before["profile"] is None and before["generation_count"] == 0

    body = {"operation": "trigger", "entity_type": "user", "entity_id": "alice"}
    job = api("POST", "/v2/profiles/jobs/", key=rw_key, data=body, HTTP_IDEMPOTENCY_KEY="k1").json()
    assert job["status"] == "succeeded" and job["replayed"] is False and job["entity_ids"] == ["alice"]
    replay = api("POST", "/v2/profiles/jobs/", key=rw_key, data=body, HTTP_IDEMPOTENCY_KEY="k1").json()
    assert replay["job_id"] == job["job_id"] and replay["replayed"] is True
    assert ProfileJob.objects.count() == 1

    profile = api("GET", "/v2/entities/user/alice/profile/", key=rw_key).json()
    assert profile["status"] == "succeeded" and profile["generation_count"] == 1
    assert set(profile["profile"]["facts"]) == {"User loves green tea", "User lives in Lisbon"}
    assert profile["profile"]["total_memories"] == 2

    other = {**body, "entity_id": "bob"}
    error_of(api("POST", "/v2/profiles/jobs/", key=rw_key, data=other, HTTP_IDEMPOTENCY_KEY="k1"), 409, "CONFLICT")
    read = api("GET", job["status_url"], key=rw_key).json()["job"]
    assert read["job_id"] == job["job_id"] and (read["total"], read["succeeded"], read["completed"]) == (1, 1, 1)

    api("POST", "/v2/profiles/jobs/", key=rw_key, data=body, HTTP_IDEMPOTENCY_KEY="k2")
    assert UserProfile.objects.get().generation_count == 2


def test_unknown_and_other_projects_users_and_jobs_are_404(api, project, other_project, rw_key, make_key, add):
    add(other_project, "User likes jazz", user_id="zed")
    theirs = make_key(other_project)
    job = api("POST", "/v2/profiles/jobs/", key=theirs, data={"operation": "trigger", "entity_id": "zed"}).json()
    error_of(api("GET", "/v2/entities/user/zed/profile/", key=rw_key), 404, "USER_NOT_FOUND")
    error_of(api("GET", f"/v2/profiles/jobs/{job['job_id']}/", key=rw_key), 404, "NOT_FOUND")
    error_of(api("GET", "/v2/profiles/jobs/nope/", key=rw_key), 404, "NOT_FOUND")
    trigger = {"operation": "trigger", "entity_id": "zed"}
    error_of(api("POST", "/v2/profiles/jobs/", key=rw_key, data=trigger), 404, "USER_NOT_FOUND")
    assert ProfileJob.objects.filter(project=project).count() == 0


def test_registered_user_without_memories_has_insufficient_data(api, project, rw_key):
    api("POST", "/v1/users/", key=rw_key, data={"user_id": "carol"})
    assert api("GET", "/v2/entities/user/carol/profile/", key=rw_key).json()["status"] == "insufficient_data"
    job = api("POST", "/v2/profiles/jobs/", key=rw_key, data={"operation": "trigger", "entity_id": "carol"}).json()
    assert api("GET", job["status_url"], key=rw_key).json()["job"]["skipped"] == 1
    assert not UserProfile.objects.exists()


def test_sample_picks_the_users_with_most_memories(api, project, rw_key, add):
    add(project, "User likes tea", "User likes jazz", "User owns a cat", user_id="busy")
    add(project, "User likes rain", user_id="quiet")
    add(project, "User likes snow", "User likes ice", user_id="middle")
    job = api("POST", "/v2/profiles/jobs/", key=rw_key, data={"operation": "sample", "limit": 2}).json()
    assert job["entity_ids"] == ["busy", "middle"] and job["sampled"] == 2
    assert set(UserProfile.objects.values_list("user_id", flat=True)) == {"busy", "middle"}


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),
        ({"operation": "delete"}, 422),
        ({"operation": "trigger"}, 422),
        ({"operation": "trigger", "entity_id": "alice", "entity_type": "agent"}, 422),
        ({"operation": "sample", "limit": 0}, 422),
        ({"operation": "sample", "limit": 11}, 422),
        ({"operation": "sample", "entity_id": "alice"}, 422),
        ({"operation": "trigger", "extra": 1}, 422),  # extra is ignored; the missing entity_id is not
    ],
)
def test_bad_jobs_write_nothing(api, project, rw_key, add, body, status):
    add(project, "User likes tea", user_id="alice")
    response = api("POST", "/v2/profiles/jobs/", key=rw_key, data=body)
    assert response.status_code == status, response.content
    assert not ProfileJob.objects.exists() and not UserProfile.objects.exists()


def test_settings_round_trip_and_drive_profiles(api, project, admin_key, rw_key, add):
    add(project, "User is vegetarian and loves lentil soup", "User drives a red car", user_id="alice")
    assert api("GET", "/v2/profiles/settings/", key=rw_key).json()["enabled"] is True
    schema = {"type": "object", "properties": {"diet": {"type": "string", "description": "What the user eats"}}}
    stored = api("POST", "/v2/profiles/settings/", key=admin_key, data={"entities": {"user": {"schema": schema}}})
    assert stored.json()["entities"]["user"]["schema"] == schema
    api("POST", "/v2/profiles/jobs/", key=rw_key, data={"operation": "trigger", "entity_id": "alice"})
    fields = api("GET", "/v2/entities/user/alice/profile/", key=rw_key).json()["profile"]["fields"]
    assert fields["diet"][0] == "User is vegetarian and loves lentil soup"

    api("POST", "/v2/profiles/settings/", key=admin_key, data={"enabled": False})
    assert api("GET", "/v2/entities/user/alice/profile/", key=rw_key).json()["status"] == "not_enabled"
    body = {"operation": "trigger", "entity_id": "alice"}
    error_of(api("POST", "/v2/profiles/jobs/", key=rw_key, data=body), 422, "VALIDATION_ERROR")
    assert ProfileJob.objects.count() == 1


@pytest.mark.parametrize(
    "body, status",
    [
        ({"schema": {"type": "object"}}, 400),  # flat: Mem0 answers "Unsupported settings"
        ({"entities": {"agent": {}}}, 400),
        ({"entities": {"user": {"colour": "red"}}}, 400),
        ({"enabled": "yes"}, 422),
        ({"entities": {"user": {"schema": {"properties": {"diet": {"type": "string"}}}}}}, 422),
        ({"entities": {"user": {"schema": {"properties": {}}}}}, 422),
        # A description is the query the property's facts are searched with: a search query's rule.
        ({"entities": {"user": {"schema": {"properties": {"diet": {"description": "   "}}}}}}, 422),
        ({"entities": {"user": {"schema": {"properties": {"diet": {"description": "x" * 10_001}}}}}}, 422),
        ({"entities": {"user": {"custom_instructions": 5}}}, 422),
    ],
)
def test_bad_settings_write_nothing(api, project, admin_key, body, status):
    response = api("POST", "/v2/profiles/settings/", key=admin_key, data=body)
    assert response.status_code == status, response.content
    settings = api("GET", "/v2/profiles/settings/", key=admin_key).json()
    assert settings["enabled"] is True and settings["entities"]["user"] == {"schema": None, "custom_instructions": None}


def test_a_schema_description_too_long_to_search_with_is_refused_by_name(api, project, admin_key, settings):
    schema = {"properties": {"diet": {"description": "x" * (settings.MEMORY_MAX_CHARS + 1)}}}
    response = api("POST", "/v2/profiles/settings/", key=admin_key, data={"entities": {"user": {"schema": schema}}})
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert "description of schema property 'diet'" in error["detail"] and "limit" in error["detail"]
    assert api("GET", "/v2/profiles/settings/", key=admin_key).json()["entities"]["user"]["schema"] is None


def test_a_user_restricted_key_reaches_only_its_users_profile(api, project, make_key, add):
    add(project, "User likes tea", user_id="alice")
    add(project, "User likes jazz", user_id="bob")
    key = make_key(project, user_id="alice")
    error_of(api("GET", "/v2/entities/user/bob/profile/", key=key), 404, "USER_NOT_FOUND")
    error_of(
        api("POST", "/v2/profiles/jobs/", key=key, data={"operation": "trigger", "entity_id": "bob"}),
        404,
        "USER_NOT_FOUND",
    )
    job = api("POST", "/v2/profiles/jobs/", key=key, data={"operation": "sample"}).json()
    assert job["entity_ids"] == ["alice"]


# --- the small fixes ----------------------------------------------------------------------------


def test_put_timestamp_sets_valid_from(api, project, rw_key, add):
    memory = add(project, "User likes tea", user_id="alice")
    response = api("PUT", f"/v1/memories/{memory.id}/", key=rw_key, data={"timestamp": 1704067200})
    assert response.status_code == 200
    memory.refresh_from_db()
    assert memory.valid_from == datetime(2024, 1, 1, tzinfo=UTC)
    assert response.json()["valid_from"].startswith("2024-01-01T00:00:00")

    iso = api("PUT", f"/v1/memories/{memory.id}/", key=rw_key, data={"timestamp": "2023-05-02T10:00:00Z"})
    assert iso.json()["valid_from"].startswith("2023-05-02T10:00:00")
    error_of(api("PUT", f"/v1/memories/{memory.id}/", key=rw_key, data={"timestamp": "soon"}), 422, "VALIDATION_ERROR")
    memory.refresh_from_db()
    assert memory.valid_from == datetime(2023, 5, 2, 10, tzinfo=UTC)


def test_v3_add_takes_content_as_a_message(api, project, rw_key):
    response = api("POST", "/v3/memories/add/", key=rw_key, data={"content": "I love tea", "user_id": "alice"})
    assert response.status_code == 200, response.content
    assert [r["memory"] for r in response.json()["results"]] == ["User loves tea"]
    raw = {"content": "raw note", "user_id": "alice", "infer": False}
    assert api("POST", "/v3/memories/add/", key=rw_key, data=raw).json()["results"][0]["memory"] == "raw note"
    error_of(
        api("POST", "/v3/memories/add/", key=rw_key, data={"content": 5, "user_id": "alice"}), 422, "VALIDATION_ERROR"
    )
    assert Memory.objects.count() == 2


# --- webhook delivery (a small local server stands in for the receiver) --------------------------


@pytest.fixture
def receiver(settings):
    """A local HTTP server recording the JSON bodies posted to it; ``statuses`` sets its answers.
    It listens on loopback, which webhooks may reach only with WEBHOOK_ALLOW_PRIVATE on."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    settings.WEBHOOK_ALLOW_PRIVATE = True
    state = {"bodies": [], "statuses": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            state["bodies"].append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(state["statuses"].pop(0) if state["statuses"] else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def test_memory_events_are_delivered_outside_the_request(api, project, admin_key, rw_key, receiver):
    from django.core.management import call_command

    from accounts.models import WebhookDelivery

    hook = {"name": "r", "url": receiver["url"], "event_types": ["memory_add", "memory_delete"]}
    api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data=hook)
    mid = api("POST", "/v3/memories/add/", key=rw_key, data={"messages": "I love tea", "user_id": "alice"}).json()
    mid = mid["results"][0]["id"]
    api("PUT", f"/v1/memories/{mid}/", key=rw_key, data={"text": "User loves oolong"})  # not subscribed
    api("DELETE", f"/v1/memories/{mid}/", key=rw_key)
    assert receiver["bodies"] == []  # nothing is sent from inside a request

    call_command("deliverwebhooks", "--once")
    events = [(b["event_type"], b["event_details"]["event"], b["event_details"]["id"]) for b in receiver["bodies"]]
    assert events == [("memory_add", "ADD", mid), ("memory_delete", "DELETE", mid)]
    assert receiver["bodies"][0]["event_details"]["data"] == {"memory": "User loves tea"}
    assert receiver["bodies"][0]["event_details"]["user_id"] == "alice"

    call_command("deliverwebhooks", "--once")  # each event once
    assert len(receiver["bodies"]) == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_failed_deliveries_are_retried_later_then_given_up(project, admin_key, api, rw_key, receiver):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import WebhookDelivery
    from accounts.webhooks import MAX_ATTEMPTS, webhook_deliveries_enqueue, webhook_deliveries_send

    api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data={**HOOK, "url": receiver["url"]})
    api("POST", "/v3/memories/add/", key=rw_key, data={"messages": "I love tea", "user_id": "alice"})
    receiver["statuses"] = [500] * MAX_ATTEMPTS
    webhook_deliveries_enqueue()
    now = timezone.now()
    assert webhook_deliveries_send(now=now) == {"delivered": 0, "retried": 1, "failed": 0}
    assert webhook_deliveries_send(now=now) == {"delivered": 0, "retried": 0, "failed": 0}  # not due yet
    for _attempt in range(2, MAX_ATTEMPTS + 1):
        now += timedelta(hours=1)
        webhook_deliveries_send(now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", MAX_ATTEMPTS, 500)
    assert len(receiver["bodies"]) == MAX_ATTEMPTS


def test_events_of_other_projects_and_unsubscribed_types_are_not_delivered(
    api, project, other_project, admin_key, make_key, receiver
):
    from django.core.management import call_command

    hook = {"name": "r", "url": receiver["url"], "event_types": ["memory_update"]}
    api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data=hook)
    theirs = make_key(other_project)
    added = api("POST", "/v3/memories/add/", key=theirs, data={"messages": "I love tea", "user_id": "zed"}).json()
    api("PUT", f"/v1/memories/{added['results'][0]['id']}/", key=theirs, data={"text": "User loves coffee"})
    api("POST", "/v3/memories/add/", key=make_key(project), data={"messages": "I love jazz", "user_id": "alice"})
    call_command("deliverwebhooks", "--once")
    assert receiver["bodies"] == []


@pytest.mark.django_db(transaction=True)  # the thread reads through its own connection
def test_the_job_workers_delivery_thread_posts_events_until_stopped(api, project, admin_key, rw_key, receiver):
    """``manage.py worker`` runs this loop in a thread: events reach the webhook with no command."""
    import threading
    import time

    from accounts.webhooks import webhook_delivery_loop

    hook = {"name": "r", "url": receiver["url"], "event_types": ["memory_add", "memory_update"]}
    api("POST", f"/api/v1/webhooks/projects/{project.id}/", key=admin_key, data=hook)
    api("POST", "/v3/memories/add/", key=rw_key, data={"messages": "I live in Paris", "user_id": "alice"})
    api("POST", "/v3/memories/add/", key=rw_key, data={"messages": "I moved to Rome", "user_id": "alice"})

    stop = threading.Event()
    thread = threading.Thread(target=webhook_delivery_loop, kwargs={"interval": 0.1, "stop": stop}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while len(receiver["bodies"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    # Paris added, Rome added, Paris superseded (an update of the Paris memory).
    kinds = sorted((b["event_type"], b["event_details"]["event"]) for b in receiver["bodies"])
    assert kinds == [("memory_add", "ADD"), ("memory_add", "ADD"), ("memory_update", "SUPERSEDE")]
