"""What an API key may reach inside its project. A key restricted to one ``user_id`` sees only
that user's memories; asking for anyone else is answered like asking for someone who does not
exist (404), so ids cannot be probed."""

from typing import Any

from accounts.models import ApiKey
from mem0g_site.exceptions import UserNotFound
from memories.inputs import Scope, clean_id


def key_user(api_key: ApiKey, user_id: Any) -> str | None:
    """The user a request may act for: the key's own user when it is restricted. ``user_id`` is
    compared in its canonical form (``clean_id``: a number and its digits are the same id), so no
    JSON type slips past the fence."""
    if api_key.user_id is None:
        return user_id
    if user_id is not None and clean_id(user_id, field_name="user_id") != api_key.user_id:
        raise UserNotFound(user_id)
    return api_key.user_id


def key_scope(api_key: ApiKey, requested: Scope | None = None) -> Scope:
    """``requested`` narrowed to the key's user, if any."""
    requested = requested or Scope()
    return Scope(
        user_id=key_user(api_key, requested.user_id),
        agent_id=requested.agent_id,
        app_id=requested.app_id,
        run_id=requested.run_id,
    )


def key_within(api_key: ApiKey) -> Scope | None:
    """The fence for reads and writes by memory id (None: the whole project)."""
    return Scope(user_id=api_key.user_id) if api_key.user_id else None
