from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from mem0g_site import views

# Routes answer with and without a trailing slash; nothing redirects (APPEND_SLASH is off).
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    path("admin/", admin.site.urls),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
