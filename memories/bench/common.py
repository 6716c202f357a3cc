"""What every bench mode shares: the database check, the machine's figures, the clean-up of a bench
project and the ``--json`` output."""

import json
import os
import platform
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError
from django.utils import timezone

from accounts.models import Organization, Project
from memories.bench.measure import cpu_model
from memories.models import Memory, MemoryHistory

HNSW_INDEX = "memory_embedding_hnsw"
TOP_K = 10


def check_database() -> None:
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise CommandError(f"DATABASE_URL: cannot connect to the database ({first_line})") from None
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("the database has unapplied migrations: run `python manage.py migrate` first")


def environment() -> dict[str, Any]:
    import django
    import torch

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
            "current_setting('shared_buffers'), current_setting('work_mem'), "
            "current_setting('maintenance_work_mem'), current_setting('synchronous_commit'), "
            "current_setting('max_parallel_workers_per_gather'), pg_backend_pid(), "
            "current_setting('huge_pages_status', true)"  # PostgreSQL 17 and later
        )
        row = cursor.fetchone()
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "postgres": row[0],
        "pgvector": row[1],
        "shared_buffers": row[2],
        "work_mem": row[3],
        "maintenance_work_mem": row[4],
        "synchronous_commit": row[5],
        "max_parallel_workers_per_gather": row[6],
        "backend_pid": row[7],
        # "on": shared buffers on huge pages, mapped by each new connection in 2 MB steps, not 4 kB
        # (docs/DEPLOY.md, "The embedded database"); None: a server that does not say.
        "huge_pages": row[8],
        "embedded_database": settings.DATABASE_IS_EMBEDDED,
    }


def new_bench_project(prefix: str) -> tuple[Organization, Project, str]:
    """A throw-away organization and project named ``<prefix>-<timestamp>-<random>`` (and that slug)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    slug = f"{prefix}-{stamp}-{secrets.token_hex(2)}"
    organization = Organization.objects.create(name=slug, slug=slug)
    project = Project.objects.create(organization=organization, name=slug, slug=slug)
    return organization, project, slug


def delete_bench_project(project, organization) -> dict[str, Any]:
    """Delete a bench project, its organization and its rows (raw deletes for the big tables)."""
    started = time.perf_counter()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # Raw deletes: the ORM would load 100k rows to cascade. Foreign keys to memories are
        # checked at commit, after project.delete() has removed anything else the project owns.
        cursor.execute(f"DELETE FROM {quote(Memory._meta.db_table)} WHERE project_id = %s", [project.pk])
        memories = cursor.rowcount
        cursor.execute(f"DELETE FROM {quote(MemoryHistory._meta.db_table)} WHERE project_id = %s", [project.pk])
        history = cursor.rowcount
        project_id = project.pk
        project.delete()
        organization.delete()
    return {
        "deleted_memories": memories,
        "deleted_history": history,
        "remaining_memories": Memory.objects.filter(project_id=project_id).count(),
        "remaining_history": MemoryHistory.objects.filter(project_id=project_id).count(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def write_json(path: Path | None, report: dict[str, Any], write, **dumps) -> None:
    """``--json PATH``: the figures as JSON (nothing when no path was given)."""
    if not path:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, **dumps) + "\n")
    write(f"figures written to {path}")
