"""What the memories admin pages share: finding rows by a pasted memory id, and the signal that a
save was refused."""

from memories.inputs import (
    clean_uuid,
)


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
