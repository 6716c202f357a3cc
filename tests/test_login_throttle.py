"""Login throttling (django-axes) on /ui/login/ and /admin/login/: after LOGIN_FAILURE_LIMIT failures
for one username from one address, even the right password is refused (429, a page saying why) until
LOGIN_COOLOFF_MINUTES have passed; other usernames and other addresses are unaffected; a successful
login clears the count. Failures are counted in the database, so every worker process sees them."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from accounts.services import admin_user_ensure

PASSWORD = "pw-pat-correct-123"
LOGIN_PAGES = {"ui": "/ui/login/", "admin": "/admin/login/"}


@pytest.fixture
def pat(db, django_user_model):
    # is_staff so the admin login accepts the right password too.
    return django_user_model.objects.create_user("pat", password=PASSWORD, is_staff=True)


def log_in(client: Client, page: str, username: str, password: str, ip: str = "10.1.1.1"):
    return client.post(LOGIN_PAGES[page], {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return client.get("/ui/").status_code == 200


def fail(client: Client, page: str, times: int, username: str = "pat", ip: str = "10.1.1.1") -> list[int]:
    return [log_in(client, page, username, "wrong-password", ip).status_code for _ in range(times)]


def test_defaults_come_from_the_environment_variables():
    assert settings.AXES_FAILURE_LIMIT == settings.LOGIN_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES) == timedelta(minutes=15)
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesBackend"


@pytest.mark.parametrize("page", ["ui", "admin"])
def test_after_the_limit_even_the_right_password_is_refused(pat, page, django_user_model):
    client = Client()
    statuses = fail(client, page, settings.LOGIN_FAILURE_LIMIT)
    assert statuses[:-1] == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)  # the form, with its error
    assert statuses[-1] == 429  # the failure that reaches the limit is answered with the lock

    refused = log_in(client, page, "pat", PASSWORD)
    assert refused.status_code == 429
    assert b"Too many login attempts" in refused.content and b"15 minutes" in refused.content
    assert int(refused["Retry-After"]) == 15 * 60
    assert not logged_in(client)

    # Another username from the same address, and the same username from another address, still log in.
    django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    other_user = Client()
    assert log_in(other_user, page, "sam", PASSWORD).status_code == 302 and logged_in(other_user)
    other_address = Client()
    assert log_in(other_address, page, "pat", PASSWORD, ip="10.2.2.2").status_code == 302
    assert logged_in(other_address)
    # ... and that success does not lift the lock of the first address.
    assert log_in(Client(), page, "pat", PASSWORD).status_code == 429


@pytest.mark.parametrize("page", ["ui", "admin"])
def test_after_the_cool_off_the_right_password_works_again(pat, page):
    client = Client()
    fail(client, page, settings.LOGIN_FAILURE_LIMIT)
    assert log_in(client, page, "pat", PASSWORD).status_code == 429
    # Attempts during the lock do not extend it: the clock runs from the failure that reached the limit.
    attempt = AccessAttempt.objects.get(username="pat")
    assert attempt.failures_since_start == settings.LOGIN_FAILURE_LIMIT

    # Move the clock: the last failure was a minute more than the cool-off ago.
    AccessAttempt.objects.filter(username="pat").update(
        attempt_time=attempt.attempt_time - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    )
    assert log_in(client, page, "pat", PASSWORD).status_code == 302
    assert logged_in(client)
    assert not AccessAttempt.objects.filter(username="pat").exists()


def test_a_successful_login_clears_the_count(pat):
    client = Client()
    assert fail(client, "ui", settings.LOGIN_FAILURE_LIMIT - 1) == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)
    assert log_in(client, "ui", "pat", PASSWORD).status_code == 302
    client.post("/ui/logout/")
    assert fail(client, "ui", settings.LOGIN_FAILURE_LIMIT - 1) == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)
    assert log_in(client, "ui", "pat", PASSWORD).status_code == 302 and logged_in(client)


def test_the_limit_and_cool_off_follow_the_settings(pat, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)
    client = Client()
    assert fail(client, "ui", 2) == [200, 429]
    refused = log_in(client, "ui", "pat", PASSWORD)
    assert refused.status_code == 429 and b"After 2 failed logins" in refused.content
    assert b"3 minutes" in refused.content and refused["Retry-After"] == "180"


def test_the_start_up_admin_password_logs_in_to_both_pages(db):
    admin_user_ensure(password="start-up-password-1")
    for page in ("admin", "ui"):
        client = Client()
        assert log_in(client, page, "admin", "start-up-password-1").status_code == 302, page
        assert logged_in(client)
