"""The web UI at /ui/: projects → users → a user's memories → a memory, a user's graph, and the
review queue of what the server inferred (per project and per user)."""

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from ui.converters import EntityIdConverter
from ui.views import graph, memories, projects, relationships, review

register_converter(EntityIdConverter, "entity")

app_name = "ui"

P = "p/<uuid:project_id>/"
U = P + "u/<entity:user_id>/"
M = P + "m/<uuid:memory_id>/"
R = P + "r/<uuid:relationship_id>/"
T = P + "t/<uuid:trace_id>/"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="ui:login"), name="logout"),
    path("", projects.project_list, name="projects"),
    path(P, projects.user_list, name="users"),
    path(U, memories.user_memories, name="user"),
    path(U + "graph/", graph.user_graph, name="graph"),
    path(U + "graph.json", graph.user_graph_data, name="graph-data"),
    path(M, memories.memory_detail, name="memory"),
    path(M + "edit/", memories.memory_edit, name="memory-edit"),
    path(M + "delete/", memories.memory_delete, name="memory-delete"),
    path(M + "state/", memories.memory_state, name="memory-state"),
    path(M + "targets/", relationships.relationship_targets, name="relationship-targets"),
    path(M + "relationships/", relationships.relationship_add, name="relationship-add"),
    path(R + "close/", relationships.relationship_close, name="relationship-close"),
    path(R + "retract/", relationships.relationship_retract, name="relationship-retract"),
    path(P + "review/", review.review_queue, name="review"),
    path(U + "review/", review.review_queue, name="user-review"),
    path(T + "review/", review.review_action, name="review-action"),
]
