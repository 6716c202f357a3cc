"""Configuration comes from the environment; a bad value stops start-up with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mem0g_site.env import env_bool, env_int, env_list, parse_database_url

ROOT = Path(__file__).resolve().parent.parent


def test_env_int_reads_defaults_and_values():
    assert env_int("PORT", 8000, environ={}) == 8000
    assert env_int("PORT", 8000, environ={"PORT": " 9001 "}) == 9001


@pytest.mark.parametrize("value", ["abc", "80.5", "0", "70000"])
def test_env_int_refuses_bad_values_naming_the_variable(value):
    with pytest.raises(ImproperlyConfigured, match="^PORT="):
        env_int("PORT", 8000, minimum=1, maximum=65535, environ={"PORT": value})


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
