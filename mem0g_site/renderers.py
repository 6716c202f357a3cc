"""The API's JSON renderer: DRF's, with its time counted as the ``serialize`` stage of the
``Server-Timing`` header (mem0g_site/timing.py)."""

from rest_framework.renderers import JSONRenderer as DrfJSONRenderer

from mem0g_site import timing


class JSONRenderer(DrfJSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        with timing.stage("serialize"):
            return super().render(data, accepted_media_type, renderer_context)
