"""The container deployment files agree with what the app reads.

docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so these tests read
them as data: a typo in a variable name, a URL the settings would refuse, or a service that starts
before its database fail here rather than in production. None of them needs a database.
"""

import ast
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from mem0g_site.env import is_loopback, parse_database_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "mem0g_site" / "settings.py"
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"

# A shell environment in which `docker compose up` works: only the required variable is set.
MINIMAL_ENV = {"SECRET_KEY": "test-secret"}

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class MissingVariable(Exception):
    pass


def substitute(value: str, environ: dict[str, str]) -> str:
    """Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = environ.get(name)
        if op in (":-", ":?"):
            missing = not value
        else:
            missing = value is None
        if not missing:
            return value
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return _VARIABLE.sub(replace, value)


def substitute_all(node, environ: dict[str, str]):
    if isinstance(node, str):
        return substitute(node, environ)
    if isinstance(node, list):
        return [substitute_all(item, environ) for item in node]
    if isinstance(node, dict):
        return {key: substitute_all(item, environ) for key, item in node.items()}
    return node


def environment(service: dict) -> dict[str, str | None]:
    """A service's ``environment`` as a mapping, whichever of the two Compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {name: value for name, value in pairs}
    return {name: None if value is None else str(value) for name, value in env.items()}


def settings_variable_names() -> set[str]:
    """Names settings.py reads: every ``env_*("NAME", ...)`` and ``os.environ.setdefault("NAME", ...)``."""
    tree = ast.parse(SETTINGS_FILE.read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id.startswith("env_"):
            names.add(first.value)
        elif isinstance(func, ast.Attribute) and func.attr == "setdefault" and ast.unparse(func.value) == "os.environ":
            names.add(first.value)
    return names


def contract_variable_names() -> set[str]:
    """Names in the first column of the configuration contract table in docs/DEPLOY.md."""
    names = set()
    for line in DEPLOY_DOC.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return substitute_all(compose["services"], MINIMAL_ENV)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def instruction_arguments(keyword: str) -> list[str]:
    return [arguments for name, arguments in dockerfile_instructions() if name == keyword]


# --- The substitution helper itself ---------------------------------------------------------


def test_substitute_follows_compose_interpolation_rules():
    env = {"SET": "value", "EMPTY": ""}
    assert substitute("a-${SET}-b", env) == "a-value-b"
    assert substitute("${UNSET:-fallback}", env) == "fallback"
    assert substitute("${EMPTY:-fallback}", env) == "fallback"
    assert substitute("${EMPTY-fallback}", env) == ""
    assert substitute("${UNSET}", env) == ""
    assert substitute("$${SET}", env) == "${SET}"
    with pytest.raises(MissingVariable, match="UNSET: needed"):
        substitute("${UNSET:?needed}", env)


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_has_exactly_app_worker_db_and_redis(compose):
    assert isinstance(compose.get("services"), dict)
    default = {name for name, service in compose["services"].items() if not service.get("profiles")}
    assert default == {"app", "worker", "db", "redis"}


# --- the "scale" profile: a replica, app nodes reading from it, HAProxy (docs/DEPLOY.md) --------

SCALE = {"db-replica", "node", "balancer"}


def test_the_scale_profile_adds_a_replica_nodes_and_a_balancer(compose):
    scaled = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert scaled == SCALE
    for name in SCALE:
        assert compose["services"][name]["profiles"] == ["scale"]


def test_the_replica_is_a_base_backup_of_db_that_streams_from_it(compose, services):
    replica = services["db-replica"]
    assert replica["image"] == services["db"]["image"]
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    script = replica["command"][0]
    assert "pg_basebackup -h db -U mem0g" in script and " -R " in script  # -R: standby.signal + primary_conninfo
    assert "exec postgres" in script and "$PGDATA" in script  # $$ in the file: the container's variable
    assert environment(replica)["PGPASSWORD"] == environment(services["db"])["POSTGRES_PASSWORD"]
    # db lets it replicate: the init script adds a replication line to pg_hba.conf.
    mounted = {entry["source"]: entry["target"] for entry in services["db"]["configs"]}
    assert mounted["db-replication"].startswith("/docker-entrypoint-initdb.d/")
    hba = substitute(compose["configs"]["db-replication"]["content"], MINIMAL_ENV)
    assert 'host replication $POSTGRES_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"' in hba


def test_db_and_its_replica_run_with_sized_buffers_and_connections(compose):
    """PostgreSQL's 128MB default holds a few percent of a large memory table (docs/BENCHMARKS.md):
    both servers take POSTGRES_SHARED_BUFFERS, 1GB unless set. Every web thread of every app node
    keeps a connection, more than PostgreSQL's default 100 with the scale profile's nodes: both take
    POSTGRES_MAX_CONNECTIONS, 200 unless set (a hot standby needs at least the primary's)."""
    cases = (
        ({}, "shared_buffers=1GB", "max_connections=200"),
        (
            {"POSTGRES_SHARED_BUFFERS": "6GB", "POSTGRES_MAX_CONNECTIONS": "400"},
            "shared_buffers=6GB",
            "max_connections=400",
        ),
    )
    for env, buffers, connections in cases:
        services = substitute_all(compose["services"], {**MINIMAL_ENV, **env})
        assert services["db"]["command"] == ["postgres", "-c", buffers, "-c", connections]
        script = " ".join(services["db-replica"]["command"][0].replace("\\\n", " ").split())
        assert script.endswith(f"exec postgres -c hot_standby_feedback=on -c {buffers} -c {connections}")


def test_nodes_read_from_the_replica_and_write_to_db(services):
    node, app = services["node"], services["app"]
    env = environment(node)
    assert node["image"] == app["image"] == "mem0g:latest"
    assert node["command"] == ["python", "manage.py", "serve", "--no-migrate"]  # the app service migrates
    assert node["depends_on"]["app"]["condition"] == "service_healthy"
    assert env["DATABASE_URL"] == environment(app)["DATABASE_URL"]
    replica = parse_database_url("DATABASE_REPLICA_URL", env["DATABASE_REPLICA_URL"])
    primary = parse_database_url("DATABASE_URL", env["DATABASE_URL"])
    assert (replica.host, replica.port) == ("db-replica", "5432")
    assert (replica.name, replica.user, replica.password) == (primary.name, primary.user, primary.password)
    assert env["REDIS_URL"] == environment(app)["REDIS_URL"]  # settings.py insists on it with a replica
    assert env["TASK_WORKERS"] == "0"
    assert "ports" not in node, "nodes are reached through the balancer (a fixed port cannot be scaled)"
    known = settings_variable_names() | contract_variable_names()
    assert not set(env) - known


def test_the_balancer_checks_and_spreads_over_every_node(compose, services):
    balancer = services["balancer"]
    assert balancer["image"].startswith("haproxy:")
    assert "8080:8080" in balancer["ports"]
    assert {entry["source"]: entry["target"] for entry in balancer["configs"]} == {
        "haproxy": "/usr/local/etc/haproxy/haproxy.cfg"
    }
    config = compose["configs"]["haproxy"]["content"]
    assert "balance roundrobin" in config
    assert "http-check send meth GET uri /health" in config and "http-check expect status 200" in config
    assert re.search(r"server-template node 1-\d+ node:8000", config)
    assert "nameserver dns 127.0.0.11:53" in config  # Docker's DNS: scaled nodes are found by name
    assert "bind :8080" in config


def test_the_worker_runs_jobs_for_the_app_on_the_same_database(services):
    worker, app = services["worker"], services["app"]
    assert worker["image"] == app["image"] == "mem0g:latest" and worker["build"] == app["build"]
    assert worker["command"] == ["python", "manage.py", "worker"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert environment(worker)["DATABASE_URL"] == environment(app)["DATABASE_URL"]
    assert environment(app)["TASK_WORKERS"] == "0", "jobs run in the worker service, not inside the app"
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "worker", "--check"]
    assert worker["restart"] == "unless-stopped" and worker["stop_grace_period"] == "30s"
    known = settings_variable_names() | contract_variable_names()
    assert not set(environment(worker)) - known


def test_every_service_has_a_healthcheck_that_checks_itself(services):
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck test"
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: {test!r}"
    assert services["db"]["healthcheck"]["test"] == ["CMD", "pg_isready", "-U", "mem0g", "-d", "mem0g"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    app_check = " ".join(services["app"]["healthcheck"]["test"])
    assert "curl" not in app_check and "wget" not in app_check  # neither exists in python:3.11-slim
    assert "urllib.request.urlopen" in app_check
    assert "http://127.0.0.1:8000/health" in app_check


def test_service_images(services):
    assert services["db"]["image"] == "pgvector/pgvector:pg17"
    assert services["redis"]["image"].startswith("redis:7")
    assert services["app"]["build"] in (".", {"context": "."})


def test_secret_key_is_required(compose):
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        substitute_all(compose["services"]["app"]["environment"], {})
    assert environment(substitute_all(compose["services"]["app"], MINIMAL_ENV))["SECRET_KEY"] == "test-secret"


@pytest.mark.parametrize("shell_env", [MINIMAL_ENV, {**MINIMAL_ENV, "POSTGRES_PASSWORD": "s3cret"}])
def test_database_url_parses_and_matches_the_db_service(compose, shell_env):
    services = substitute_all(compose["services"], shell_env)
    url = environment(services["app"])["DATABASE_URL"]
    database = parse_database_url("DATABASE_URL", url)
    db_env = environment(services["db"])
    assert database.host == "db"
    assert database.port == "5432"
    assert database.name == db_env["POSTGRES_DB"] == "mem0g"
    assert database.user == db_env["POSTGRES_USER"] == "mem0g"
    assert database.password == db_env["POSTGRES_PASSWORD"] == shell_env.get("POSTGRES_PASSWORD", "mem0g")


def test_redis_url_points_at_the_redis_service(services):
    url = environment(services["app"])["REDIS_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "redis"  # settings.py accepts redis://, rediss:// and unix:// only
    assert parts.hostname == "redis"
    assert parts.port == 6379


def _image_env() -> dict[str, str]:
    env = {}
    for arguments in instruction_arguments("ENV"):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


@pytest.mark.parametrize("shell_env", [MINIMAL_ENV, {**MINIMAL_ENV, "ALLOWED_HOSTS": "mem0g.example.org,127.0.0.1"}])
def test_every_mem0g_service_starts_with_the_hosts_rule(compose, shell_env):
    """settings.py refuses an unset or "*" ALLOWED_HOSTS off loopback (the image binds 0.0.0.0)."""
    services = substitute_all(compose["services"], shell_env)
    for name, service in services.items():
        if service.get("image") != "mem0g:latest":
            continue
        env = {**_image_env(), **{k: v for k, v in environment(service).items() if v}}
        if is_loopback(env["HOST"]):
            continue
        hosts = [host.strip() for host in env.get("ALLOWED_HOSTS", "").split(",") if host.strip()]
        assert hosts and "*" not in hosts, f"{name} would refuse to start: ALLOWED_HOSTS={hosts}"
    app_hosts = environment(services["app"])["ALLOWED_HOSTS"].split(",")
    assert "127.0.0.1" in app_hosts, "the healthcheck calls http://127.0.0.1:8000/health"
    assert environment(services["worker"])["HOST"] == "127.0.0.1"


def test_app_waits_for_healthy_db_and_redis(services):
    depends_on = services["app"]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on must use the long form to carry a condition"
    assert set(depends_on) == {"db", "redis"}
    for name in ("db", "redis"):
        assert depends_on[name]["condition"] == "service_healthy"


def _volume_source_and_target(entry) -> tuple[str, str]:
    if isinstance(entry, dict):
        return entry.get("source", ""), entry["target"]
    parts = entry.split(":")
    return (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])


def test_named_volumes_are_declared_and_hold_the_data(compose, services):
    declared = set(compose.get("volumes") or {})
    used = {}
    for name, service in services.items():
        for entry in service.get("volumes", []):
            source, target = _volume_source_and_target(entry)
            if source and not source.startswith(("/", ".", "~")):
                assert source in declared, f"{name} uses volume {source!r}, not declared at top level"
                used[(name, target)] = source
    assert ("db", "/var/lib/postgresql/data") in used
    assert ("redis", "/data") in used
    assert declared == set(used.values()), "a top-level volume is declared but unused"


def test_app_publishes_port_8000(services):
    targets = []
    for entry in services["app"]["ports"]:
        if isinstance(entry, dict):
            targets.append((str(entry.get("published")), str(entry["target"])))
        else:
            host_side, _, container_side = str(entry).rpartition(":")
            targets.append((host_side.rpartition(":")[2], container_side.split("/")[0]))
    assert ("8000", "8000") in targets


def test_app_restarts_and_stops_gracefully(services):
    from mem0g_site import gunicorn_conf

    assert services["app"]["restart"] == "unless-stopped"
    grace = re.fullmatch(r"(\d+)s", services["app"]["stop_grace_period"])
    assert grace, "stop_grace_period should be whole seconds, like 30s"
    # Docker kills the container after this; gunicorn needs graceful_timeout to finish requests.
    assert int(grace.group(1)) > gunicorn_conf.graceful_timeout


def test_every_app_variable_is_one_the_app_reads(services):
    known = settings_variable_names() | contract_variable_names()
    unknown = set(environment(services["app"])) - known
    assert not unknown, f"compose sets variables mem0g does not read: {sorted(unknown)}"
    # The parse really found the settings: a few the compose file relies on.
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "WEB_CONCURRENCY", "API_KEYS"} <= settings_variable_names()


def test_deploy_doc_lists_every_variable_settings_reads():
    undocumented = (
        settings_variable_names() - contract_variable_names() - {"TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"}
    )
    assert not undocumented, f"docs/DEPLOY.md does not document: {sorted(undocumented)}"


# --- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_base_image_is_python_311():
    keyword, arguments = dockerfile_instructions()[0]
    if keyword == "ARG":  # an ARG may come before FROM
        arguments = instruction_arguments("FROM")[0]
        keyword = "FROM"
    assert keyword == "FROM"
    assert arguments.split()[0].startswith("python:3.11")
    assert len(instruction_arguments("FROM")) == 1


def test_dockerfile_installs_requirements_with_an_optional_extra_index():
    assert any(arguments.startswith("PIP_EXTRA_INDEX_URL") for arguments in instruction_arguments("ARG"))
    installs = [arguments for arguments in instruction_arguments("RUN") if "pip install" in arguments]
    assert len(installs) == 1
    assert "-r requirements.txt" in installs[0]
    assert '--extra-index-url "$PIP_EXTRA_INDEX_URL"' in installs[0]
    # No package index is named in the image: the operator chooses it at build time.
    assert "://" not in DOCKERFILE.read_text().replace("http://127.0.0.1:", "")


def test_dockerfile_runs_serve_as_a_non_root_user():
    commands = instruction_arguments("CMD")
    assert len(commands) == 1
    assert json.loads(commands[0]) == ["python", "manage.py", "serve"]
    users = instruction_arguments("USER")
    assert users, "the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    instructions = dockerfile_instructions()
    user_at = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    cmd_at = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "CMD")
    assert user_at < cmd_at


def test_dockerfile_environment_port_and_healthcheck():
    env = {}
    for arguments in instruction_arguments("ENV"):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            env[name] = value
    assert env["HOST"] == "0.0.0.0"
    assert env["PORT"] == "8000"
    assert env["MEM0G_DATA_DIR"] == "/data"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert instruction_arguments("EXPOSE") == ["8000"]
    healthchecks = instruction_arguments("HEALTHCHECK")
    assert len(healthchecks) == 1
    assert "CMD" in healthchecks[0] and "urllib.request.urlopen" in healthchecks[0]
    assert "http://127.0.0.1:" in healthchecks[0] and "/health" in healthchecks[0]


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "var"} <= ignored
