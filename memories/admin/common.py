"""What the memories admin pages share: finding rows by a pasted memory id, one service call per
selected row, and the signal that a save was refused."""

from django.contrib import messages

from mem0g_site.exceptions import ApplicationError
from memories.inputs import (
    clean_uuid,
)


def each_row(modeladmin, request, rows, call, done: str, nouns: tuple[str, str]) -> None:
    """``call(row, actor_id)`` for each selected row: a row the service refuses is reported with its
    message and skipped; then "{done} N {noun}" (``nouns``: singular, plural)."""
    actor_id = f"admin:{request.user.get_username()}"
    count = 0
    for row in rows:
        try:
            call(row, actor_id)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{row.pk}: {exc.message}", level=messages.ERROR)
            continue
        count += 1
    modeladmin.message_user(request, f"{done} {count} {nouns[0] if count == 1 else nouns[1]}.")


class MemoryIdSearchMixin:
    """A pasted memory id in the search box finds that memory's rows."""

    memory_id_field = "pk"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        memory_id = clean_uuid(search_term.strip())
        if memory_id is not None:
            results |= queryset.filter(**{self.memory_id_field: memory_id})
        return results, may_have_duplicates


class NotSaved(Exception):
    """A save the services refused (the message is already shown)."""
