"""The OpenAPI description: valid without warnings, every route documented with its request and
response shapes and examples, and the docs pages served."""

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from mem0g_site.api import TOLERATED_PARAMS, ApiView

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SECURITY = [{"TokenAuth": []}, {"BearerAuth": []}, {"ApiKeyAuth": []}]

# Platform paths keep the trailing slash the Mem0 SDKs send; the other dialects are documented
# without it (every route answers both ways).
EXPECTED_PATHS = {
    "/v1/ping/": {"get"},
    "/v3/memories/add/": {"post"},
    "/v3/memories/": {"post"},
    "/v2/memories/": {"post"},
    "/v3/memories/search/": {"post"},
    "/v2/memories/search/": {"post"},
    "/v1/memories/search/": {"get", "post"},
    "/v1/memories/user/{user_id}": {"get"},
    "/v1/memories/": {"get", "post", "delete"},
    "/v1/memories/{memory_id}/": {"get", "put", "patch", "delete"},
    "/v1/memories/{memory_id}/history/": {"get"},
    "/v1/entities/": {"get"},
    "/v1/entities/{entity_type}/{name}/": {"delete"},
    "/v2/entities/{entity_type}/{name}/": {"delete"},
    "/v1/batch/": {"put", "delete"},
    "/v1/feedback/": {"post"},
    "/v1/exports/": {"post"},
    "/v1/exports/get/": {"post"},
    "/v1/summary/": {"post"},
    "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/": {"get", "patch"},
    "/memories": {"get", "post", "delete"},
    "/memories/{memory_id}": {"get", "put", "delete"},
    "/memories/{memory_id}/history": {"get"},
    "/search": {"post"},
    "/reset": {"post"},
    "/entities": {"get"},
    "/entities/{entity_type}/{entity_id}": {"delete"},
    "/status": {"get"},
    "/metrics": {"get"},
    "/metrics/prometheus": {"get"},
    "/v1/users/{user_id}/stats": {"get"},
    "/v1/users/{user_id}/memories": {"delete"},
    # The graph extension.
    "/v1/memories/{memory_id}/relationships": {"get", "post"},
    "/v1/relationships/{relationship_id}": {"patch", "delete"},
    "/v1/memories/{memory_id}/related": {"get"},
    "/v1/memories/graph": {"get"},
    "/v1/memories/{memory_id}/timeline": {"get"},
    "/v1/archive/export": {"get"},
    "/v1/archive/import": {"post"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def api_routes(patterns=None, prefix=""):
    """(regex, view class) of every ApiView route in the URLconf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and issubclass(view, ApiView):
                yield prefix + str(pattern.pattern), view


def concrete(path: str, operation: dict) -> str:
    """The path with each parameter replaced by its documented example."""

    def value(match):
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "path" and parameter["name"] == match.group(1):
                return str(next(iter(parameter["examples"].values()))["value"])
        raise AssertionError(f"{path}: path parameter {match.group(1)} is not documented")

    return re.sub(r"\{(\w+)\}", value, path)


def test_the_schema_validates_without_warnings(tmp_path, capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    captured = capsys.readouterr()
    assert "Warning" not in captured.out + captured.err
    assert "Error" not in captured.out + captured.err
    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3.")


def test_the_schema_is_served_at_both_addresses(client, schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "mem0g"
    other = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert other.status_code == 200 and set(other.json()["paths"]) == set(schema["paths"])


def test_every_route_is_documented(schema):
    documented = {path: {m for m in HTTP_METHODS if m in item} for path, item in schema["paths"].items()}
    for path, methods in EXPECTED_PATHS.items():
        assert path in documented, path
        assert methods <= documented[path], (path, methods, documented[path])
    assert not {"/schema", "/api/schema", "/docs", "/redoc", "/health"} & {p.rstrip("/") for p in documented}

    # Every documented path and method reaches a view that answers it...
    views = {}
    for path, method, operation in operations(schema):
        view = resolve(concrete(path, operation)).func.cls
        assert hasattr(view, method), (path, method, view)
        views.setdefault(view, set()).add(method)
    # ...and every ApiView route of the URLconf, with each of its methods, is documented.
    for regex, view in api_routes():
        methods = {m for m in HTTP_METHODS if hasattr(view, m)}
        assert views.get(view, set()) == methods, (regex, view.__name__, methods, views.get(view))


def test_every_operation_has_a_success_schema_an_example_and_security(schema):
    seen = set()
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation["operationId"] not in seen, where
        seen.add(operation["operationId"])
        assert operation.get("summary") and operation.get("tags"), where
        # The metrics routes also take the operator's METRICS_TOKEN.
        extra = [{"MetricsToken": []}] if path.startswith("/metrics") else []
        assert operation["security"] == extra + SECURITY, where
        assert "scope" in operation["description"] or "any valid API key" in operation["description"], where
        success = [operation["responses"][code] for code in ("200", "201") if code in operation["responses"]]
        assert success and all(r["content"] and all("schema" in c for c in r["content"].values()) for r in success)
        examples = [
            name
            for body in [operation.get("requestBody", {})] + success
            for content in body.get("content", {}).values()
            for name in content.get("examples", {})
        ]
        assert examples, f"{where} has no example"
        for code in ("400", "401", "403", "429"):
            error = operation["responses"][code]["content"]["application/json"]
            assert error["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, (where, code)


def test_documented_query_parameters_are_the_accepted_ones(schema):
    """A documented parameter must not be refused as unknown, and every accepted one is documented."""
    documented = {}
    for path, method, operation in operations(schema):
        view = resolve(concrete(path, operation)).func.cls
        accepted = view.allowed_query_params(method.upper())
        names = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        assert names <= accepted | TOLERATED_PARAMS, (method, path, names - accepted)
        documented.setdefault((view, method.upper()), set()).update(names)
    for (view, method), names in documented.items():
        accepted = view.allowed_query_params(method)
        assert names == set(accepted), (view.__name__, method, set(accepted) - names)


def test_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["TokenAuth"] == {**schemes["TokenAuth"], "type": "apiKey", "in": "header", "name": "Authorization"}
    assert schemes["BearerAuth"]["type"] == "http" and schemes["BearerAuth"]["scheme"] == "bearer"
    assert schemes["ApiKeyAuth"] == {**schemes["ApiKeyAuth"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["MetricsToken"]["type"] == "http" and schemes["MetricsToken"]["scheme"] == "bearer"


def test_the_error_schema_is_the_real_error_body(client, schema):
    body = client.get("/v1/memories/").json()  # no key: 401
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert set(error["properties"]) == set(body)
    assert set(schema["components"]["schemas"]["ErrorDetail"]["properties"]) == set(body["error"])


def test_the_memory_examples_have_the_memory_shape(schema):
    from memories.api import examples as doc

    assert set(doc.MEMORY) == set(schema["components"]["schemas"]["Memory"]["properties"])
    result = set(schema["components"]["schemas"]["SearchResult"]["properties"])
    assert set(doc.SCORED_MEMORY) == result - {"score_breakdown"}
    assert set(doc.HISTORY_ROW) == set(schema["components"]["schemas"]["History"]["properties"])


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/redoc", "/redoc/"])
def test_the_docs_pages(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema" in response.content
