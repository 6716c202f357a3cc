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

    def warm_up():
        # A worker stopped while it loads (Ctrl-C a few seconds after the start) tears the imports
        # down under this thread: one line, not a traceback. A model that cannot load says why on
        # the first request that needs it (and `manage.py check` before the server starts).
        try:
            get_embedder()
        except BaseException as exc:
            worker.log.info("embedding model warm-up stopped: %s: %s", type(exc).__name__, exc)

    threading.Thread(target=warm_up, name="embedder-warmup", daemon=True).start()
