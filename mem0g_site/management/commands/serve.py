"""``make run``: migrate, then serve with gunicorn (several processes) and run ``TASK_WORKERS``
background-job workers (``manage.py worker``) until Ctrl-C or SIGTERM.

When ``DATABASE_URL`` is unset, importing the settings in this process started the embedded
PostgreSQL; gunicorn's and the job workers are handed its URL, so it runs once, and it stops when
this process exits (after them).
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import OperationalError

from accounts.services import admin_user_ensure, apikeys_bootstrap
from mem0g_site.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Migrate the database and serve mem0g with gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="skip migrations")
        parser.add_argument(
            "--prepare-only",
            action="store_true",
            help="migrate and apply API_KEYS, ADMIN_API_KEYS and MEM0G_ADMIN_PASSWORD, then exit (run once "
            "before starting several nodes on one database)",
        )

    def handle(self, *args, **options):
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise CommandError(f"DATABASE_URL: cannot connect to the database ({first_line})") from None
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        if settings.API_KEYS or settings.ADMIN_API_KEYS:
            try:
                apikeys_bootstrap(keys=settings.API_KEYS, admin_keys=settings.ADMIN_API_KEYS)
            except ApplicationError as exc:
                raise CommandError(f"API_KEYS/ADMIN_API_KEYS: {exc.message}") from None
        if settings.MEM0G_ADMIN_PASSWORD:
            admin_user_ensure(password=settings.MEM0G_ADMIN_PASSWORD)
        connection.close()
        if options["prepare_only"]:
            return

        address = f"{settings.HOST}:{settings.PORT}"
        where = (
            "embedded PostgreSQL in " + str(settings.MEM0G_DATA_DIR / "pgdata")
            if settings.DATABASE_IS_EMBEDDED
            else "DATABASE_URL"
        )
        self.stdout.write(
            f"mem0g {settings.VERSION} on http://{address} ({settings.WEB_CONCURRENCY} workers x "
            f"{settings.WEB_THREADS} threads, "
            f"{settings.TASK_WORKERS} job workers, database: {where})\n"
            f"  health:  curl http://{address}/health\n"
            f"  API docs: http://{address}/docs\n"
            f"  web UI: http://{address}/ui/ and admin: http://{address}/admin/\n"
            f"  login: .venv/bin/python manage.py createsuperuser, or set MEM0G_ADMIN_PASSWORD (user admin)\n"
            f"  demo data: .venv/bin/python manage.py seed_demo\n"
            f"  API key: .venv/bin/python manage.py createapikey --scopes read,write (or set API_KEYS)\n"
            f"  Ctrl-C stops the server and the embedded database."
        )
        self.stdout.flush()

        env = {
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "MEM0G_DATABASE_EMBEDDED": "true" if settings.DATABASE_IS_EMBEDDED else "false",
            "MEM0G_DATA_DIR": str(settings.MEM0G_DATA_DIR),
            # One torch thread per web worker unless the operator chose otherwise.
            "EMBEDDING_THREADS": os.environ.get("EMBEDDING_THREADS") or "1",
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "mem0g_site.wsgi:application",
            "--config",
            "python:mem0g_site.gunicorn_conf",
            "--bind",
            address,
            "--workers",
            str(settings.WEB_CONCURRENCY),
            "--threads",
            str(settings.WEB_THREADS),
        ]
        server = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)
        # Job workers get a session of their own: a terminal's Ctrl-C reaches them only through the
        # one SIGTERM sent below (a second signal would make the library's worker abandon its job).
        worker_command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "worker"]
        workers = [self._start_worker(worker_command, env) for _ in range(settings.TASK_WORKERS)]
        started = [time.monotonic()] * len(workers)
        signalled: set[int] = set()
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True
            for process in (server, *workers):
                if process.poll() is None and process.pid not in signalled:
                    signalled.add(process.pid)
                    process.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while server.poll() is None:
            for index, worker in enumerate(workers):
                # A worker that died is replaced (at most every 5 s, so a broken one cannot spin).
                if worker.poll() is not None and not stopping and time.monotonic() - started[index] >= 5:
                    self.stderr.write(f"job worker exited with status {worker.returncode}; starting another")
                    workers[index] = self._start_worker(worker_command, env)
                    started[index] = time.monotonic()
            time.sleep(0.5)
        code = server.returncode
        stop(None, None)
        deadline = time.monotonic() + 30
        for worker in workers:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Safe: a job whose worker is killed is rolled back and queued again later.
                worker.kill()
                worker.wait()
        self.stdout.write("mem0g stopped.")
        # Exiting unregisters this process from the embedded database: the last user stops it.
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CommandError(f"gunicorn exited with status {code}")

    def _start_worker(self, command: list[str], env: dict) -> subprocess.Popen:
        return subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, start_new_session=True)
