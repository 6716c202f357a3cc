import json
from datetime import datetime

import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_healthy_with_a_timestamp(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "healthy"
    assert body["database"] == "ok"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


def test_health_answers_with_a_trailing_slash_and_never_redirects(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert json.loads(response.content)["status"] == "healthy"


def test_health_needs_no_credentials_and_refuses_writes(client):
    assert client.get("/health", HTTP_AUTHORIZATION="Token wrong").status_code == 200
    assert client.post("/health").status_code == 405


def test_api_schema_and_docs_are_served(client):
    assert client.get("/schema").status_code == 200
    assert client.get("/docs").status_code == 200
