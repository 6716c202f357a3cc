"""Every write to accounts goes through these functions (API, admin, commands, the web UI's login).

Import them from here (``from accounts.services import apikey_create``); the modules are the rooms:
``keys`` (API keys, the admin user), ``projects`` (organisations, projects, members), ``webhooks``,
``profiles`` (registered entities and user profiles).
"""

from accounts.services.keys import (
    ADMIN_USERNAME,
    LAST_USED_RESOLUTION,
    admin_user_ensure,
    apikey_create,
    apikey_revoke,
    apikey_touch,
    apikeys_bootstrap,
)
from accounts.services.profiles import (
    SAMPLE_DEFAULT,
    SAMPLE_MAX,
    entity_forget,
    entity_register,
    profile_job_create,
    profile_settings_update,
)
from accounts.services.projects import (
    PROJECT_OPTIONS,
    organization_find,
    project_create,
    project_delete,
    project_get_or_create,
    project_member_add,
    project_member_remove,
    project_member_update,
    project_update_options,
)
from accounts.services.webhooks import webhook_create, webhook_delete, webhook_secret_rotate, webhook_update

__all__ = [
    "ADMIN_USERNAME",
    "LAST_USED_RESOLUTION",
    "PROJECT_OPTIONS",
    "SAMPLE_DEFAULT",
    "SAMPLE_MAX",
    "admin_user_ensure",
    "apikey_create",
    "apikey_revoke",
    "apikey_touch",
    "apikeys_bootstrap",
    "entity_forget",
    "entity_register",
    "organization_find",
    "profile_job_create",
    "profile_settings_update",
    "project_create",
    "project_delete",
    "project_get_or_create",
    "project_member_add",
    "project_member_remove",
    "project_member_update",
    "project_update_options",
    "webhook_create",
    "webhook_delete",
    "webhook_secret_rotate",
    "webhook_update",
]
