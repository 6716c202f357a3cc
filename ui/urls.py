"""The web UI at /ui/: projects → users → a user's memories → a memory, a user's graph, and the
review queue of what the server inferred (per project and per user)."""

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from ui import views
from ui.converters import EntityIdConverter

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
    path("", views.project_list, name="projects"),
    path(P, views.user_list, name="users"),
    path(U, views.user_memories, name="user"),
    path(U + "graph/", views.user_graph, name="graph"),
    path(U + "graph.json", views.user_graph_data, name="graph-data"),
    path(M, views.memory_detail, name="memory"),
    path(M + "edit/", views.memory_edit, name="memory-edit"),
    path(M + "delete/", views.memory_delete, name="memory-delete"),
    path(M + "state/", views.memory_state, name="memory-state"),
    path(M + "targets/", views.relationship_targets, name="relationship-targets"),
    path(M + "relationships/", views.relationship_add, name="relationship-add"),
    path(R + "close/", views.relationship_close, name="relationship-close"),
    path(R + "retract/", views.relationship_retract, name="relationship-retract"),
    path(P + "review/", views.review_queue, name="review"),
    path(U + "review/", views.review_queue, name="user-review"),
    path(T + "review/", views.review_action, name="review-action"),
]
