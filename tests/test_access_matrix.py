"""The access matrix: every API route, tried by every kind of caller.

The callers (columns of ``EXPECTED``):

- ``owner``: a key of the project, with the scope the route asks for;
- ``org``: an organisation key of the same organisation, made in a sibling project;
- ``sibling``: an admin key of a sibling project in the same organisation;
- ``other_org``: an admin key of a project in another organisation;
- ``user_self``: a key of the project restricted to ``alice`` (all scopes), alice's data in the path/body;
- ``user_other``: a key of the project restricted to ``bob`` (all scopes);
- ``read_only``: a key of the project with the ``read`` scope only;
- ``none``: no key.

For each call the test asserts the exact status; that callers from outside the project, and refused
callers, changed nothing of the project (row counts, memory texts, options, keys, webhooks, members);
and that no answer shows a caller what it may not see (another user's or another tenant's memory
texts and ids, webhook URLs, member e-mails). Every call runs in a savepoint that is rolled back, so
each caller finds the same state.

The table is checked against the URL configuration: a route (name and method) without an entry here
fails ``test_every_api_route_is_in_the_matrix``.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from accounts.models import (
    ApiKey,
    Counter,
    Membership,
    Organization,
    ProfileJob,
    ProfileSettings,
    Project,
    ProjectMember,
    RegisteredEntity,
    UserProfile,
    Webhook,
)
from accounts.services import apikey_create, apikey_revoke, profile_job_create, project_member_add, webhook_create
from graph.models import Relationship
from graph.services import relationship_create
from mem0g_site.api import ApiView, required_scope
from memories.inputs import NewMemory, Scope
from memories.models import Memory, MemoryHistory
from memories.services import add_ingest
from tests.conftest import error_of

CALLERS = ("owner", "org", "sibling", "other_org", "user_self", "user_other", "read_only", "none")
# The routes that need no key, and why.
PUBLIC = {
    "health": "liveness probe for load balancers",
    "root": "sends people to the API docs",
    "api-schema": "the OpenAPI document",
    "schema": "the OpenAPI document",
    "swagger-ui": "API docs",
    "redoc": "API docs",
}
# Routes that are not ApiViews but need a key, each with the module that runs every caller kind
# above through it. A new route that is neither an ApiView, public, nor listed here fails
# test_every_api_route_is_in_the_matrix.
COVERED_ELSEWHERE = {
    "mcp": "tests/test_mcp_access.py: every caller kind through each MCP tool, with the official MCP client",
}

# Markers of what only some callers may see.
ALICE_TEXT = "User loves zanzibar oolong tea"
BOB_TEXT = "User plays the contrabassoon"
HOOK_URL = "https://hooks.example.com/tenant-a-secret-path"
MEMBER_EMAIL = "member-a@example.com"
NEWCOMER_EMAIL = "newcomer-a@example.com"

HOOK = {"name": "h2", "url": "https://example.com/h2", "event_types": ["memory_add"]}
ARCHIVE_HEADER = {"kind": "header", "format": "mem0g-archive", "version": 1, "counts": {}}
ORG = "/api/v1/orgs/organizations/{org}/projects"

# (route name, method, path, body, statuses of owner org sibling other_org user_self user_other read_only none)
MATRIX = [
    ("status", "GET", "/status", None, "200 200 200 200 200 200 200 401"),
    ("metrics", "GET", "/metrics", None, "200 200 200 200 403 403 403 401"),
    ("metrics-prometheus", "GET", "/metrics/prometheus", None, "200 200 200 200 403 403 403 401"),
    ("ping", "GET", "/v1/ping/", None, "200 200 200 200 200 200 200 401"),
    # Mem0 Platform: memories
    (
        "memories-add-v3",
        "POST",
        "/v3/memories/add/",
        {"messages": "I love jasmine tea", "user_id": "alice"},
        "200 200 200 200 200 404 403 401",
    ),
    ("memories-list-v3", "POST", "/v3/memories/", {"filters": {"user_id": "alice"}}, "200 200 200 200 200 200 200 401"),
    ("memories-list-v2", "POST", "/v2/memories/", {"filters": {"user_id": "alice"}}, "200 200 200 200 200 200 200 401"),
    (
        "memories-search-v3",
        "POST",
        "/v3/memories/search/",
        {"query": "tea", "filters": {"user_id": "alice"}},
        "200 200 200 200 200 200 200 401",
    ),
    (
        "memories-search-v2",
        "POST",
        "/v2/memories/search/",
        {"query": "tea", "filters": {"user_id": "alice"}},
        "200 200 200 200 200 200 200 401",
    ),
    (
        "memories-search-v1",
        "POST",
        "/v1/memories/search/",
        {"query": "tea", "user_id": "alice"},
        "200 200 200 200 200 404 200 401",
    ),
    (
        "memories-search-v1",
        "GET",
        "/v1/memories/search/?query=tea&user_id=alice",
        None,
        "200 200 200 200 200 404 200 401",
    ),
    ("memories-of-user", "GET", "/v1/memories/user/alice/", None, "200 200 200 200 200 404 200 401"),
    ("memories-of-entity", "GET", "/v1/memories/agent/bot/", None, "200 200 200 200 200 200 200 401"),
    ("memory-events", "GET", "/v1/memories/events/", None, "200 200 200 200 200 200 200 401"),
    ("memories", "GET", "/v1/memories/?user_id=alice", None, "200 200 200 200 200 404 200 401"),
    (
        "memories",
        "POST",
        "/v1/memories/",
        {"content": "User likes jazz", "user_id": "alice"},
        "201 201 201 201 201 404 403 401",
    ),
    ("memories", "DELETE", "/v1/memories/?user_id=alice", None, "200 200 200 200 200 404 403 401"),
    ("memory-detail", "GET", "/v1/memories/{m1}/", None, "200 404 404 404 200 404 200 401"),
    ("memory-detail", "PUT", "/v1/memories/{m1}/", {"text": "User loves rooibos"}, "200 404 404 404 200 404 403 401"),
    (
        "memory-detail",
        "PATCH",
        "/v1/memories/{m1}/",
        {"content": "User loves rooibos"},
        "200 404 404 404 200 404 403 401",
    ),
    ("memory-detail", "DELETE", "/v1/memories/{m1}/", None, "200 404 404 404 200 404 403 401"),
    ("memory-history", "GET", "/v1/memories/{m1}/history/", None, "200 404 404 404 200 404 200 401"),
    ("entities", "GET", "/v1/entities/", None, "200 200 200 200 200 200 200 401"),
    ("entity-filters", "GET", "/v1/entities/filters/", None, "200 200 200 200 200 200 200 401"),
    ("entity", "GET", "/v1/entities/user/alice/", None, "200 404 404 404 200 404 200 401"),
    ("entity", "DELETE", "/v2/entities/user/alice/", None, "200 404 404 404 200 404 403 401"),
    ("event", "GET", "/v1/event/{event}/", None, "200 404 404 404 200 404 200 401"),
    ("sources", "GET", "/v1/sources/?user_id=alice", None, "200 200 200 200 200 404 200 401"),
    ("sources", "GET", "/v1/sources/?user_id=alice&query=oolong", None, "200 200 200 200 200 404 200 401"),
    ("sources", "GET", "/v1/sources/?query=oolong", None, "200 200 200 200 200 200 200 401"),
    ("events", "GET", "/v1/events/", None, "200 200 200 200 200 200 200 401"),
    ("stats", "GET", "/v1/stats/", None, "200 200 200 200 200 200 200 401"),
    (
        "batch",
        "PUT",
        "/v1/batch/",
        {"memories": [{"memory_id": "{m1}", "text": "edited"}]},
        "200 404 404 404 200 404 403 401",
    ),
    ("batch", "DELETE", "/v1/batch/", {"memories": [{"memory_id": "{m1}"}]}, "200 404 404 404 200 404 403 401"),
    (
        "feedback",
        "POST",
        "/v1/feedback/",
        {"memory_id": "{m1}", "feedback": "POSITIVE"},
        "200 404 404 404 200 404 403 401",
    ),
    (
        "exports",
        "POST",
        "/v1/exports/",
        {"schema": {}, "filters": {"user_id": "alice"}},
        "201 201 201 201 201 201 201 401",
    ),
    # {export} was made by an unrestricted key: a user-restricted key finds only its own keys' exports.
    ("exports-get", "POST", "/v1/exports/get/", {"memory_export_id": "{export}"}, "200 404 404 404 404 404 200 401"),
    ("summary", "POST", "/v1/summary/", {"filters": {"user_id": "alice"}}, "200 200 200 200 200 200 200 401"),
    # Mem0 Platform: organisation, projects, members, webhooks
    ("projects", "GET", f"{ORG}/", None, "200 200 200 404 403 403 200 401"),
    ("projects", "POST", f"{ORG}/", {"name": "Second"}, "403 201 403 404 403 403 403 401"),
    ("project", "GET", f"{ORG}/{{proj}}/", None, "200 200 404 404 403 403 200 401"),
    ("project", "PATCH", f"{ORG}/{{proj}}/", {"custom_instructions": "x"}, "200 200 404 404 403 403 403 401"),
    ("project", "DELETE", f"{ORG}/{{proj}}/", None, "200 200 404 404 403 403 403 401"),
    ("project-members", "GET", f"{ORG}/{{proj}}/members/", None, "200 200 404 404 403 403 403 401"),
    (
        "project-members",
        "POST",
        f"{ORG}/{{proj}}/members/",
        {"email": NEWCOMER_EMAIL},
        "200 200 404 404 403 403 403 401",
    ),
    (
        "project-members",
        "PUT",
        f"{ORG}/{{proj}}/members/",
        {"email": MEMBER_EMAIL, "role": "OWNER"},
        "200 200 404 404 403 403 403 401",
    ),
    (
        "project-members",
        "DELETE",
        f"{ORG}/{{proj}}/members/?email={MEMBER_EMAIL}",
        None,
        "200 200 404 404 403 403 403 401",
    ),
    ("project-webhooks", "GET", "/api/v1/webhooks/projects/{proj}/", None, "200 200 404 404 403 403 403 401"),
    ("project-webhooks", "POST", "/api/v1/webhooks/projects/{proj}/", HOOK, "201 201 404 404 403 403 403 401"),
    ("webhook", "PUT", "/api/v1/webhooks/{hook}/", {"name": "renamed"}, "200 200 404 404 403 403 403 401"),
    ("webhook", "DELETE", "/api/v1/webhooks/{hook}/", None, "200 200 404 404 403 403 403 401"),
    ("webhook-secret", "POST", "/api/v1/webhooks/{hook}/secret/", None, "200 200 404 404 403 403 403 401"),
    # Mem0 Platform: entities made before their memories, profiles
    ("users-create", "POST", "/v1/users/", {"user_id": "alice"}, "201 201 201 201 201 404 403 401"),
    ("agents-create", "POST", "/v1/agents/", {"agent_id": "bot2"}, "201 201 201 201 403 403 403 401"),
    ("apps-create", "POST", "/v1/apps/", {"app_id": "desk"}, "201 201 201 201 403 403 403 401"),
    ("runs-create", "POST", "/v1/runs/", {"run_id": "r1"}, "201 201 201 201 403 403 403 401"),
    ("user-profile", "GET", "/v2/entities/user/alice/profile/", None, "200 404 404 404 200 404 200 401"),
    (
        "profile-jobs",
        "POST",
        "/v2/profiles/jobs/",
        {"operation": "trigger", "entity_id": "alice"},
        "200 404 404 404 200 404 403 401",
    ),
    ("profile-job", "GET", "/v2/profiles/jobs/{job}/", None, "200 404 404 404 200 404 200 401"),
    ("profile-settings", "GET", "/v2/profiles/settings/", None, "200 200 200 200 403 403 200 401"),
    ("profile-settings", "POST", "/v2/profiles/settings/", {"enabled": False}, "200 200 200 200 403 403 403 401"),
    # Mem0 OSS server
    (
        "oss-memories",
        "POST",
        "/memories",
        {"messages": [{"role": "user", "content": "I love jasmine tea"}], "user_id": "alice"},
        "200 200 200 200 200 404 403 401",
    ),
    ("oss-memories", "GET", "/memories?user_id=alice", None, "200 200 200 200 200 404 200 401"),
    ("oss-memories", "DELETE", "/memories?user_id=alice", None, "200 200 200 200 200 404 403 401"),
    ("oss-memory", "GET", "/memories/{m1}", None, "200 404 404 404 200 404 200 401"),
    ("oss-memory", "PUT", "/memories/{m1}", {"text": "User loves rooibos"}, "200 404 404 404 200 404 403 401"),
    ("oss-memory", "DELETE", "/memories/{m1}", None, "200 404 404 404 200 404 403 401"),
    ("oss-memory-history", "GET", "/memories/{m1}/history", None, "200 404 404 404 200 404 200 401"),
    ("oss-search", "POST", "/search", {"query": "tea", "user_id": "alice"}, "200 200 200 200 200 404 200 401"),
    ("oss-reset", "POST", "/reset", None, "200 200 200 200 200 200 403 401"),
    ("oss-entities", "GET", "/entities", None, "200 200 200 200 200 200 200 401"),
    ("oss-entity", "DELETE", "/entities/user/alice", None, "200 404 404 404 200 404 403 401"),
    # Operator routes for one user
    ("user-stats", "GET", "/v1/users/alice/stats", None, "200 404 404 404 200 404 200 401"),
    ("user-memories", "DELETE", "/v1/users/alice/memories", None, "200 200 200 200 200 404 403 401"),
    # The graph extension
    (
        "memory-relationships",
        "POST",
        "/v1/memories/{m1}/relationships",
        {"target_id": "{m2}", "relation": "part_of"},
        "201 404 404 404 201 404 403 401",
    ),
    ("memory-relationships", "GET", "/v1/memories/{m1}/relationships", None, "200 404 404 404 200 404 200 401"),
    ("relationship", "PATCH", "/v1/relationships/{rel}", {"weight": 0.5}, "200 404 404 404 200 404 403 401"),
    ("relationship", "DELETE", "/v1/relationships/{rel}", None, "200 404 404 404 200 404 403 401"),
    ("memory-related", "GET", "/v1/memories/{m1}/related?depth=2", None, "200 404 404 404 200 404 200 401"),
    ("memory-graph", "GET", "/v1/memories/graph?user_id=alice", None, "200 200 200 200 200 404 200 401"),
    ("memory-timeline", "GET", "/v1/memories/{m1}/timeline", None, "200 404 404 404 200 404 200 401"),
    # Portable archives. A user's: any read key of the project (a restricted key: its own user only).
    ("archive-export", "GET", "/v1/archive/export?user_id=alice", None, "200 404 404 404 200 404 200 401"),
    # The whole project's: admin keys only (owner here is a read key), each its own project's; a
    # user-restricted key gets its own user's archive.
    ("archive-export", "GET", "/v1/archive/export", None, "403 200 200 200 200 200 403 401"),
    # An archive of nothing (the header alone) into the key's own project; admin keys only.
    ("archive-import", "POST", "/v1/archive/import", ARCHIVE_HEADER, "200 200 200 200 403 403 403 401"),
]


def _api_routes():
    """(route name, method) of every API view in the URL configuration (not the admin or the UI)."""

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern) in ("admin/", "ui/"):
                    continue
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            else:
                yield pattern

    for pattern in walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if view is None or not issubclass(view, ApiView):
            yield pattern.name, None
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                yield pattern.name, method.upper()


def _view_of(name: str):
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "name", None) == name:
            return pattern.callback.view_class
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "":
            for inner in pattern.url_patterns:
                if inner.name == name:
                    return inner.callback.view_class
    raise LookupError(name)


def test_every_api_route_is_in_the_matrix():
    routes = set(_api_routes())
    plain = {name for name, method in routes if method is None}
    known = set(PUBLIC) | set(COVERED_ELSEWHERE)
    assert plain <= known, f"routes that are neither API views, public nor covered: {sorted(plain - known)}"
    assert set(COVERED_ELSEWHERE) <= plain, "COVERED_ELSEWHERE names a route that does not exist"
    api_routes = {route for route in routes if route[1] is not None}
    in_matrix = {(name, method) for name, method, *_ in MATRIX}
    assert api_routes - in_matrix == set(), "API routes without an entry in the access matrix"
    assert in_matrix - api_routes == set(), "matrix entries for routes that do not exist"


def test_user_keys_are_refused_by_default():
    """A route is open to user-restricted keys only when its view says so (``user_keys = True``)."""
    assert ApiView.user_keys is False
    for name, method, _path, _body, statuses in MATRIX:
        view = _view_of(name)
        user_self = statuses.split()[CALLERS.index("user_self")]
        if not getattr(view, "user_keys", False):
            assert user_self == "403", f"{name} {method}: closed to user keys, so user_self must be 403"


# --- the world every call is made in ----------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Made once for the module (committed, then deleted at the end): every call of every test runs
    in a transaction rolled back afterwards, so each finds this same state."""
    with django_db_blocker.unblock():
        made = _make_world()
        try:
            yield made
        finally:
            # The requests made while building it were counted in its keys' rate-limit rows: gone too.
            key_ids = ApiKey.objects.filter(project__organization__in=made["organizations"]).values_list(
                "pk", flat=True
            )
            Counter.objects.filter(name__in=[f"rl:{w}:{pk}" for pk in key_ids for w in ("w", "b")]).delete()
            Project.objects.filter(organization__in=made["organizations"]).delete()
            Organization.objects.filter(pk__in=[o.pk for o in made["organizations"]]).delete()
            get_user_model().objects.filter(email__in=[MEMBER_EMAIL, NEWCOMER_EMAIL]).delete()


def _make_world() -> dict:
    organization = Organization.objects.create(name="Tenant A", slug="tenant-a")
    project = Project.objects.create(organization=organization, name="A", slug="a")
    sibling = Project.objects.create(organization=organization, name="A2", slug="a2")
    other_org = Organization.objects.create(name="Tenant B", slug="tenant-b")
    other = Project.objects.create(organization=other_org, name="B", slug="b")

    # Through the add pipeline, so that each memory has its source (the sources routes are checked too).
    m1, m2, m3, _ = add_ingest(
        project=project,
        items=[
            NewMemory(text=ALICE_TEXT, scope=Scope(user_id="alice")),
            NewMemory(text="User lives in Lisbon", scope=Scope(user_id="alice")),
            NewMemory(text=BOB_TEXT, scope=Scope(user_id="bob")),
            NewMemory(text="Bot speaks Portuguese", scope=Scope(agent_id="bot")),
        ],
    ).memories
    rel = relationship_create(project=project, source_id=m1.id, target_id=m2.id, relation="related_to")
    hook = webhook_create(project=project, name="h", url=HOOK_URL, event_types=["memory_add"])
    users = get_user_model().objects
    for email in (MEMBER_EMAIL, NEWCOMER_EMAIL):
        user = users.create_user(email.split("@")[0], email=email, password="x")
        Membership.objects.create(organization=organization, user=user)
    project_member_add(project=project, email=MEMBER_EMAIL)
    job, _ = profile_job_create(project=project, operation="trigger", entity_id="alice")

    def key(project_, scopes="read,write,admin", user_id=None, org=False):
        return apikey_create(project=project_, name="k", scopes=scopes, user_id=user_id, organization_key=org)[1]

    revoked = key(project)
    apikey_revoke(api_key=ApiKey.objects.get(prefix=revoked[:12]))
    auth = {"HTTP_AUTHORIZATION": f"Token {key(project)}"}
    client = Client()
    event = client.post(
        "/v3/memories/add/",
        json.dumps({"messages": "I adopted a greyhound", "user_id": "alice", "infer": False}),
        content_type="application/json",
        **auth,
    ).json()["event_id"]
    export = client.post(
        "/v1/exports/",
        json.dumps({"schema": {}, "filters": {"user_id": "alice"}}),
        content_type="application/json",
        **auth,
    ).json()["id"]
    return {
        "project": project,
        "organizations": [organization, other_org],
        "keys": {
            "org": key(sibling, scopes="read", org=True),
            "sibling": key(sibling),
            "other_org": key(other),
            "user_self": key(project, user_id="alice"),
            "user_other": key(project, user_id="bob"),
            "read_only": key(project, scopes="read"),
            "none": None,
            **{f"owner:{scope}": key(project, scopes=scope) for scope in ("read", "write", "admin")},
            **{
                f"lacking:{s}": key(project, scopes=o)
                for s, o in [("read", "write"), ("write", "read"), ("admin", "read,write")]
            },
            "revoked": revoked,
        },
        "ids": {
            "m1": m1.id,
            "m2": m2.id,
            "m3": m3.id,
            "rel": rel.id,
            "hook": hook.id,
            "hook_secret": hook.secret,
            "job": job.id,
            "event": event,
            "export": export,
            "org": organization.id,
            "proj": project.id,
        },
    }


def fill(value, ids):
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    text = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]) if m.group(1) in ids else m.group(0), text)
    return text if isinstance(value, str) else json.loads(text)


def _state(project: Project, users: list[str] | None) -> dict:
    """What a call may not change, as ``{name: (summary, queryset)}``: the project's rows (only
    ``users``' memories, history and entities when given), its keys, webhooks, members, options and
    profiles, and which projects and organisations exist. ``rows`` parts are compared by the
    columns selected, ``count`` parts by their number of rows."""
    memories = Memory.objects.filter(project=project)
    history = MemoryHistory.objects.filter(project=project)
    entities = RegisteredEntity.objects.filter(project=project)
    if users is not None:
        memories, history = memories.filter(user_id__in=users), history.filter(user_id__in=users)
        entities = entities.filter(type="user", name__in=users)
    state = {
        "memories": ("rows", memories.values_list("id", "memory", "valid_to", "expiration_date", "metadata")),
        "history": ("count", history.values_list("pk")),
        "entities": ("rows", entities.values_list("type", "name", "metadata")),
    }
    if users is None:
        state |= {
            "relationships": (
                "rows",
                Relationship.objects.filter(project=project).values_list("id", "relation", "valid_to", "weight"),
            ),
            "projects": ("rows", Project.objects.values_list("id", "name", "options")),
            "organizations": ("count", Organization.objects.values_list("pk")),
            "keys": ("rows", ApiKey.objects.filter(project=project).values_list("id", "revoked_at")),
            "webhooks": ("rows", Webhook.objects.values_list("id", "name", "url", "event_types", "secret")),
            "members": ("rows", ProjectMember.objects.filter(project=project).values_list("user_id", "role")),
            "profile_settings": (
                "rows",
                ProfileSettings.objects.filter(project=project).values_list("enabled", "schema"),
            ),
            "profiles": ("count", UserProfile.objects.filter(project=project).values_list("pk")),
            "jobs": ("count", ProfileJob.objects.filter(project=project).values_list("pk")),
        }
    return state


SUMMARIES = {"rows": "md5(string_agg(r::text, '|' ORDER BY r::text))", "count": "count(*)"}


def snapshot(project: Project) -> dict:
    """``_state`` of the whole project (``all``) and of alice's and bob's memories, read in one
    statement: each ``rows`` part as the md5 of its rows' text in order (any change to a selected
    column of any row, or a row more or less, changes it), each ``count`` part as a number."""
    columns, params, names = [], [], []
    for who, users in (("all", None), ("alice", ["alice"]), ("bob", ["bob"])):
        for name, (summary, queryset) in _state(project, users).items():
            sql, part_params = queryset.query.sql_with_params()
            columns.append(f"(SELECT {SUMMARIES[summary]} FROM ({sql}) AS r)")
            params.extend(part_params)
            names.append((who, name))
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), params)
        values = cursor.fetchone()
    state = {"all": {}, "alice": {}, "bob": {}}
    for (who, name), value in zip(names, values, strict=True):
        state[who][name] = value
    return state


def _writes(project: Project, ids: dict) -> list:
    """One small write to each part of the snapshot: (part, what, write, the sections it shows in)."""
    memories, history = Memory.objects.filter(project=project), MemoryHistory.objects.filter(project=project)
    keys = ApiKey.objects.filter(project=project, revoked_at=None)
    now = timezone.now()
    return [
        ("memories", "alice's text", lambda: memories.filter(pk=ids["m1"]).update(memory="x"), {"all", "alice"}),
        (
            "memories",
            "alice's metadata",
            lambda: memories.filter(pk=ids["m2"]).update(metadata={"x": 1}),
            {"all", "alice"},
        ),
        ("memories", "bob's closed", lambda: memories.filter(pk=ids["m3"]).update(valid_to=now), {"all", "bob"}),
        ("memories", "a memory gone", lambda: memories.filter(pk=ids["m3"]).delete(), {"all", "bob"}),
        ("history", "bob's history gone", lambda: history.filter(user_id="bob").delete(), {"all", "bob"}),
        (
            "entities",
            "alice's entity metadata",
            lambda: RegisteredEntity.objects.update_or_create(
                project=project, type="user", name="alice", defaults={"metadata": {"x": 1}}
            ),
            {"all", "alice"},
        ),
        ("relationships", "a weight", lambda: Relationship.objects.filter(pk=ids["rel"]).update(weight=0.5), {"all"}),
        ("projects", "options", lambda: Project.objects.filter(pk=project.pk).update(options={"x": 1}), {"all"}),
        ("organizations", "one more", lambda: Organization.objects.create(name="New", slug="new"), {"all"}),
        ("keys", "one revoked", lambda: keys.filter(pk__in=keys.values("pk")[:1]).update(revoked_at=now), {"all"}),
        ("webhooks", "a URL", lambda: Webhook.objects.filter(pk=ids["hook"]).update(url="https://x.example"), {"all"}),
        ("members", "a role", lambda: ProjectMember.objects.filter(project=project).update(role="OWNER"), {"all"}),
        (
            "profile_settings",
            "a schema",
            lambda: ProfileSettings.objects.update_or_create(project=project, defaults={"schema": {"x": 1}}),
            {"all"},
        ),
        ("profiles", "one more", lambda: UserProfile.objects.create(project=project, user_id="zed"), {"all"}),
        ("jobs", "one more", lambda: ProfileJob.objects.create(project=project, operation="trigger"), {"all"}),
    ]


def test_the_snapshot_sees_a_write_to_each_part(db, world):
    """The snapshot is a digest; every part of it changes with a write to its rows, and only there."""
    project = world["project"]
    before = snapshot(project)
    writes = _writes(project, world["ids"])
    assert {part for part, *_ in writes} == set(_state(project, None)), "a part of the snapshot without a write here"
    for part, what, write, sections in writes:
        try:
            with transaction.atomic():
                write()
                after = snapshot(project)
                raise Rollback
        except Rollback:
            pass
        changed = {(who, name) for who in before for name in before[who] if after[who][name] != before[who][name]}
        assert changed == {(who, part) for who in sections}, f"{part} ({what}): {sorted(changed)}"
    assert snapshot(project) == before


def forbidden_markers(caller: str, ids: dict) -> list[str]:
    alice = [ALICE_TEXT, str(ids["m1"])]
    bob = [BOB_TEXT, str(ids["m3"])]
    tenant_admin = [HOOK_URL, MEMBER_EMAIL]
    # A webhook's signing secret is shown when it is made or rotated, never again, to anyone.
    return [ids["hook_secret"]] + {
        "owner": [],
        "org": alice + bob,
        "sibling": alice + bob + tenant_admin,
        "other_org": alice + bob + tenant_admin,
        "user_self": bob + tenant_admin,
        "user_other": alice + tenant_admin,
        "read_only": tenant_admin,
        "none": alice + bob + tenant_admin,
    }[caller]


class Rollback(Exception):
    pass


def call(client, method, path, body, key):
    extra = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
    return getattr(client, method.lower())(path, **kwargs, **extra)


@pytest.mark.parametrize("name, method, path, body, statuses", MATRIX, ids=[f"{m[1]} {m[2]}" for m in MATRIX])
def test_access(db, client, world, name, method, path, body, statuses):
    project, ids = world["project"], world["ids"]
    path, body = fill(path, ids), fill(body, ids)
    expected = dict(zip(CALLERS, (int(s) for s in statuses.split()), strict=True))
    scope = required_scope(_view_of(name), method) or "read"
    keys = {**world["keys"], "owner": world["keys"][f"owner:{scope}"]}
    outcome = {}
    before = snapshot(project)  # every call is rolled back: each caller finds this state
    for caller in CALLERS:
        try:
            with transaction.atomic():
                response = call(client, method, path, body, keys[caller])
                outcome[caller] = response.status_code
                after = snapshot(project)
                raise Rollback
        except Rollback:
            pass
        # Archives are streamed.
        content = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
        asked = path + json.dumps(body)  # an id the caller sent may be echoed in a 404's details
        for marker in forbidden_markers(caller, ids):
            assert marker in asked or marker not in content, f"{caller} saw {marker!r} in {method} {path}"
        refused = response.status_code >= 400
        if refused or caller in ("sibling", "other_org", "none"):
            assert after["all"] == before["all"], f"{caller} changed the project through {method} {path}"
        if caller == "user_other":
            assert after["alice"] == before["alice"], f"bob's key changed alice's memories through {method} {path}"
        if caller == "user_self":
            assert after["bob"] == before["bob"], f"alice's key changed bob's memories through {method} {path}"
        if refused:
            error_of(response, response.status_code, response.json().get("code"))
        else:  # every answer has a body: the Mem0 SDKs parse every response
            assert response["Content-Type"].startswith(("application/json", "text/plain", "application/x-ndjson"))
            assert content
    assert outcome == expected, "got: " + " ".join(str(outcome[c]) for c in CALLERS)

    # Keys that are not keys, and a key of the project without the route's scope.
    for bad in (world["keys"]["revoked"], "mem0_not-a-real-key-at-all-000000"):
        error_of(call(client, method, path, body, bad), 401, "UNAUTHORIZED")
    if required_scope(_view_of(name), method) is not None:
        lacking = world["keys"][f"lacking:{scope}"]
        assert scope in error_of(call(client, method, path, body, lacking), 403, "FORBIDDEN")["detail"]
    assert snapshot(project) == before


# --- the Django admin: staff only ----------------------------------------------------------------

# Admin routes that answer without a staff login, and what they answer to anyone (logout: back to /admin/).
ADMIN_OPEN = {"login": 200, "logout": 302}


def _admin_paths():
    resolver = next(p for p in get_resolver().url_patterns if str(getattr(p, "pattern", "")) == "admin/")

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            route = prefix + str(pattern.pattern)
            route = re.sub(r"<(?:\w+:)?(\w+)>", "1", route)  # path converters
            route = route.replace("^(?P<app_label>auth|django_tasks_database|accounts|memories|graph)/$", "accounts/")
            route = route.replace("(?P<url>.*)$", "no-such-page/")
            yield pattern.name or route, "/" + route

    return list(walk(resolver.url_patterns, "admin/"))


@pytest.mark.parametrize("who", ["anonymous", "not_staff"])
def test_every_admin_route_needs_a_staff_login(db, client, who):
    if who == "not_staff":
        client.force_login(get_user_model().objects.create_user("plain", password="x"))
    paths = _admin_paths()
    assert len(paths) > 40
    for name, path in paths:
        response = client.get(path)
        if name in ADMIN_OPEN:
            assert response.status_code == ADMIN_OPEN[name], (name, path, response.status_code)
        else:
            assert response.status_code == 302, (name, path, response.status_code)
            assert response["Location"].startswith("/admin/login/"), (name, path)
