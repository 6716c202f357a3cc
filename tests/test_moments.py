"""The one date-and-moment parser (``mem0g_site.inputs``) and its one meaning for a bare date: the
start of that day, UTC, for the API and the web UI alike (docs/API.md, "Moments in requests")."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from mem0g_site.exceptions import ValidationFailed
from mem0g_site.inputs import parse_day_or_moment, parse_moment, read_moment
from memories.inputs import clean_expiration

DAY_START = datetime(2026, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-01-20", DAY_START),
        (" 2026-01-20 ", DAY_START),
        (date(2026, 1, 20), DAY_START),
        ("2026-01-20T10:30:00", DAY_START.replace(hour=10, minute=30)),  # naive: UTC
        ("2026-01-20T10:30:00Z", DAY_START.replace(hour=10, minute=30)),
        ("2026-01-20T10:30:00+02:00", DAY_START.replace(hour=8, minute=30)),
        ("2026-01-20T00:30:00+02:00", DAY_START - timedelta(hours=1, minutes=30)),
        (datetime(2026, 1, 20, 10, 30), DAY_START.replace(hour=10, minute=30)),
        (datetime(2026, 1, 20, 10, 30, tzinfo=timezone(timedelta(hours=-5))), DAY_START.replace(hour=15, minute=30)),
        (1768867200, DAY_START),  # Unix seconds
        (1768867200.5, DAY_START + timedelta(seconds=0.5)),
        ("1768867200", DAY_START),
        ("1768867200.5", DAY_START + timedelta(seconds=0.5)),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_a_moment_is_read_one_way(value, expected):
    moment = parse_moment(value, field="as_of")
    assert moment == expected
    if moment is not None:
        assert moment.tzinfo is UTC  # always aware, always UTC


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "20.26.01",
        "-5",
        "1e9",
        "99999999999999999999",  # past datetime's range: refused, not a 500
        10**20,
        float("nan"),
        float("inf"),
        True,
        {"at": "2026-01-20"},
        ["2026-01-20"],
    ],
)
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(ValidationFailed) as refused:
        parse_moment(value, field="known_at")
    assert refused.value.field == "known_at"
    assert refused.value.message.startswith("known_at must be an ISO 8601 date or time")


def test_a_bare_date_is_a_day_where_a_whole_day_is_meant():
    assert read_moment("2026-01-20") == date(2026, 1, 20)
    assert parse_day_or_moment("2026-01-20", field="expiration_date") == date(2026, 1, 20)
    # expiration_date: served through that day, so it expires when the next one starts.
    assert clean_expiration(parse_day_or_moment("2026-01-20", field="expiration_date")) == DAY_START + timedelta(days=1)
    assert parse_day_or_moment("2026-01-20T10:00:00Z", field="expiration_date") == DAY_START.replace(hour=10)
    with pytest.raises(ValidationFailed):
        parse_day_or_moment("9999-99-99", field="expiration_date")


@pytest.mark.django_db
def test_the_api_and_the_ui_read_a_bare_date_alike(client, api, make_key, project, add, django_user_model):
    """A fact that began at noon on the 20th does not hold "as of" the 20th (its start) in either."""
    from accounts.models import ProjectMember

    add(project, "User lives in Porto", user_id="alice", now=DAY_START - timedelta(days=5))
    add(project, "User adopted a cat", user_id="alice", now=DAY_START + timedelta(hours=12))
    key = make_key(project)
    texts = {}
    for day in ("2026-01-20", "2026-01-21"):
        listed = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}, "as_of": day})
        assert listed.status_code == 200, listed.content
        texts[day] = sorted(m["memory"] for m in listed.json()["results"])
    assert texts == {"2026-01-20": ["User lives in Porto"], "2026-01-21": ["User adopted a cat", "User lives in Porto"]}

    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.OWNER)
    client.force_login(person)
    then = client.get(f"/ui/p/{project.pk}/u/alice/", {"as_of": "2026-01-20"}).content.decode()
    assert "User lives in Porto" in then and "adopted a cat" not in then
    later = client.get(f"/ui/p/{project.pk}/u/alice/", {"as_of": "2026-01-21"}).content.decode()
    assert "User lives in Porto" in later and "adopted a cat" in later
