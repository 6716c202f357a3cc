"""gunicorn settings used by ``manage.py serve`` (bind, workers and threads come from its flags)."""

import threading

worker_class = "gthread"
timeout = 120
graceful_timeout = 20
keepalive = 5
# One control socket per user would clash between several servers (tests, a dev server); unused.
control_socket_disable = True


def post_worker_init(worker):
    # Load the embedding model in the background so the first search does not pay for it. Imported
    # here: gunicorn reads this file before Django is set up.
    from memories.embedding import get_embedder

    threading.Thread(target=get_embedder, name="embedder-warmup", daemon=True).start()
