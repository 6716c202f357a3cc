"""One embedded PostgreSQL per pytest-xdist worker (``pytest -n 2``).

Loaded with ``-p tests.xdist_workers`` (pyproject.toml ``addopts``), so it is imported before
pytest-django reads the settings, which is when ``mem0g_site/settings.py`` starts the embedded
database in ``$MEM0G_DATA_DIR/pgdata``. In an xdist worker (``PYTEST_XDIST_WORKER`` is ``gw0``,
``gw1``, ...; xdist sets it before the worker builds its config) this points ``MEM0G_DATA_DIR`` at
``$MEM0G_DATA_DIR/xdist-<worker>``: each worker then runs its own cluster (its own data directory,
socket, secret key and test database), and the workers share no database, no socket, no file. Each
worker also runs the embedding model on one thread (below). Subprocesses that a test starts inherit
the worker's directory and thread counts. Without xdist, or with ``-n 0``,
nothing changes. With ``DATABASE_URL`` set, the workers share that server; pytest-django gives each
one its own test database (``test_<name>_gw0``, ...).
"""

import os
from pathlib import Path

import pytest

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    _base = Path(os.environ.get("MEM0G_DATA_DIR") or Path(__file__).resolve().parent.parent / "var")
    if _base.name != f"xdist-{_worker}":  # not twice (a worker's own subprocess running pytest)
        _own = _base / f"xdist-{_worker}"
        _own.mkdir(parents=True, exist_ok=True)
        os.environ["MEM0G_DATA_DIR"] = str(_own)
    # One core per worker: the embedding model (ONNX Runtime's intra-op threads, EMBEDDING_THREADS)
    # and torch (its OpenMP pool, OMP_NUM_THREADS; read when torch is first imported) run one thread
    # each. Their default, a thread per core in every worker, has each worker's threads wait for the
    # cores the other worker holds: tests/test_embedding.py took 52 s (39 s of CPU) with it and 31 s
    # (31 s of CPU) without, on two busy cores. The same vectors (the tests compare them within 1e-5).
    # A value the caller set is kept.
    os.environ.setdefault("EMBEDDING_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """In the controller of an xdist run (``-n 2``): no embedded PostgreSQL of its own. It runs no
    test, yet pytest-django loads the settings here, which would start one (``initdb`` on a fresh
    data directory: seconds before the workers even start). An unreachable ``DATABASE_URL`` stands
    in while the settings load, and is taken away before the workers are spawned, so they start
    their own clusters as above. The controller never connects to it."""
    workers = getattr(early_config.known_args_namespace, "numprocesses", None)
    stand_in = not _worker and workers not in (None, 0) and not os.environ.get("DATABASE_URL")
    if stand_in:
        os.environ["DATABASE_URL"] = "postgres://xdist-controller.invalid:1/no-database"
    try:
        return (yield)
    finally:
        if stand_in:
            del os.environ["DATABASE_URL"]
