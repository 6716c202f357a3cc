from django.apps import AppConfig


class Mem0gSiteConfig(AppConfig):
    """Project plumbing: the ``serve`` command and other site-wide pieces."""

    name = "mem0g_site"
    verbose_name = "mem0g"
