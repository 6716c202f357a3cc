"""The review queue (issue 19, item 3): what the server inferred (ADD from extraction, UPDATE,
SUPERSEDE) waits as pending with its trace; accept keeps it, reject undoes it, edit rewrites it,
each with history rows naming the reviewer; the project option ``review_mode`` holds inferred
updates and supersessions until they are accepted. Services, the web UI's pages, fragments and
actions (who may do what), the admin's queue, and the API's view of the result."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ProjectMember
from graph.models import Relationship
from mem0g_site.exceptions import Conflict, ValidationFailed
from memories import review
from memories.inputs import NewMemory, Scope
from memories.models import DecisionTrace, Memory, MemoryHistory
from memories.review_selectors import review_get, review_pending_count, review_queue
from memories.services import add_ingest, memory_update

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


def say(project, text, when, user_id="alice"):
    """One inferred add (the built-in rules) of what alice said at ``when``: its result rows."""
    return add_ingest(
        project=project,
        messages=[{"role": "user", "content": text}],
        scope=Scope(user_id=user_id),
        observed_at=when,
    ).results


def trace_of(entry) -> DecisionTrace:
    return DecisionTrace.objects.get(pk=entry["review_id"]) if "review_id" in entry else (
        DecisionTrace.objects.filter(memory_id=entry["id"]).exclude(review_state="none").latest("created_at")
    )  # fmt: skip


def history(memory_id) -> list[tuple]:
    return [
        (row.event, row.old_memory, row.new_memory, row.actor_id)
        for row in MemoryHistory.objects.filter(memory_id=memory_id).order_by("created_at", "id")
    ]


@pytest.fixture
def moved(project):
    """alice lived in Paris, then said she moved to Berlin: an inferred SUPERSEDE."""
    [paris] = say(project, "I live in Paris.", T0)
    [berlin] = say(project, "I moved to Berlin.", T0 + timedelta(days=30))
    assert berlin["event"] == "SUPERSEDE" and berlin["supersedes"] == paris["id"]
    return {"paris": Memory.objects.get(pk=paris["id"]), "berlin": Memory.objects.get(pk=berlin["id"])}


@pytest.fixture
def key(project, make_key):
    return make_key(project, scopes="read,write,admin")


# --- the queue --------------------------------------------------------------------------------


def test_inferred_changes_wait_with_their_trace_and_verbatim_ones_do_not(project, moved):
    add_ingest(
        project=project, items=[NewMemory(text="User's passport number ends in 42", scope=Scope(user_id="alice"))]
    )
    say(project, "I live in Berlin now.", T0 + timedelta(days=31))  # NONE: nothing changed, nothing to review
    queue = review_queue(project=project)
    assert [(t.decision, t.proposed) for t in queue.results] == [
        ("SUPERSEDE", "User moved to Berlin"),
        ("ADD", "User lives in Paris"),
    ]
    supersede = queue.results[0]
    assert supersede.previous == "User lives in Paris" and supersede.target.pk == moved["paris"].pk
    assert supersede.extractor.startswith("rules:") and supersede.candidates[0]["text"] == "User lives in Paris"
    assert [(s.role, s.content) for s in supersede.source_rows] == [("user", "I moved to Berlin.")]
    assert review_pending_count(project=project) == 2 == review_pending_count(project=project, user_id="alice")
    assert review_pending_count(project=project, user_id="bob") == 0
    assert DecisionTrace.objects.filter(review_state="none").count() == 2  # the verbatim add and the NONE
    assert review_queue(project=project, state="accepted").count == 0
    with pytest.raises(ValidationFailed):
        review_queue(project=project, state="maybe")


def test_accept_keeps_the_change_and_records_the_reviewer(project, moved):
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    before = history(moved["berlin"].pk) + history(moved["paris"].pk)
    review.review_accept(project=project, trace_id=trace.pk, actor_id="ui:olga")
    trace.refresh_from_db()
    assert (trace.review_state, trace.reviewed_by) == ("accepted", "ui:olga") and trace.reviewed_at is not None
    assert Memory.objects.get(pk=moved["berlin"].pk).is_current
    assert history(moved["berlin"].pk) + history(moved["paris"].pk) == before  # nothing changed
    with pytest.raises(Conflict, match="accepted already, by ui:olga"):
        review.review_reject(project=project, trace_id=trace.pk, actor_id="ui:olga")


def test_reject_a_supersession_restores_the_old_fact_and_the_api_serves_it(api, key, project, moved):
    paris, berlin = moved["paris"], moved["berlin"]
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    review.review_reject(project=project, trace_id=trace.pk, actor_id="ui:olga")

    paris.refresh_from_db()
    berlin.refresh_from_db()
    assert paris.is_current and berlin.invalidated_at is not None
    assert not Relationship.objects.filter(source=berlin, target=paris, invalidated_at__isnull=True).exists()
    assert history(paris.pk)[-1] == ("UPDATE", "User lives in Paris", "User lives in Paris", "ui:olga")
    assert history(berlin.pk)[-1] == ("DELETE", "User moved to Berlin", None, "ui:olga")
    assert MemoryHistory.objects.filter(trace=trace, actor_id="ui:olga").count() == 2
    trace.refresh_from_db()
    assert trace.review_state == "rejected" and trace.memory_id == berlin.pk  # the record stays

    got = api("GET", f"/v1/memories/{paris.pk}/", key=key).json()
    assert got["memory"] == "User lives in Paris" and got["valid_to"] is None
    found = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={"query": "Where does alice live?", "filters": {"user_id": "alice"}},
    ).json()["results"]
    assert [item["memory"] for item in found] == ["User lives in Paris"]
    listed = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}}).json()["results"]
    assert [item["memory"] for item in listed] == ["User lives in Paris"]


def test_reject_an_update_restores_the_previous_text(project):
    [python] = say(project, "I love Python.", T0)
    [update] = say(project, "I love Python, especially for data science.", T0 + timedelta(days=1))
    assert update["event"] == "UPDATE" and update["id"] == python["id"]
    trace = trace_of(update)
    assert review_get(project=project, trace_id=trace.pk).previous == "User loves Python"
    review.review_reject(project=project, trace_id=trace.pk, actor_id="admin:root")
    assert Memory.objects.get(pk=python["id"]).memory == "User loves Python"
    assert history(python["id"])[-1] == (
        "UPDATE",
        "User loves Python, especially for data science",
        "User loves Python",
        "admin:root",
    )


def test_reject_an_inferred_add_retracts_it(api, key, project):
    [job] = say(project, "I work at Google.", T0)
    trace = trace_of(job)
    review.review_reject(project=project, trace_id=trace.pk, actor_id="ui:olga")
    memory = Memory.objects.get(pk=job["id"])
    assert memory.invalidated_at is not None and not memory.is_current
    assert history(job["id"])[-1] == ("DELETE", "User works at Google", None, "ui:olga")
    assert api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}}).json()["results"] == []
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "rejected"


def test_edit_rewrites_the_inferred_text(project, moved):
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    review.review_edit(project=project, trace_id=trace.pk, text="User moved to Berlin-Mitte", actor_id="ui:olga")
    assert Memory.objects.get(pk=moved["berlin"].pk).memory == "User moved to Berlin-Mitte"
    assert history(moved["berlin"].pk)[-1] == (
        "UPDATE",
        "User moved to Berlin",
        "User moved to Berlin-Mitte",
        "ui:olga",
    )
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "accepted"
    other = DecisionTrace.objects.get(decision="ADD")
    with pytest.raises(ValidationFailed):
        review.review_edit(project=project, trace_id=other.pk, text="  ", actor_id="ui:olga")
    assert DecisionTrace.objects.get(pk=other.pk).review_state == "pending"


def test_a_change_changed_since_is_not_undone(project, moved):
    memory_update(project=project, memory_id=moved["berlin"].pk, text="User lives in Berlin", actor_id="ui:olga")
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    before = (history(moved["paris"].pk), history(moved["berlin"].pk))
    with pytest.raises(Conflict, match="changed after this decision"):
        review.review_reject(project=project, trace_id=trace.pk, actor_id="ui:olga")
    assert (history(moved["paris"].pk), history(moved["berlin"].pk)) == before
    assert Memory.objects.get(pk=moved["berlin"].pk).is_current
    assert not Memory.objects.get(pk=moved["paris"].pk).is_current
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "pending"
    # The older ADD was superseded since: not undone either.
    with pytest.raises(Conflict):
        review.review_reject(project=project, trace_id=DecisionTrace.objects.get(decision="ADD").pk, actor_id="x")


def test_other_projects_changes_and_bad_actions_are_refused(project, other_project, moved):
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    with pytest.raises(review.ReviewNotFound):
        review.review_accept(project=other_project, trace_id=trace.pk, actor_id="ui:olga")
    with pytest.raises(review.ReviewNotFound):
        review.review_accept(project=project, trace_id="not-an-id", actor_id="ui:olga")
    with pytest.raises(ValidationFailed):
        review.review_apply(project=project, trace_id=trace.pk, action="approve", actor_id="ui:olga")
    with pytest.raises(ValidationFailed):
        review.review_accept(project=project, trace_id=trace.pk, actor_id="")
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "pending"


def _test_database_url() -> str:
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.db import connection

    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.mark.django_db(transaction=True)
def test_a_review_waits_for_an_add_to_the_same_user(project):
    """Review actions take the scope lock the add pipeline takes: while an add to alice holds it, a
    rejection of one of her changes waits, then runs against what the add wrote."""
    import threading
    import time

    import psycopg
    from django.db import connection

    from memories.services import scope_lock_key

    say(project, "I live in Paris.", T0)
    say(project, "I moved to Berlin.", T0 + timedelta(days=30))
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    held = scope_lock_key(project.pk, Scope(user_id="alice"))
    outcome = {}

    def reject():
        try:
            outcome["trace"] = review.review_reject(project=project, trace_id=trace.pk, actor_id="ui:olga")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc
        finally:
            connection.close()

    with psycopg.connect(_test_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [held])
        try:
            worker = threading.Thread(target=reject)
            worker.start()
            deadline = time.monotonic() + 60
            waiting = 0
            while not waiting and time.monotonic() < deadline:
                time.sleep(0.05)
                waiting = other.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()[0]
            assert waiting >= 1
            time.sleep(0.3)
            assert worker.is_alive() and DecisionTrace.objects.get(pk=trace.pk).review_state == "pending"
            other.execute("SELECT pg_advisory_unlock(%s)", [held])
            worker.join(60)
        finally:
            other.execute("SELECT pg_advisory_unlock_all()")
    assert "error" not in outcome, outcome
    assert outcome["trace"].review_state == "rejected"
    assert Memory.objects.get(memory="User lives in Paris").is_current


# --- review_mode ------------------------------------------------------------------------------


def project_url(project) -> str:
    return f"/api/v1/orgs/organizations/{project.organization_id}/projects/{project.pk}/"


def test_review_mode_holds_a_supersession_until_it_is_accepted(api, key, project):
    response = api("PATCH", project_url(project), key=key, data={"review_mode": True})
    assert response.status_code == 200 and response.json()["review_mode"] is True
    assert api("GET", project_url(project), key=key).json()["review_mode"] is True
    assert api("PATCH", project_url(project), key=key, data={"review_mode": "yes"}).status_code == 422

    [paris] = say(project, "I live in Paris.", T0)  # an ADD is not held
    moved_at = T0 + timedelta(days=30)
    response = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={"messages": [{"role": "user", "content": "I moved to Berlin."}], "user_id": "alice",
              "timestamp": int(moved_at.timestamp())},
    )  # fmt: skip
    [entry] = response.json()["results"]
    assert entry["event"] == "SUPERSEDE" and entry["pending"] is True
    assert entry["id"] == paris["id"] and entry["memory"] == "User moved to Berlin"
    assert entry["previous_memory"] == "User lives in Paris" and "supersedes" not in entry

    # Nothing changed: Paris holds, Berlin is nowhere but in the queue.
    assert Memory.objects.count() == 1 and Memory.objects.get().is_current
    found = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={"query": "Where does alice live?", "filters": {"user_id": "alice"}},
    ).json()["results"]
    assert [item["memory"] for item in found] == ["User lives in Paris"]
    listed = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}}).json()["results"]
    assert [item["memory"] for item in listed] == ["User lives in Paris"]
    trace = DecisionTrace.objects.get(pk=entry["review_id"])
    assert trace.is_held and trace.review_state == "pending" and trace.memory_id == Memory.objects.get().pk
    event = api("GET", f"/v1/event/{response.json()['event_id']}/", key=key).json()
    assert event["results"][0]["pending"] is True
    [item] = review_queue(project=project).results[:1]
    assert (item.previous, item.proposed) == ("User lives in Paris", "User moved to Berlin")

    review.review_accept(project=project, trace_id=trace.pk, actor_id="ui:olga")
    paris_row = Memory.objects.get(pk=paris["id"])
    berlin = Memory.objects.get(memory="User moved to Berlin")
    assert paris_row.valid_to == moved_at and berlin.valid_from == moved_at and berlin.is_current  # when it was said
    assert Relationship.objects.filter(source=berlin, target=paris_row, relation="supersedes").exists()
    assert [s.content for s in berlin.sources.all()] == ["I moved to Berlin."]
    assert history(paris_row.pk)[-1] == ("SUPERSEDE", "User lives in Paris", "User moved to Berlin", "ui:olga")
    assert history(berlin.pk) == [("ADD", None, "User moved to Berlin", "ui:olga")]
    trace.refresh_from_db()
    assert trace.memory_id == berlin.pk and not trace.is_held and trace.review_state == "accepted"
    found = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={"query": "Where does alice live?", "filters": {"user_id": "alice"}, "latest_only": True},
    ).json()["results"]
    assert [item["memory"] for item in found] == ["User moved to Berlin"]


def test_review_mode_held_update_and_rejection(project):
    project.options = {"review_mode": True}
    project.save()
    [python] = say(project, "I love Python.", T0)
    [update] = say(project, "I love Python, especially for data science.", T0 + timedelta(days=1))
    assert update["pending"] is True and update["event"] == "UPDATE" and update["id"] == python["id"]
    assert Memory.objects.get().memory == "User loves Python" and len(history(python["id"])) == 1
    # Rejecting a held change writes nothing but the review.
    review.review_reject(project=project, trace_id=update["review_id"], actor_id="ui:olga")
    assert Memory.objects.get().memory == "User loves Python" and len(history(python["id"])) == 1
    assert DecisionTrace.objects.get(pk=update["review_id"]).review_state == "rejected"

    [again] = say(project, "I love Python, especially for data science.", T0 + timedelta(days=2))
    review.review_edit(
        project=project, trace_id=again["review_id"], text="User loves Python for data work", actor_id="u"
    )
    assert Memory.objects.get().memory == "User loves Python for data work"
    assert history(python["id"])[-1] == ("UPDATE", "User loves Python", "User loves Python for data work", "u")


def test_a_held_change_whose_fact_changed_meanwhile_cannot_be_accepted(project):
    project.options = {"review_mode": True}
    project.save()
    [paris] = say(project, "I live in Paris.", T0)
    [held] = say(project, "I moved to Berlin.", T0 + timedelta(days=3))
    memory_update(project=project, memory_id=paris["id"], text="User lives in Paris, France", actor_id="ui:olga")
    from memories.services import memory_supersede

    memory_supersede(project=project, memory_id=paris["id"], text="User lives in Rome")
    with pytest.raises(Conflict, match="no longer holds"):
        review.review_accept(project=project, trace_id=held["review_id"], actor_id="ui:olga")
    assert not Memory.objects.filter(memory="User moved to Berlin").exists()
    assert DecisionTrace.objects.get(pk=held["review_id"]).review_state == "pending"


# --- the web UI: pages, fragments and actions -------------------------------------------------


@pytest.fixture
def people(project, other_project, django_user_model):
    def person(name, project, role):
        user = django_user_model.objects.create_user(name)
        ProjectMember.objects.create(project=project, user=user, role=role)
        client = Client()
        client.force_login(user)
        return client

    return {
        "owner": person("olga", project, ProjectMember.Role.OWNER),
        "reader": person("rita", project, ProjectMember.Role.READER),
        "outsider": person("otto", other_project, ProjectMember.Role.OWNER),
    }


def test_the_queue_pages_and_fragments(project, moved, people):
    owner = people["owner"]
    page = owner.get(reverse("ui:review", args=[project.pk])).content.decode()
    assert "Review queue" in page and "2 pending changes" in page
    assert "User moved to Berlin" in page and "said by user on 9 February 2026" in page and "I moved to Berlin." in page
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    assert reverse("ui:review-action", args=[project.pk, trace.pk]) in page
    fragment = owner.get(reverse("ui:review", args=[project.pk]), {"state": "accepted"}, **HTMX).content.decode()
    assert fragment.startswith('<section id="review-list">') and "0 accepted changes" in fragment
    assert "<html" not in fragment
    user_page = owner.get(reverse("ui:user-review", args=[project.pk, "alice"])).content.decode()
    assert "Review queue of alice" in user_page and 'name="from" value="user"' in user_page
    assert owner.get(reverse("ui:user-review", args=[project.pk, "nobody"])).status_code == 404
    assert owner.get(reverse("ui:review", args=[project.pk]), {"state": "bogus"}).status_code == 200  # pending
    # The users and user pages link to the queue with the count waiting.
    assert reverse("ui:review", args=[project.pk]) in owner.get(reverse("ui:users", args=[project.pk])).content.decode()
    user = owner.get(reverse("ui:user", args=[project.pk, "alice"])).content.decode()
    assert reverse("ui:user-review", args=[project.pk, "alice"]) in user and 'class="count"' in user


def test_actions_from_the_ui(project, moved, people):
    owner = people["owner"]
    supersede = DecisionTrace.objects.get(decision="SUPERSEDE")
    url = reverse("ui:review-action", args=[project.pk, supersede.pk])
    response = owner.post(url, {"action": "reject"}, **HTMX)
    assert response.status_code == 200
    item = response.content.decode()
    assert item.startswith("<li") and "Rejected by ui:olga" in item and 'name="action"' not in item
    assert Memory.objects.get(pk=moved["paris"].pk).is_current

    again = owner.post(url, {"action": "accept"}, **HTMX)
    assert again.status_code == 409 and "rejected already" in again.content.decode()
    assert owner.post(url, {"action": "approve"}, **HTMX).status_code == 422

    add = DecisionTrace.objects.get(decision="ADD")
    add_url = reverse("ui:review-action", args=[project.pk, add.pk])
    bad = owner.post(add_url, {"action": "approve"}, **HTMX)
    assert bad.status_code == 422 and "action must be one of" in bad.content.decode()
    empty = owner.post(add_url, {"action": "edit", "text": ""}, **HTMX)
    assert empty.status_code == 422
    response = owner.post(add_url, {"action": "edit", "text": "User lived in Paris until January", "from": "user"})
    assert response.status_code == 302 and response["Location"] == reverse("ui:user-review", args=[project.pk, "alice"])
    assert Memory.objects.get(pk=moved["paris"].pk).memory == "User lived in Paris until January"
    response = owner.post(add_url, {"action": "accept"})  # no htmx, an error: a page with the item
    assert response.status_code == 409 and b"<html" in response.content
    missing = reverse("ui:review-action", args=[project.pk, "00000000-0000-0000-0000-000000000000"])
    assert owner.post(missing, {"action": "accept"}).status_code == 404


def test_a_reader_sees_the_queue_but_cannot_act(project, moved, people):
    reader = people["reader"]
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    url = reverse("ui:review-action", args=[project.pk, trace.pk])
    page = reader.get(reverse("ui:review", args=[project.pk])).content.decode()
    assert "User moved to Berlin" in page and "read only" in page
    assert url not in page and "<button" not in page.split('id="review-list"')[1]
    for data in ({"action": "accept"}, {"action": "reject"}, {"action": "edit", "text": "x"}):
        assert reader.post(url, data, **HTMX).status_code == 403
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "pending"
    assert Memory.objects.get(pk=moved["berlin"].pk).is_current


def test_outsiders_get_404_and_change_nothing(project, other_project, moved, people):
    outsider = people["outsider"]
    trace = DecisionTrace.objects.get(decision="SUPERSEDE")
    assert outsider.get(reverse("ui:review", args=[project.pk])).status_code == 404
    assert outsider.get(reverse("ui:user-review", args=[project.pk, "alice"])).status_code == 404
    assert (
        outsider.post(reverse("ui:review-action", args=[project.pk, trace.pk]), {"action": "reject"}).status_code == 404
    )
    # Through their own project's URL, another project's change is missing too.
    assert (
        outsider.post(reverse("ui:review-action", args=[other_project.pk, trace.pk]), {"action": "reject"}).status_code
        == 404
    )
    assert DecisionTrace.objects.get(pk=trace.pk).review_state == "pending"
    assert Memory.objects.get(pk=moved["berlin"].pk).is_current
    assert "User moved to Berlin" not in outsider.get(reverse("ui:review", args=[other_project.pk])).content.decode()


# --- the admin --------------------------------------------------------------------------------


def test_the_admin_queue_accepts_rejects_and_edits(project, moved, admin_client):
    changelist = admin_client.get("/admin/memories/decisiontrace/").content.decode()
    assert "User moved to Berlin" in changelist and "Waiting for review" in changelist
    supersede = DecisionTrace.objects.get(decision="SUPERSEDE")
    add = DecisionTrace.objects.get(decision="ADD")
    response = admin_client.post(
        "/admin/memories/decisiontrace/", {"action": "reject", "_selected_action": [str(supersede.pk)]}
    )
    assert response.status_code == 302
    assert Memory.objects.get(pk=moved["paris"].pk).is_current
    assert history(moved["berlin"].pk)[-1][-1] == "admin:admin"
    supersede.refresh_from_db()
    assert (supersede.review_state, supersede.reviewed_by) == ("rejected", "admin:admin")
    assert "User moved to Berlin" not in admin_client.get("/admin/memories/decisiontrace/").content.decode()
    assert "User moved to Berlin" in admin_client.get("/admin/memories/decisiontrace/?review=all").content.decode()

    page = admin_client.get(f"/admin/memories/decisiontrace/{add.pk}/change/").content.decode()
    assert "Corrected text" in page and "I live in Paris." in page
    response = admin_client.post(f"/admin/memories/decisiontrace/{add.pk}/change/", {"text": "User lives in Lyon"})
    assert response.status_code == 302
    assert Memory.objects.get(pk=moved["paris"].pk).memory == "User lives in Lyon"
    assert DecisionTrace.objects.get(pk=add.pk).review_state == "accepted"
    # Accepting what is reviewed already: an error message, nothing changes.
    response = admin_client.post(
        "/admin/memories/decisiontrace/?review=all",
        {"action": "accept", "_selected_action": [str(add.pk)]},
        follow=True,
    )
    assert "accepted already" in response.content.decode()


def test_the_queue_page_reads_a_fixed_number_of_queries(project, people, django_assert_max_num_queries):
    said = ["I work at Google.", "I love jazz.", "I have a dog named Rex.", "I live in Paris.", "I moved to Berlin."]
    for day, text in enumerate(said):
        say(project, text, T0 + timedelta(days=day))
    assert review_pending_count(project=project) == len(said)
    owner = people["owner"]
    with django_assert_max_num_queries(12):
        page = owner.get(reverse("ui:review", args=[project.pk])).content.decode()
    assert page.count('class="card review-item') == len(said)


def test_review_states_and_held_changes_travel_in_archives(project, tmp_path):
    import json

    from django.core.management import call_command

    from accounts.models import Project

    [paris] = say(project, "I live in Paris.", T0)
    review.review_accept(project=project, trace_id=trace_of(paris).pk, actor_id="ui:olga")
    project.options = {"review_mode": True}
    project.save()
    [held] = say(project, "I moved to Berlin.", T0 + timedelta(days=3))
    add_ingest(project=project, items=[NewMemory(text="User's locker is number 7", scope=Scope(user_id="alice"))])
    path = tmp_path / "a.jsonl"
    call_command("export_project", project.slug, output=str(path), no_progress=True)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    traces = {r["fact"]: r for r in records if r["kind"] == "trace"}
    assert traces["User lives in Paris"]["review_state"] == "accepted"
    assert traces["User moved to Berlin"]["held"]["text"] == "User moved to Berlin"

    call_command("import_project", str(path), project="copy", remap_ids=True, no_progress=True)
    copy = Project.objects.get(slug="copy")
    accepted = DecisionTrace.objects.get(project=copy, fact="User lives in Paris")
    assert (accepted.review_state, accepted.reviewed_by) == ("accepted", "ui:olga")
    waiting = DecisionTrace.objects.get(project=copy, fact="User moved to Berlin")
    assert waiting.is_held and waiting.review_state == "pending" and waiting.pk != held["review_id"]
    review.review_accept(project=copy, trace_id=waiting.pk, actor_id="ui:olga")
    assert Memory.objects.get(project=copy, memory="User moved to Berlin").is_current

    # An archive written before the review queue: inferred changes wait for review, verbatim ones do not.
    for record in records:
        for name in ("review_state", "reviewed_by", "reviewed_at", "held"):
            record.pop(name, None)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    call_command("import_project", str(path), project="older", remap_ids=True, no_progress=True)
    older = DecisionTrace.objects.filter(project__slug="older")
    assert sorted(older.values_list("review_state", flat=True)) == ["none", "pending", "pending"]
