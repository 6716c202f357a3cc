from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Models can be imported only once the app registry is ready, so here rather than at the top.
        from django.db.models.signals import post_delete, post_save

        from accounts import keycache
        from accounts.models import ApiKey, Organization, Project

        # A key found in a process's key cache must not outlive its revocation (accounts/keycache.py).
        for model in (ApiKey, Project, Organization):
            post_save.connect(keycache.on_model_change, sender=model, dispatch_uid=f"keycache-save-{model.__name__}")
            post_delete.connect(keycache.on_model_change, sender=model, dispatch_uid=f"keycache-del-{model.__name__}")
