from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from mem0g_site import api, views
from memories.api import users

# Routes answer with and without a trailing slash; nothing redirects (APPEND_SLASH is off).
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    re_path(r"^status/?$", api.StatusView.as_view(), name="status"),
    re_path(r"^metrics/?$", api.MetricsView.as_view(), name="metrics"),
    re_path(r"^metrics/prometheus/?$", api.PrometheusMetricsView.as_view(), name="metrics-prometheus"),
    re_path(r"^v1/users/(?P<user_id>[^/]+)/stats/?$", users.UserStatsView.as_view(), name="user-stats"),
    re_path(r"^v1/users/(?P<user_id>[^/]+)/memories/?$", users.UserMemoriesView.as_view(), name="user-memories"),
    path("admin/", admin.site.urls),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

handler400 = "mem0g_site.errors.bad_request"
handler403 = "mem0g_site.errors.permission_denied"
handler404 = "mem0g_site.errors.page_not_found"
handler500 = "mem0g_site.errors.server_error"
