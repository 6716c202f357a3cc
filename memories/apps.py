from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    name = "memories"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready (the check reads settings and models), not at load.
        from memories import checks  # noqa: F401  (registers the embedding-model check)
        from memories.vectors import register_dumpers

        register_dumpers()
