"""Background jobs (django-tasks, database backend): ids and JSON in, one service call each.

Run by ``python manage.py worker`` (which ``serve`` starts beside gunicorn).
"""

from typing import Any

from django_tasks import task


@task()
def add_event_run_task(event_id: str, ingest: dict[str, Any]) -> str:
    """A queued add (``async_mode: true``): see :func:`memories.services.add_event_run`."""
    from memories.services import add_event_run

    return add_event_run(event_id=event_id, ingest=ingest)


@task()
def maintenance_task() -> dict[str, int]:
    """The periodic job; it queues its own next run: see :func:`memories.services.maintenance_run`."""
    from memories.services import maintenance_run

    return maintenance_run()
