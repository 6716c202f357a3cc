"""What the organisation routes share: the organisation and project path parameters, their
examples, and the 404 of a project the key cannot reach."""

from mem0g_site import openapi

ORG_ID = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
PROJECT_ID = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ORG_PARAM = openapi.path_param("org_id", "The key's organisation id (any other is a 404).", ORG_ID)
PROJECT_PARAM = openapi.path_param(
    "project_id", "The key's project, or (organisation key) another project of its organisation.", PROJECT_ID
)
NOT_FOUND = {"e404": ("NOT_FOUND", "Project not found", None)}
