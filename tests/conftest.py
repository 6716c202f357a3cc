import os

import pytest

from accounts.models import Organization, Project
from accounts.selectors import project_default
from memories.inputs import NewMemory, Scope
from memories.services import memories_add

os.environ.setdefault("MEM0_TELEMETRY", "false")


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
