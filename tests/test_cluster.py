"""mem0g past one machine, on loopback: what `make cluster` starts (mem0g_site/cluster.py), driven
through its HAProxy balancer.

One cluster for the module: a PostgreSQL primary and a streaming replica (pg_basebackup -R), Redis,
two app nodes (`serve` with a job worker each) and HAProxy. Requests reach both nodes; searches and
lists read from the replica (seen in the replica's statement log) and writes go to the primary; a
client reads its own writes while the replica is held back; a lagging replica is taken out and a
stopped one costs no errors; rate limits are exact across the nodes; a queued add runs once;
contradicting adds for one user on both nodes leave one current fact.
"""

import json
import os
import secrets
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import psycopg
import pytest

from mem0g_site.cluster import ClusterError, LocalCluster
from tests.test_rate_limit_processes import fresh_window

pytestmark = pytest.mark.live_server_process

LIMIT = 30
KEYS = {
    name: f"mem0_{secrets.token_urlsafe(24)}"
    for name in ("nodes", "reads", "own", "other", "down", "rate", "jobs", "hooks", "facts")
}
ADMIN_KEY = f"mem0_{secrets.token_urlsafe(24)}"
MAINTENANCE_EVERY = 1
MAX_LAG = 3.0
CHECK = 0.5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = [name for name in ("haproxy", "redis-server") if not shutil.which(name, path="/usr/sbin:/usr/bin")]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (make test installs them with apt-get when it can)")
    env = {
        **os.environ,
        "API_KEYS": ",".join(KEYS.values()),
        "ADMIN_API_KEYS": ADMIN_KEY,
        "WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver below listens on loopback
        "WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0.5",
        "TASK_MAINTENANCE_INTERVAL_SECONDS": str(MAINTENANCE_EVERY),
        "RATE_LIMIT_REQUESTS": str(LIMIT),
        "RATE_LIMIT_BURST": "0",
        "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "REPLICA_CHECK_SECONDS": str(CHECK),
        "READ_YOUR_WRITES_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
    }
    root = tmp_path_factory.mktemp("cluster")
    try:
        with LocalCluster(root, nodes=2, env=env, log_statements=True) as running:
            yield running
    except ClusterError as exc:
        pytest.fail(f"the cluster did not start: {exc}")


def call(cluster, method: str, path: str, key: str | None = None, body: dict | None = None):
    """One request through the balancer, on a new connection: (status, headers, body)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Token {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{cluster.balancer_url}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    return status, answer_headers, json.loads(raw) if raw else None


def add(cluster, key: str, text: str, user_id: str, **extra) -> dict:
    status, _, body = call(
        cluster,
        "POST",
        "/v1/memories/",
        key,
        {"messages": [{"role": "user", "content": text}], "user_id": user_id, "infer": False, **extra},
    )
    assert status == 200, body
    return body


def listed(cluster, key: str, user_id: str) -> list[str]:
    status, _, body = call(cluster, "POST", "/v3/memories/", key, {"filters": {"user_id": user_id}})
    assert status == 200, body
    return [item["memory"] for item in body["results"]]


def sql(url: str, query: str):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()


def test_requests_through_the_balancer_reach_every_node(cluster):
    nodes = Counter()
    for _ in range(12):
        status, headers, _ = call(cluster, "GET", "/v1/ping/", KEYS["nodes"])
        assert status == 200
        nodes[headers["X-Mem0g-Node"]] += 1
    assert set(nodes) == {"node1", "node2"}
    assert min(nodes.values()) >= 4  # round robin, not one node with a stray request to the other


def test_searches_and_lists_read_from_the_replica_and_writes_go_to_the_primary(cluster):
    user = f"reader-{secrets.token_hex(4)}"
    add(cluster, KEYS["nodes"], "I grow tomatoes on the balcony", user)  # another key wrote it
    time.sleep(0.5)
    marker = f"quokka{secrets.token_hex(5)}"
    served_by = set()
    for _ in range(4):
        query = {"query": f"tomatoes {marker}", "filters": {"user_id": user}}
        status, headers, body = call(cluster, "POST", "/v3/memories/search/", KEYS["reads"], query)
        assert status == 200, body
        assert [hit["memory"] for hit in body["results"]] == ["I grow tomatoes on the balcony"]
        served_by.add(headers["X-Mem0g-Node"])
    assert served_by == {"node1", "node2"}
    replica_log = (cluster.root / "replica.log").read_text()
    primary_log = (cluster.root / "primary.log").read_text()
    assert replica_log.count(marker) >= 4  # every search ran there...
    assert marker not in primary_log  # ...and none on the primary
    assert "I grow tomatoes on the balcony" in primary_log  # the write went to the primary
    assert sql(cluster.replica_url, "SELECT pg_is_in_recovery()") == [(True,)]


def test_a_client_reads_its_own_write_while_the_replica_lags_and_a_lagging_replica_is_taken_out(cluster):
    user = f"bees-{secrets.token_hex(4)}"
    add(cluster, KEYS["own"], "warm-up write, so the replica has just replayed something", user)
    time.sleep(0.3)
    sql(cluster.replica_url, "SELECT pg_wal_replay_pause()")
    try:
        add(cluster, KEYS["own"], "I keep bees on the roof", user)
        # The writer sees its write at once, whichever node answers (the replica has not replayed it).
        for _ in range(2):
            assert "I keep bees on the roof" in listed(cluster, KEYS["own"], user)
        # Another client reads the replica, which has not replayed the write yet: proof that the
        # writer's reads went elsewhere for a reason.
        assert "I keep bees on the roof" not in listed(cluster, KEYS["other"], user)
        # Once the lag passes REPLICA_MAX_LAG_SECONDS every node takes the replica out: reads go to
        # the primary, without an error on the way.
        deadline = time.monotonic() + MAX_LAG + 4 * CHECK + 3
        while "I keep bees on the roof" not in listed(cluster, KEYS["other"], user):
            assert time.monotonic() < deadline, "the lagging replica was not taken out"
            time.sleep(0.2)
        time.sleep(CHECK + 0.2)  # each node checks on its own, within REPLICA_CHECK_SECONDS of the others
        for _ in range(4):
            assert "I keep bees on the roof" in listed(cluster, KEYS["other"], user)
    finally:
        sql(cluster.replica_url, "SELECT pg_wal_replay_resume()")


def test_a_stopped_replica_costs_no_errors(cluster):
    user = f"down-{secrets.token_hex(4)}"
    add(cluster, KEYS["nodes"], "I cycle to work", user)
    time.sleep(0.5)
    assert listed(cluster, KEYS["down"], user) == ["I cycle to work"]  # both nodes now hold replica connections
    assert listed(cluster, KEYS["down"], user) == ["I cycle to work"]
    cluster.stop_process("replica")
    try:
        for _ in range(8):
            assert listed(cluster, KEYS["down"], user) == ["I cycle to work"]
            query = {"query": "cycling", "filters": {"user_id": user}}
            status, _, body = call(cluster, "POST", "/v3/memories/search/", KEYS["down"], query)
            assert status == 200, body
            assert [hit["memory"] for hit in body["results"]] == ["I cycle to work"]
    finally:
        cluster.start_replica()
    # Back in use once it answers again.
    marker = f"wombat{secrets.token_hex(5)}"
    deadline = time.monotonic() + 10
    while marker not in (cluster.root / "replica.log").read_text():
        assert time.monotonic() < deadline, "the restarted replica was not used again"
        status, _, _ = call(
            cluster, "POST", "/v3/memories/search/", KEYS["down"], {"query": marker, "filters": {"user_id": user}}
        )
        assert status == 200
        time.sleep(CHECK)


def test_rate_limits_are_exact_across_the_nodes(cluster):
    fresh_window(60, needed=12)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work():
        for _ in range(10):
            status, headers, _ = call(cluster, "GET", "/v1/ping/", KEYS["rate"])
            with lock:
                answers.append((status, headers["X-Mem0g-Node"]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: LIMIT, 429: 40 - LIMIT}
    assert {node for status, node in answers if status == 200} == {"node1", "node2"}


def test_a_queued_add_runs_once_across_the_nodes(cluster):
    user = f"jobs-{secrets.token_hex(4)}"
    texts = ["I love tea", "I live in Lisbon", "I play the cello", "I work as a nurse", "I have a dog", "I speak Dutch"]
    events = []
    for text in texts:
        status, _, body = call(
            cluster,
            "POST",
            "/v3/memories/add/",
            KEYS["jobs"],
            {"messages": [{"role": "user", "content": text}], "user_id": user, "async_mode": True},
        )
        assert status == 200 and body["status"] == "PENDING", body
        events.append(body["event_id"])
    # Wait on the primary's rows, not by polling the API: the key's 30-a-minute limit would run out
    # while slow jobs finish on a busy machine. Then one GET per event.
    deadline = time.monotonic() + 120
    wanted = ", ".join(f"'{event_id}'" for event_id in events)
    while sql(
        cluster.primary_url, f"SELECT count(*) FROM memories_addevent WHERE id IN ({wanted}) AND status = 'SUCCEEDED'"
    )[0][0] < len(events):
        assert time.monotonic() < deadline, "the queued adds did not all finish"
        time.sleep(0.5)
    results = {}
    for event_id in events:
        status, _, body = call(cluster, "GET", f"/v1/event/{event_id}/", KEYS["jobs"])
        assert status == 200 and body["status"] == "SUCCEEDED", body
        results[event_id] = [item["memory"] for item in body["results"]]
    made = [memory for event_id in events for memory in results[event_id]]
    assert len(made) >= len(texts) and len(set(made)) == len(made)
    # Polling the events marked the key: its next read (on the replica) sees what the workers wrote.
    assert sorted(listed(cluster, KEYS["jobs"], user)) == sorted(made)
    rows = sql(cluster.primary_url, f"SELECT memory, count(*) FROM memories_memory WHERE user_id = '{user}' GROUP BY 1")
    assert sorted(rows) == sorted((memory, 1) for memory in made)
    # Each job ran once, by one worker (the two nodes' workers share one queue).
    runs = sql(
        cluster.primary_url,
        "SELECT args_kwargs->'kwargs'->>'event_id', status, jsonb_array_length(worker_ids)"
        " FROM django_tasks_database_dbtaskresult WHERE task_path LIKE '%add_event_run_task'",
    )
    mine = [run for run in runs if run[0] in events]
    assert sorted(mine) == sorted((event_id, "SUCCESSFUL", 1) for event_id in events)


def test_concurrent_contradicting_adds_on_both_nodes_leave_one_current_fact(cluster):
    """tests/test_ingest_concurrency.py across nodes: the per-scope lock is taken on the primary, so
    adds for one user served by two nodes at once still apply one at a time."""
    user = f"mover-{secrets.token_hex(4)}"
    cities = ["Paris", "Berlin", "Rome", "Madrid", "Lisbon", "Vienna", "Prague", "Warsaw"]
    start = threading.Barrier(len(cities))
    answers = []

    def send(city):
        start.wait()
        body = {"messages": [{"role": "user", "content": f"I live in {city}."}], "user_id": user}
        status, headers, answer = call(cluster, "POST", "/v3/memories/add/", KEYS["facts"], body)
        answers.append((status, headers["X-Mem0g-Node"], answer))

    threads = [threading.Thread(target=send, args=(city,)) for city in cities]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _, _ in answers] == [200] * len(cities), answers
    assert {node for _, node, _ in answers} == {"node1", "node2"}
    rows = sql(
        cluster.primary_url,
        "SELECT memory, valid_to IS NULL AND invalidated_at IS NULL FROM memories_memory"
        f" WHERE user_id = '{user}' ORDER BY valid_from",
    )
    assert sorted(memory for memory, _ in rows) == sorted(f"User lives in {city}" for city in cities)
    assert [current for _, current in rows] == [False] * (len(cities) - 1) + [True]


@pytest.fixture
def receiver():
    """A webhook receiver on loopback: every post's ``webhook-id`` header and JSON body."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    posts: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append((self.headers["webhook-id"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts
    server.shutdown()
    server.server_close()


def test_each_webhook_delivery_goes_once_across_the_nodes(cluster, receiver):
    url, posts = receiver
    _, _, ping = call(cluster, "GET", "/v1/ping/", ADMIN_KEY)
    hook = {"name": "cluster", "url": url, "event_types": ["memory_add"]}
    status, _, body = call(cluster, "POST", f"/api/v1/webhooks/projects/{ping['project_id']}/", ADMIN_KEY, hook)
    assert status == 201, body
    user = f"hooks-{secrets.token_hex(4)}"
    made = [add(cluster, KEYS["hooks"], f"I planted tree number {i}", user)["results"][0]["id"] for i in range(8)]

    def delivered() -> list[str]:
        return [body["event_details"]["id"] for _, body in posts if body["event_details"].get("user_id") == user]

    deadline = time.monotonic() + 30
    while len(delivered()) < len(made):
        assert time.monotonic() < deadline, f"{len(delivered())} of {len(made)} deliveries arrived"
        time.sleep(0.2)
    time.sleep(2.5)  # several more delivery rounds of both nodes' workers: nothing is sent twice
    assert sorted(delivered()) == sorted(made)
    ids = [webhook_id for webhook_id, _ in posts]
    assert len(ids) == len(set(ids))
    call(cluster, "DELETE", f"/api/v1/webhooks/{body['webhook_id']}/", ADMIN_KEY)


def test_periodic_maintenance_runs_once_per_interval_across_the_nodes(cluster):
    time.sleep(3 * MAINTENANCE_EVERY)
    runs = sql(
        cluster.primary_url,
        "SELECT status, started_at, finished_at FROM django_tasks_database_dbtaskresult"
        " WHERE task_path LIKE '%maintenance_task' ORDER BY started_at NULLS LAST",
    )
    waiting = [run for run in runs if run[0] == "READY"]
    done = [run for run in runs if run[0] == "SUCCESSFUL"]
    assert len(waiting) == 1  # one chain, though two workers run it
    assert len(done) >= 3
    for before, after in zip(done, done[1:], strict=False):
        assert after[1] >= before[2], "two maintenance runs overlapped"
        # Each run queues the next one interval later: two workers never run one slot twice.
        assert (after[1] - before[1]).total_seconds() >= MAINTENANCE_EVERY * 0.9


# --- configuration (no cluster needed) -----------------------------------------------------------

REPLICA_URL = "postgres://nobody@127.0.0.1:9/replica"


@pytest.mark.parametrize(
    "env, named",
    [
        (
            {"DATABASE_REPLICA_URL": "mysql://root@localhost/x", "REDIS_URL": "redis://127.0.0.1:9/0"},
            "DATABASE_REPLICA_URL",
        ),
        ({"DATABASE_REPLICA_URL": REPLICA_URL}, "DATABASE_REPLICA_URL needs REDIS_URL"),
        ({"READ_YOUR_WRITES": "sometimes"}, "READ_YOUR_WRITES"),
        ({"REPLICA_MAX_LAG_SECONDS": "-1"}, "REPLICA_MAX_LAG_SECONDS"),
        (
            {
                "DATABASE_REPLICA_URL": REPLICA_URL,
                "REDIS_URL": "redis://127.0.0.1:9/0",
                "READ_YOUR_WRITES_SECONDS": "2",
            },
            "READ_YOUR_WRITES_SECONDS=2 must be at least",
        ),
    ],
)
def test_replica_settings_are_checked_at_start_up(env, named, tmp_path):
    from tests.test_configuration import _manage

    result = _manage("serve", MEM0G_DATA_DIR=str(tmp_path), **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mem0g: configuration error: "), result.stderr
    assert named in lines[0]
    assert not (tmp_path / "pgdata").exists()


def test_a_replica_url_adds_the_replica_alias_the_router_and_the_mark_middleware():
    from tests.test_configuration import _settings

    without = _settings("DATABASES", "DATABASE_ROUTERS", "MIDDLEWARE", "NODE_NAME")
    assert set(without["DATABASES"]) == {"default"} and not without["DATABASE_ROUTERS"]
    assert "mem0g_site.replicas.ReadYourWritesMiddleware" not in without["MIDDLEWARE"]
    assert without["NODE_NAME"] == socket.gethostname()
    env = {"DATABASE_REPLICA_URL": REPLICA_URL, "REDIS_URL": "redis://127.0.0.1:9/0", "NODE_NAME": "web-7"}
    found = _settings("DATABASES", "DATABASE_ROUTERS", "MIDDLEWARE", "NODE_NAME", **env)
    replica = found["DATABASES"]["replica"]
    assert (replica["HOST"], replica["PORT"], replica["NAME"]) == ("127.0.0.1", "9", "replica")
    assert replica["TEST"] == {"MIRROR": "default"}  # test databases are never made on a replica
    assert replica["OPTIONS"]["connect_timeout"] == "2"
    assert found["DATABASE_ROUTERS"] == ["mem0g_site.replicas.ReplicaRouter"]
    assert "mem0g_site.replicas.ReadYourWritesMiddleware" in found["MIDDLEWARE"]
    assert found["NODE_NAME"] == "web-7"
