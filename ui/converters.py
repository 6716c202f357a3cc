"""A path converter for entity ids (``user_id``, ``agent_id``, ...) inside UI paths.

Entity ids are free text: they may hold ``/``, ``%``, ``?``, ``#``, spaces or be ``..``. Django's
``str`` converter refuses ``/`` (so ``{% url %}`` raised NoReverseMatch and the page answered 500),
and ``path`` would make ``u/<id>/graph/`` ambiguous. This one keeps an id inside one path segment:
``to_url`` escapes ``%`` and ``/`` (and a ``.`` or ``..`` id, which browsers would fold away), Django
quotes the result once more as it does every URL, the server decodes that layer back, and
``to_python`` undoes ours. ``a/b`` travels as ``a%252Fb``.
"""

from urllib.parse import unquote


class EntityIdConverter:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        escaped = str(value).replace("%", "%25").replace("/", "%2F")
        if escaped in (".", ".."):
            escaped = escaped.replace(".", "%2E")
        return escaped
