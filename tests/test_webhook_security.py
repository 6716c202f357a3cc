"""Webhooks reach only public addresses (at registration and again at delivery), never follow a
redirect or a proxy, sign every delivery the Standard Webhooks way, and one project's slow receiver
does not hold up another project's deliveries. Receivers are real HTTP servers on loopback threads."""

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from accounts.models import Project, Webhook, WebhookDelivery
from accounts.webhook_guard import address_refusal
from accounts.webhooks import webhook_deliveries_enqueue, webhook_deliveries_send, webhook_delivery_loop
from tests.conftest import error_of

API_MD = Path(__file__).resolve().parent.parent / "docs" / "API.md"


class Listener:
    """A local HTTP server that records every request (headers, raw body, when) and answers
    ``status`` (with ``location`` as a Location header) after sleeping ``delay`` seconds."""

    def __init__(self, host="127.0.0.1", port=0, status=200, delay=0.0, location=None):
        self.requests: list[dict] = []
        self.status, self.delay, self.location = status, delay, location
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        self.got = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with listener.lock:
                    listener.in_flight += 1
                    listener.most_in_flight = max(listener.most_in_flight, listener.in_flight)
                    listener.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": time.monotonic(),
                            "done": None,
                        }
                    )
                    record = listener.requests[-1]
                listener.got.set()
                time.sleep(listener.delay)
                self.send_response(listener.status)
                if listener.location:
                    self.send_header("Location", listener.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with listener.lock:
                    listener.in_flight -= 1
                    record["done"] = time.monotonic()

            do_POST = do_GET = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listen():
    """listen(status=200, delay=0, location=None, host="127.0.0.1", port=0) -> a running Listener."""
    listeners = []

    def _listen(**kwargs):
        listeners.append(Listener(**kwargs))
        return listeners[-1]

    yield _listen
    for listener in listeners:
        listener.close()


@pytest.fixture
def admin_key(project, make_key):
    return make_key(project, scopes="read,write,admin")


def hooks_path(project):
    return f"/api/v1/webhooks/projects/{project.id}/"


def create_hook(api, project, key, url, event_types=("memory_add",)):
    response = api("POST", hooks_path(project), key=key, data={"name": "h", "url": url, "event_types": event_types})
    assert response.status_code == 201, response.content
    return response.json()


def add_memory(api, key, text="I love tea", user_id="alice"):
    response = api("POST", "/v3/memories/add/", key=key, data={"messages": text, "user_id": user_id})
    assert response.status_code == 200, response.content


def docs_verifier():
    """The receiver recipe exactly as docs/API.md prints it (its one ``def verify_webhook`` block),
    run as written: (verify_webhook, the namespace it runs in)."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", API_MD.read_text(), re.S) if "def verify_webhook" in b]
    assert len(blocks) == 1, "docs/API.md must show one verify_webhook recipe"
    namespace: dict = {}
    exec(compile(blocks[0], "docs/API.md", "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["verify_webhook"], namespace


def own_verify(secret: str, headers: dict, body: bytes) -> bool:
    """An independent reading of the Standard Webhooks scheme (no server code, no docs code)."""
    key = base64.b64decode(secret[len("whsec_") :])
    signed = b".".join([headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body])
    mac = hmac.new(key, signed, hashlib.sha256)
    return headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()


# --- registration ------------------------------------------------------------------------------

REFUSED = [
    ("http://127.0.0.1:8000/hook", "loopback"),
    ("http://127.8.9.10/hook", "loopback"),
    ("http://localhost:8000/hook", "loopback"),
    ("http://api.localhost/hook", "loopback"),
    ("http://[::1]:8000/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.5.4/hook", "private"),
    ("https://192.168.1.20/hook", "private"),
    ("http://[fd12:3456::1]/hook", "private"),
    ("http://100.64.1.1/hook", "CGNAT"),
    ("http://224.0.0.251/hook", "multicast"),
    ("http://255.255.255.255/hook", "broadcast"),
    ("http://198.51.100.7/hook", "reserved"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:169.254.169.254]/hook", "link-local"),
]


@pytest.mark.parametrize("url, reason", REFUSED)
def test_private_addresses_are_refused_at_creation_and_nothing_is_written(api, project, admin_key, url, reason):
    body = error_of(
        api("POST", hooks_path(project), key=admin_key, data={"name": "h", "url": url, "event_types": ["memory_add"]}),
        422,
        "VALIDATION_ERROR",
    )
    assert reason in body["detail"] and reason in body["error"]["details"]["reason"]
    assert body["error"]["details"]["field"] == "url"
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("url, reason", REFUSED)
def test_private_addresses_are_refused_on_update_and_nothing_changes(api, project, admin_key, url, reason):
    hook = create_hook(api, project, admin_key, "https://example.com/hooks/mem0")
    response = api("PUT", f"/api/v1/webhooks/{hook['webhook_id']}/", key=admin_key, data={"url": url, "name": "x"})
    assert reason in error_of(response, 422, "VALIDATION_ERROR")["detail"]
    stored = Webhook.objects.get()
    assert (stored.url, stored.name) == ("https://example.com/hooks/mem0", "h")


@pytest.mark.parametrize("url", ["http://example.com:99999/hook", "gopher://example.com/", "file:///etc/passwd"])
def test_only_http_urls_with_a_valid_port_are_accepted(api, project, admin_key, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # not a way around these
    data = {"name": "h", "url": url, "event_types": ["memory_add"]}
    error_of(api("POST", hooks_path(project), key=admin_key, data=data), 422, "VALIDATION_ERROR")
    assert not Webhook.objects.exists()


def test_a_name_is_resolved_and_every_address_vetted(api, project, admin_key, monkeypatch):
    """``internal.test`` has a public and a private address: one private address is enough to refuse."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "internal.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443)),
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    data = {"name": "h", "url": "https://internal.test/hook", "event_types": ["memory_add"]}
    body = error_of(api("POST", hooks_path(project), key=admin_key, data=data), 422, "VALIDATION_ERROR")
    assert "internal.test resolves to 10.0.0.7, a private address" in body["detail"]
    assert not Webhook.objects.exists()


def test_allow_private_lets_the_operator_register_local_receivers(api, project, admin_key, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert create_hook(api, project, admin_key, "http://127.0.0.1:9/hook")["url"] == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    "address, refused",
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("2002:0808:0808::1", False),  # 6to4 of a public address
        ("2002:7f00:0001::1", True),  # 6to4 of 127.0.0.1
        ("::ffff:10.0.0.1", True),
        ("198.18.0.1", True),  # benchmarking range
        ("192.0.2.1", True),  # documentation range
        ("240.0.0.1", True),
        ("ff02::1", True),
        ("fec0::1", True),  # deprecated site-local
        ("64:ff9b::7f00:1", True),  # NAT64 form
    ],
)
def test_the_address_rules(address, refused):
    import ipaddress

    assert (address_refusal(ipaddress.ip_address(address)) is not None) is refused


# --- delivery ----------------------------------------------------------------------------------


def test_delivery_checks_the_address_again_and_sends_nothing(api, project, admin_key, settings, listen):
    listener = listen()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    create_hook(api, project, admin_key, listener.url)
    add_memory(api, admin_key)
    settings.WEBHOOK_ALLOW_PRIVATE = False  # e.g. the operator turned it off since

    webhook_deliveries_enqueue()
    assert webhook_deliveries_send() == {"delivered": 0, "retried": 0, "failed": 1}
    assert listener.requests == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, None)
    assert "refused" in delivery.last_error and "127.0.0.1 is a loopback address" in delivery.last_error
    assert webhook_deliveries_send() == {"delivered": 0, "retried": 0, "failed": 0}  # not tried again


def test_delivery_resolves_names_and_refuses_a_private_answer(api, project, admin_key, settings, listen, monkeypatch):
    """The name was public (or unknown) at registration; at delivery DNS says loopback."""
    listener = listen()
    create_hook(api, project, admin_key, f"http://rebind.test:{listener.port}/hook")  # does not resolve: accepted
    add_memory(api, admin_key)
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1", *a, **k) if host == "rebind.test" else real(host, *a, **k),
    )
    webhook_deliveries_enqueue()
    assert webhook_deliveries_send()["failed"] == 1
    assert listener.requests == []
    assert "rebind.test resolves to 127.0.0.1, a loopback address" in WebhookDelivery.objects.get().last_error


def test_delivery_connects_to_the_address_it_checked(api, project, admin_key, settings, listen, monkeypatch):
    """The name is resolved once per attempt and the connection pinned to that answer: a resolver
    that changes its answer afterwards (DNS rebinding) cannot redirect the request. The receiver
    still sees the URL's host name in ``Host``."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    first = listen(host="127.0.0.1")
    second = listen(host="127.0.0.2", port=first.port)
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "hook.test":
            return real(next(answers, "127.0.0.2"), *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    create_hook(api, project, admin_key, f"http://hook.test:{first.port}/hook")
    add_memory(api, admin_key)
    webhook_deliveries_enqueue()
    assert webhook_deliveries_send()["delivered"] == 1
    assert second.requests == []
    assert [r["headers"]["host"] for r in first.requests] == [f"hook.test:{first.port}"]


def test_a_redirect_is_not_followed(api, project, admin_key, settings, listen):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    target = listen()
    redirector = listen(status=302, location=target.url)
    create_hook(api, project, admin_key, redirector.url)
    add_memory(api, admin_key)
    webhook_deliveries_enqueue()
    assert webhook_deliveries_send() == {"delivered": 0, "retried": 1, "failed": 0}
    assert len(redirector.requests) == 1 and target.requests == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert "redirect not followed" in delivery.last_error and delivery.delivered_at is None


def test_proxy_variables_are_ignored(api, project, admin_key, settings, listen, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    proxy, receiver = listen(), listen()
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    create_hook(api, project, admin_key, receiver.url)
    add_memory(api, admin_key)
    webhook_deliveries_enqueue()
    assert webhook_deliveries_send()["delivered"] == 1
    assert proxy.requests == [] and len(receiver.requests) == 1


def test_a_receiver_slower_than_the_timeout_is_cut_off(api, project, admin_key, settings, listen):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    slow = listen(delay=3)
    create_hook(api, project, admin_key, slow.url)
    add_memory(api, admin_key)
    webhook_deliveries_enqueue()
    started = time.monotonic()
    assert webhook_deliveries_send() == {"delivered": 0, "retried": 1, "failed": 0}
    assert time.monotonic() - started < 2
    assert "timed out" in WebhookDelivery.objects.get().last_error


# --- signatures --------------------------------------------------------------------------------


def test_deliveries_verify_with_the_documented_recipe_and_rotation_replaces_the_secret(
    api, project, admin_key, settings, listen
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    verify_webhook, recipe = docs_verifier()
    listener = listen()
    hook = create_hook(api, project, admin_key, listener.url)
    secret = hook["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32

    add_memory(api, admin_key, "I love tea")
    webhook_deliveries_enqueue()
    webhook_deliveries_send()
    (request,) = listener.requests
    headers, body = request["headers"], request["body"]
    delivery = WebhookDelivery.objects.get()
    assert headers["webhook-id"] == str(delivery.id)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 30
    assert json.loads(body)["event_details"]["data"] == {"memory": "User loves tea"}
    assert verify_webhook(secret, headers, body) and own_verify(secret, headers, body)

    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert not verify_webhook(other_secret, headers, body)
    assert not verify_webhook(secret, headers, body.replace(b"tea", b"tee"))
    assert not verify_webhook(secret, {**headers, "webhook-id": "999"}, body)
    # Five minutes and a little later the same request no longer verifies (a replay).
    real_time = recipe["time"]
    recipe["time"] = type("Clock", (), {"time": staticmethod(lambda: real_time.time() + 301)})
    assert not verify_webhook(secret, headers, body)
    recipe["time"] = real_time

    rotated = api("POST", f"/api/v1/webhooks/{hook['webhook_id']}/secret/", key=admin_key)
    assert rotated.status_code == 200, rotated.content
    new_secret = rotated.json()["secret"]
    assert rotated.json()["webhook_id"] == hook["webhook_id"]
    assert new_secret.startswith("whsec_") and new_secret != secret

    add_memory(api, admin_key, "I live in Rome")
    webhook_deliveries_enqueue()
    webhook_deliveries_send()
    headers, body = listener.requests[-1]["headers"], listener.requests[-1]["body"]
    assert len(listener.requests) == 2
    assert verify_webhook(new_secret, headers, body) and own_verify(new_secret, headers, body)
    assert not verify_webhook(secret, headers, body)


def test_the_secret_is_shown_once(api, project, admin_key, make_key):
    hook = create_hook(api, project, admin_key, "https://example.com/hooks/mem0")
    secret = hook["secret"]
    path = f"/api/v1/webhooks/{hook['webhook_id']}/"
    listed = api("GET", hooks_path(project), key=admin_key)
    updated = api("PUT", path, key=admin_key, data={"name": "renamed"})
    for response in (listed, updated):
        assert response.status_code == 200
        assert secret.encode() not in response.content and b"secret" not in response.content
    # Read keys do not list webhooks at all (their URLs are the tenant's own endpoints).
    refused = api("GET", hooks_path(project), key=make_key(project, scopes="read"))
    assert refused.status_code == 403 and secret.encode() not in refused.content
    assert Webhook.objects.get().secret == secret


def test_each_webhook_has_its_own_secret_and_others_cannot_rotate_it(api, project, other_project, admin_key, make_key):
    first = create_hook(api, project, admin_key, "https://example.com/a")
    second = create_hook(api, project, admin_key, "https://example.com/b")
    assert first["secret"] != second["secret"]
    theirs = make_key(other_project, scopes="read,write,admin")
    error_of(api("POST", f"/api/v1/webhooks/{first['webhook_id']}/secret/", key=theirs), 404, "NOT_FOUND")
    error_of(
        api("POST", f"/api/v1/webhooks/{first['webhook_id']}/secret/", key=make_key(project, scopes="read,write")),
        403,
        "FORBIDDEN",
    )
    assert Webhook.objects.get(pk=first["webhook_id"]).secret == first["secret"]


def test_the_migration_gives_existing_webhooks_distinct_secrets(project):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0008_webhook_secret")
    for name in ("a", "b"):
        Webhook.objects.create(project=project, name=name, url="https://example.com/", secret="same")
    migration.give_each_webhook_its_own_secret(apps, None)
    secrets = list(Webhook.objects.values_list("secret", flat=True))
    assert len(set(secrets)) == 2 and all(s.startswith("whsec_") for s in secrets)


# --- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def two_projects(project, other_project, make_key):
    return (project, make_key(project, scopes="read,write,admin")), (
        other_project,
        make_key(other_project, scopes="read,write,admin"),
    )


@pytest.mark.django_db(transaction=True)  # the delivery thread reads through its own connection
def test_a_slow_receiver_does_not_delay_another_projects_delivery(api, settings, listen, two_projects):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    (p1, key1), (p2, key2) = two_projects
    slow, fast = listen(delay=5), listen()
    create_hook(api, p1, key1, slow.url)
    create_hook(api, p2, key2, fast.url)

    stop = threading.Event()
    thread = threading.Thread(target=webhook_delivery_loop, kwargs={"interval": 0.2, "stop": stop}, daemon=True)
    thread.start()
    try:
        add_memory(api, key1, "I love tea")
        assert slow.got.wait(10), "P1's receiver got nothing"
        add_memory(api, key2, "I love jazz", user_id="zed")  # P1's receiver is sleeping now
        asked = time.monotonic()
        assert fast.got.wait(2.5), "P2's delivery waited for P1's slow receiver"
        assert fast.requests[0]["at"] - asked < 2
        assert slow.requests[0]["done"] is None  # P1's receiver is still busy
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_one_project_gets_at_most_its_share_of_the_threads(api, settings, listen, two_projects):
    """Three threads, a cap of two per project: P1's three slow webhooks take two threads, and
    P2's delivery gets the third at once instead of waiting for them."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_DELIVERY_THREADS = 3
    settings.WEBHOOK_MAX_CONCURRENCY_PER_PROJECT = 2
    (p1, key1), (p2, key2) = two_projects
    slow, fast = listen(delay=2.5), listen()
    for _ in range(3):
        create_hook(api, p1, key1, slow.url)
    create_hook(api, p2, key2, fast.url)
    add_memory(api, key1, "I love tea")
    add_memory(api, key2, "I love jazz", user_id="zed")
    webhook_deliveries_enqueue()
    assert WebhookDelivery.objects.count() == 4
    assert list(WebhookDelivery.objects.order_by("id").values_list("webhook__project", flat=True)) == [p1.id] * 3 + [
        p2.id
    ]  # P1's deliveries come first in the queue
    started = time.monotonic()
    assert webhook_deliveries_send() == {"delivered": 4, "retried": 0, "failed": 0}
    assert fast.requests[0]["at"] - started < 1.5
    assert slow.most_in_flight == 2 and len(slow.requests) == 3
    assert Project.objects.count() == 2
