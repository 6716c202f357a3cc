"""Operators curate memories here. Saves and deletes go through the same services as the API, so
every change is embedded and written to the history like any other.

One module per admin page (``memory``, ``history``, ``review``); importing them registers their
ModelAdmins, which is what the admin's autodiscovery of ``memories.admin`` needs.
"""

from memories.admin import history, memory, review

__all__ = ["history", "memory", "review"]
