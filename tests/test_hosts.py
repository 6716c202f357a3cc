"""Host names and HTTPS: a request for a host not in ALLOWED_HOSTS gets 400 (so a pagination link
never carries a forged host), and behind a TLS proxy (MEM0G_HTTPS) links are https and HSTS is sent.
The settings themselves are checked in tests/test_configuration.py."""

import pytest

from tests.conftest import error_of


@pytest.fixture
def key(project, make_key, add):
    for name in ("a1", "a2", "a3"):
        add(project, f"User {name} likes tea", user_id=name)
    return make_key(project)


def test_pagination_links_name_the_allowed_host(api, key, settings):
    settings.ALLOWED_HOSTS = ["mem0g.example.org"]
    page = api("GET", "/v1/entities/?page=1&page_size=1", key=key, HTTP_HOST="mem0g.example.org")
    assert page.status_code == 200
    assert page.json()["next"].startswith("http://mem0g.example.org/v1/entities/?")


@pytest.mark.parametrize("host", ["attacker.example", "mem0g.example.org.attacker.example", "evil/x"])
def test_a_forged_host_gets_400_and_no_link(api, key, settings, host):
    settings.ALLOWED_HOSTS = ["mem0g.example.org"]
    response = api("GET", "/v1/entities/?page=1&page_size=1", key=key, HTTP_HOST=host)
    body = error_of(response, 400, "INVALID_REQUEST")
    assert "next" not in body and host not in response.content.decode()


def test_behind_a_tls_proxy_links_are_https_and_hsts_is_sent(api, key, settings):
    settings.ALLOWED_HOSTS = ["mem0g.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    extra = {"HTTP_HOST": "mem0g.example.org", "HTTP_X_FORWARDED_PROTO": "https"}
    page = api("GET", "/v1/entities/?page=1&page_size=1", key=key, **extra)
    assert page.json()["next"].startswith("https://mem0g.example.org/")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    # Plain HTTP (the proxy said so, or no proxy): no HSTS, and no redirect either.
    plain = api("GET", "/v1/entities/?page=1&page_size=1", key=key, HTTP_HOST="mem0g.example.org")
    assert plain.status_code == 200 and "Strict-Transport-Security" not in plain
    assert plain.json()["next"].startswith("http://mem0g.example.org/")
