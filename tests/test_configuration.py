"""Configuration comes from the environment; a bad value stops start-up with one clear line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mem0g_site import embedded_db
from mem0g_site.embedded_db import shared_buffers_mb
from mem0g_site.env import env_bool, env_int, env_int_or_auto, env_list, is_loopback, parse_database_url

ROOT = Path(__file__).resolve().parent.parent


def test_env_int_reads_defaults_and_values():
    assert env_int("PORT", 8000, environ={}) == 8000
    assert env_int("PORT", 8000, environ={"PORT": " 9001 "}) == 9001


@pytest.mark.parametrize("value", ["abc", "80.5", "0", "70000"])
def test_env_int_refuses_bad_values_naming_the_variable(value):
    with pytest.raises(ImproperlyConfigured, match="^PORT="):
        env_int("PORT", 8000, minimum=1, maximum=65535, environ={"PORT": value})


def test_env_int_or_auto_reads_auto_numbers_and_refuses_the_rest():
    def read(value):
        return env_int_or_auto("EMBEDDING_MICROBATCH", minimum=0, maximum=1024, environ={"EMBEDDING_MICROBATCH": value})

    assert env_int_or_auto("EMBEDDING_MICROBATCH", environ={}) == "auto"
    assert (read(" AUTO "), read("0"), read("16")) == ("auto", 0, 16)
    for bad in ("lots", "2000", "-1"):
        with pytest.raises(ImproperlyConfigured, match="^EMBEDDING_MICROBATCH="):
            read(bad)


def test_env_bool_and_list():
    assert env_bool("DEBUG", False, environ={"DEBUG": "true"}) is True
    assert env_bool("DEBUG", True, environ={"DEBUG": "0"}) is False
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})
    assert env_list("API_KEYS", environ={"API_KEYS": "a, b,,c "}) == ["a", "b", "c"]


def test_database_url_forms():
    url = parse_database_url("DATABASE_URL", "postgres://mem0g:s%40cret@db:5433/mem0g?sslmode=require")
    assert (url.user, url.password, url.host, url.port, url.name) == ("mem0g", "s@cret", "db", "5433", "mem0g")
    assert url.options == {"sslmode": "require"}
    socket = parse_database_url("DATABASE_URL", "postgresql://postgres:@/mem0g?host=/tmp/pg")
    assert (socket.host, socket.name, socket.options) == ("/tmp/pg", "mem0g", {})


@pytest.mark.parametrize(
    "value", ["mysql://u@h/db", "postgres://u@h", "postgres://u@h:notaport/db", "not a url", "postgres:///db"]
)
def test_malformed_database_urls_are_refused(value):
    with pytest.raises(ImproperlyConfigured, match="^DATABASE_URL"):
        parse_database_url("DATABASE_URL", value)


def _manage(*args, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "DATABASE_URL")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "variable, value",
    [
        ("PORT", "abc"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("RATE_LIMIT_REQUESTS", "-5"),
        ("REDIS_URL", "localhost:6379"),
        ("GRAPH_AUTO_LINK_THRESHOLD", "high"),
        ("LOGIN_FAILURE_LIMIT", "0"),
        ("LOGIN_COOLOFF_MINUTES", "soon"),
        ("RATE_LIMIT_FAIL_OPEN", "maybe"),
        ("RATE_LIMIT_LEASE_MAX", "0"),
        ("MEM0G_HTTPS", "sometimes"),
        ("HSTS_SECONDS", "-1"),
        ("EMBEDDED_DB_SHARED_BUFFERS_MB", "8"),
        ("EMBEDDED_DB_SHARED_BUFFERS_MB", "4GB"),
    ],
)
def test_start_up_stops_with_one_line_naming_the_bad_variable(variable, value, tmp_path):
    result = _manage("serve", **{variable: value, "MEM0G_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mem0g: configuration error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    # Every variable is checked before the embedded database is started.
    assert not (tmp_path / "pgdata").exists()


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    result = _manage("serve", DATABASE_URL="postgres://nobody@127.0.0.1:9/nothing", MEM0G_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DATABASE_URL: cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr


# --- The embedded database's buffers ----------------------------------------------------------


@pytest.mark.parametrize(
    "setting, memory, expected",
    [
        (0, 24 * 2**30, 6144),  # a quarter of the memory
        (0, 64 * 2**30, 8192),  # at most 8 GB
        (0, 256 * 2**20, 128),  # at least PostgreSQL's default
        (0, None, 128),  # memory unknown
        (512, 24 * 2**30, 512),  # EMBEDDED_DB_SHARED_BUFFERS_MB wins
    ],
)
def test_embedded_shared_buffers_are_a_quarter_of_the_memory_within_bounds(setting, memory, expected):
    assert shared_buffers_mb(setting, memory) == expected


def test_the_memory_is_the_containers_limit_when_lower(monkeypatch, tmp_path):
    limit = tmp_path / "memory.max"
    limit.write_text("1073741824\n")
    real = embedded_db.Path
    monkeypatch.setattr(embedded_db, "Path", lambda p: limit if str(p).endswith("memory.max") else real(p))
    assert embedded_db.memory_bytes() == 2**30
    limit.write_text("max\n")  # no limit: the machine's memory
    assert embedded_db.memory_bytes() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@pytest.mark.django_db
def test_the_embedded_cluster_runs_with_the_chosen_buffers():
    """The suite's own cluster (embedded unless DATABASE_URL is set) was started with them."""
    from django.conf import settings
    from django.db import connection

    if not settings.DATABASE_IS_EMBEDDED:
        pytest.skip("DATABASE_URL names a server this suite did not start")
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
        (megabytes,) = cursor.fetchone()
    assert megabytes == shared_buffers_mb(settings.EMBEDDED_DB_SHARED_BUFFERS_MB, embedded_db.memory_bytes())


# --- Hosts and HTTPS ---------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [None, "*", "mem0g.example.org,*"])
def test_serving_beyond_loopback_needs_named_hosts(allowed, tmp_path):
    env = {"HOST": "0.0.0.0", "MEM0G_DATA_DIR": str(tmp_path)}
    if allowed is not None:
        env["ALLOWED_HOSTS"] = allowed
    result = _manage("serve", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mem0g: configuration error: ALLOWED_HOSTS "), result.stderr
    assert "HOST=0.0.0.0" in lines[0]
    assert not (tmp_path / "pgdata").exists()


def _settings(*names: str, **env: str) -> dict:
    """The named settings as a fresh process reads them under ``env`` (a DATABASE_URL that is only
    parsed, so no database starts)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("HOST", "ALLOWED_HOSTS", "DEBUG", "MEM0G_HTTPS")}
    environ.update(DATABASE_URL="postgres://nobody@127.0.0.1:9/nothing", DJANGO_SETTINGS_MODULE="mem0g_site.settings")
    environ.update(env)
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {list(names)!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_allowed_hosts_defaults_and_values():
    assert _settings("ALLOWED_HOSTS")["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert _settings("ALLOWED_HOSTS", HOST="::1")["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    named = _settings("ALLOWED_HOSTS", HOST="0.0.0.0", ALLOWED_HOSTS="mem0g.example.org, 127.0.0.1")
    assert named["ALLOWED_HOSTS"] == ["mem0g.example.org", "127.0.0.1"]
    # Development on every interface: DEBUG on takes any host.
    assert _settings("ALLOWED_HOSTS", HOST="0.0.0.0", DEBUG="true")["ALLOWED_HOSTS"] == ["*"]


def test_is_loopback():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.5", "mem0g.example.org", ""))


def test_https_settings_are_off_by_default_and_on_with_mem0g_https():
    names = (
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
    )
    plain = _settings(*names)
    assert plain == dict.fromkeys(names, False) | {"SECURE_HSTS_SECONDS": 0, "SECURE_PROXY_SSL_HEADER": None}
    https = _settings(*names, MEM0G_HTTPS="true")
    assert https == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": False,
    }
    tuned = _settings(*names, MEM0G_HTTPS="true", HSTS_SECONDS="300", HSTS_INCLUDE_SUBDOMAINS="true")
    assert tuned["SECURE_HSTS_SECONDS"] == 300 and tuned["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
