"""Routes of the memory dialects. Every path answers with and without its trailing slash."""

from django.urls import re_path

from accounts.api import entities as registered
from accounts.api import members, profiles, webhooks
from accounts.api import projects as org_projects
from graph import api as graph
from memories.api import (
    adding,
    archive,
    entities,
    events,
    exports,
    mcp,
    memories,
    memory,
    oss,
    projects,
    search,
    sources,
    users,
)


def route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


ID = r"(?P<memory_id>[^/]+)"

urlpatterns = [
    # Mem0 Platform (official SDKs) and our memory-layer routes share the /v1/memories paths.
    route(r"v1/ping", projects.PingView, "ping"),
    route(r"v3/memories/add", adding.AddV3View, "memories-add-v3"),
    route(r"v3/memories", memories.ListV3View, "memories-list-v3"),
    route(r"v2/memories", memories.ListV2View, "memories-list-v2"),
    route(r"v3/memories/search", search.SearchV3View, "memories-search-v3"),
    route(r"v2/memories/search", search.SearchV2View, "memories-search-v2"),
    route(r"v1/memories/search", search.SearchV1View, "memories-search-v1"),
    route(r"v1/memories/user/(?P<user_id>[^/]+)", memories.UserMemoriesListView, "memories-of-user"),
    route(
        r"v1/memories/(?P<entity_type>agent|app|run)/(?P<entity_id>[^/]+)",
        entities.EntityMemoriesView,
        "memories-of-entity",
    ),
    route(r"v1/memories/events", events.MemoryEventsView, "memory-events"),
    route(r"v1/memories", memories.MemoriesView, "memories"),
    # The graph extension; v1/memories/graph must come before the memory-detail route.
    route(r"v1/memories/graph", graph.MemoryGraphView, "memory-graph"),
    route(rf"v1/memories/{ID}/relationships", graph.MemoryRelationshipsView, "memory-relationships"),
    route(rf"v1/memories/{ID}/related", graph.RelatedMemoriesView, "memory-related"),
    route(rf"v1/memories/{ID}/timeline", graph.MemoryTimelineView, "memory-timeline"),
    route(r"v1/relationships/(?P<relationship_id>[^/]+)", graph.RelationshipView, "relationship"),
    route(rf"v1/memories/{ID}/history", memory.HistoryView, "memory-history"),
    route(rf"v1/memories/{ID}", memory.MemoryDetailView, "memory-detail"),
    route(r"v2/entities/user/(?P<user_id>[^/]+)/profile", profiles.UserProfileView, "user-profile"),
    route(r"v1/entities", entities.EntitiesView, "entities"),
    route(r"v1/entities/filters", entities.EntityFiltersView, "entity-filters"),
    route(r"v[12]/entities/(?P<entity_type>[^/]+)/(?P<name>[^/]+)", entities.EntityView, "entity"),
    route(r"v1/event/(?P<event_id>[^/]+)", events.EventView, "event"),
    route(r"v1/events", events.EventsView, "events"),
    route(r"v1/sources", sources.SourcesView, "sources"),
    route(r"v1/stats", events.StatsView, "stats"),
    route(r"v1/batch", memory.BatchView, "batch"),
    route(r"v1/feedback", memory.FeedbackView, "feedback"),
    route(r"v1/exports", exports.ExportsView, "exports"),
    route(r"v1/exports/get", exports.ExportGetView, "exports-get"),
    route(r"v1/summary", exports.SummaryView, "summary"),
    route(r"api/v1/orgs/organizations/(?P<org_id>[^/]+)/projects", org_projects.ProjectsView, "projects"),
    route(
        r"api/v1/orgs/organizations/(?P<org_id>[^/]+)/projects/(?P<project_id>[^/]+)",
        org_projects.ProjectDetailView,
        "project",
    ),
    route(
        r"api/v1/orgs/organizations/(?P<org_id>[^/]+)/projects/(?P<project_id>[^/]+)/members",
        members.ProjectMembersView,
        "project-members",
    ),
    route(r"api/v1/webhooks/projects/(?P<project_id>[^/]+)", webhooks.ProjectWebhooksView, "project-webhooks"),
    route(r"api/v1/webhooks/(?P<webhook_id>[^/]+)", webhooks.WebhookView, "webhook"),
    route(r"api/v1/webhooks/(?P<webhook_id>[^/]+)/secret", webhooks.WebhookSecretView, "webhook-secret"),
    # Entities made before their first memory, and user profiles.
    route(r"v1/users", registered.UserCreateView, "users-create"),
    route(r"v1/agents", registered.AgentCreateView, "agents-create"),
    route(r"v1/apps", registered.AppCreateView, "apps-create"),
    route(r"v1/runs", registered.RunCreateView, "runs-create"),
    route(r"v2/profiles/jobs", profiles.ProfileJobsView, "profile-jobs"),
    route(r"v2/profiles/settings", profiles.ProfileSettingsView, "profile-settings"),
    route(r"v2/profiles/jobs/(?P<job_id>[^/]+)", profiles.ProfileJobView, "profile-job"),
    # Mem0's OSS server, at the root. "/" sends people to the API docs.
    re_path(r"^$", oss.root, name="root"),
    route(r"memories", oss.OssMemoriesView, "oss-memories"),
    route(rf"memories/{ID}/history", oss.OssHistoryView, "oss-memory-history"),
    route(rf"memories/{ID}", oss.OssMemoryView, "oss-memory"),
    route(r"search", oss.OssSearchView, "oss-search"),
    route(r"reset", oss.OssResetView, "oss-reset"),
    route(r"entities", oss.OssEntitiesView, "oss-entities"),
    route(r"entities/(?P<entity_type>[^/]+)/(?P<entity_id>[^/]+)", oss.OssEntityView, "oss-entity"),
    # The MCP server (Streamable HTTP) for agents and assistants: docs/MCP.md.
    route(r"mcp", mcp.McpView, "mcp"),
    # Operator routes for one user.
    route(r"v1/users/(?P<user_id>[^/]+)/stats", users.UserStatsView, "user-stats"),
    route(r"v1/users/(?P<user_id>[^/]+)/memories", users.UserMemoriesView, "user-memories"),
    # Portable archives of a project or of one user (docs/MIGRATING.md).
    route(r"v1/archive/export", archive.ArchiveExportView, "archive-export"),
    route(r"v1/archive/import", archive.ArchiveImportView, "archive-import"),
]
