"""Site-wide templates live in the top-level ``templates/`` (base, login, error pages); the web UI's
pages extend its base. HTML paths get these pages; API paths keep the one JSON error format."""

from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.test import RequestFactory

from accounts.models import ProjectMember
from mem0g_site.errors import server_error

ROOT = Path(__file__).resolve().parent.parent


def test_site_wide_templates_come_from_the_top_level_folder():
    assert ROOT / "templates" in [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    for name in ("base.html", "login.html", "locked_out.html", "403.html", "404.html", "500.html"):
        assert Path(get_template(name).origin.name) == ROOT / "templates" / name
    for page in (ROOT / "ui" / "templates" / "ui").glob("*.html"):
        text = page.read_text()
        assert "ui/base.html" not in text, page.name


@pytest.fixture
def reader(db, django_user_model, project, client):
    person = django_user_model.objects.create_user("rita", password="pw-rita-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.READER)
    client.force_login(person)
    return client


def test_a_missing_page_is_the_sites_404(reader):
    response = reader.get("/ui/p/not-a-uuid/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Not found</h1>" in page and 'class="brand"' in page and "rita" in page  # base.html, logged in


def test_a_readers_write_is_the_sites_403_with_the_reason(reader, project, add):
    memory = add(project, "User likes tea", user_id="alice")
    response = reader.post(f"/ui/p/{project.pk}/m/{memory.pk}/delete/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page and "ask one of its owners" in page


def test_the_500_page_stands_alone(db):
    response = server_error(RequestFactory().get("/ui/boom/"))
    assert response.status_code == 500
    assert b"<h1>Server error</h1>" in response.content


def test_api_paths_keep_the_json_errors(client, db):
    response = client.get("/v1/no-such-route/")
    assert response.status_code == 404
    assert response.json()["code"]
