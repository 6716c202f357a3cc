"""What the apps' admin pages share."""


class ReadOnlyAdmin:
    """A model admin whose rows are a record: shown, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
