from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from mem0g_site import api, views

# Routes answer with and without a trailing slash; nothing redirects (APPEND_SLASH is off).
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    re_path(r"^status/?$", api.StatusView.as_view(), name="status"),
    re_path(r"^metrics/?$", api.MetricsView.as_view(), name="metrics"),
    re_path(r"^metrics/prometheus/?$", api.PrometheusMetricsView.as_view(), name="metrics-prometheus"),
    path("ui/", include("ui.urls")),
    path("", include("memories.urls")),
    path("admin/", admin.site.urls),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="api-schema"), name="swagger-ui"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="api-schema"), name="redoc"),
]

handler400 = "mem0g_site.errors.bad_request"
handler403 = "mem0g_site.errors.permission_denied"
handler404 = "mem0g_site.errors.page_not_found"
handler500 = "mem0g_site.errors.server_error"
