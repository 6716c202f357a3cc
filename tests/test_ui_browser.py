"""The web UI in a real browser: Playwright for Python driving Debian's chromium against a live server.

Logs in, searches a user's memories as it types, edits a memory and watches the history grow, adds a
relationship, opens the graph and reads the node and edge counts from Cytoscape, and moves the time
slider back to see a superseded memory return and its successor go; clicks a node for its chain and
sources; rejects an inferred change in the review queue and reads the restored fact back over the
API; checks that a READER cannot act, and that the list, graph and queue fit a 375 px phone screen.
No page may log a JavaScript error or a console error. Screenshots of each page go to
``$MEM0G_SCREENSHOT_DIR`` (default: a temporary directory; ``docs/screenshots/`` holds copies).

Skipped, with the reason, only when no browser can be had (no ``playwright`` package or no
``/usr/bin/chromium``); ``make test`` installs chromium with apt when it can. Never downloads a browser.
"""

import json
import os
import shutil
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.models import ProjectMember
from graph.models import Relationship
from graph.services import relations_record, relationship_create
from memories.inputs import Scope
from memories.models import DecisionTrace, Memory, MemoryHistory
from memories.services import add_ingest, memory_supersede

CHROMIUM = os.environ.get("MEM0G_CHROMIUM", "/usr/bin/chromium")
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no browser: the playwright package is not installed (pip install -r requirements-test.txt)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium, or set MEM0G_CHROMIUM)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    directory = Path(os.environ.get("MEM0G_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def alice(project, add, django_user_model):
    """A person who may log in, and alice's memories: Porto superseded by Lisbon a month later."""
    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.OWNER)
    porto, tea, cat = add(
        project,
        "User lives in Porto",
        "User loves green tea",
        "User has a cat named Miso",
        user_id="alice",
        categories=["home"],
        now=T0,
        valid_from=T0,
    )
    moved = T0 + timedelta(days=30)
    lisbon = memory_supersede(
        project=project, memory_id=porto.pk, text="User lives in Lisbon", observed_at=moved, now=moved
    )
    relationship_create(project=project, source_id=cat.pk, target_id=tea.pk, relation="related_to", now=T0)
    add(project, "User plays padel on Tuesdays", "User is reading Middlemarch", user_id="alice", categories=["hobby"])
    return {"porto": porto, "tea": tea, "cat": cat, "lisbon": lisbon}


def guarded_page(chromium, live_server, *, width: int = 1280, height: int = 860):
    """A page of a new browser context, and the list its JavaScript and console errors go to."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return context, page, errors


@pytest.fixture
def page(chromium, live_server):
    context, page, errors = guarded_page(chromium, live_server)
    yield page
    context.close()
    assert errors == [], f"JavaScript or console errors: {errors}"


def log_in(page):
    page.goto("/ui/")
    assert "/ui/login/" in page.url
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "pw-pat-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/")


def tap(page, node_id):
    """Click a node the way Cytoscape sees a click (returning nothing: a collection does not serialise)."""
    page.evaluate("(id) => { window.memGraph.getElementById(id).emit('tap'); }", str(node_id))


def test_search_edit_and_link_in_the_browser(page, project, alice, shots):
    log_in(page)
    page.click("text=Default project")
    page.wait_for_selector("#user-rows >> text=alice")
    page.screenshot(path=shots / "users.png", full_page=True)
    page.click("#user-rows >> text=alice")
    page.wait_for_selector("#memory-list li.memory")
    assert page.locator("#memory-list li.memory").count() == 5

    page.fill("#memory-filters input[name=q]", "what does she drink?")
    page.wait_for_selector("#memory-count:has-text('best match')")
    assert "User loves green tea" in page.locator("#memory-list li.memory").first.inner_text()
    assert "q=what" in page.url  # the search is in the address bar
    page.screenshot(path=shots / "user.png", full_page=True)

    page.click("#memory-list li.memory >> nth=0 >> a.text")
    page.wait_for_selector("#memory-panel")
    assert page.locator("#history li").count() == 1
    page.click("#memory-panel .actions >> text=Edit")
    page.fill("#memory-panel textarea[name=text]", "User loves oolong tea")
    page.click("#memory-panel button:has-text('Save')")
    page.wait_for_selector("#history li >> nth=1")
    assert page.locator("#history li").count() == 2
    assert "oolong" in page.locator("#memory-panel h2").inner_text()
    assert MemoryHistory.objects.filter(memory_id=alice["tea"].pk, event="UPDATE", actor_id="ui:pat").exists()

    page.fill("#relationships input[name=q]", "where does she live")
    page.wait_for_selector("#targets li.target")
    target = page.locator("#targets li.target", has_text="User lives in Lisbon")
    target.locator("select[name=relation]").select_option("applies_to")
    target.locator("button:has-text('Link')").click()
    page.wait_for_selector("#relationships li.relationship:has-text('applies_to')")
    assert Relationship.objects.filter(source=alice["tea"], target=alice["lisbon"], relation="applies_to").exists()
    page.screenshot(path=shots / "memory.png", full_page=True)


def test_graph_counts_and_time_slider(page, project, alice, shots):
    log_in(page)
    page.goto(f"/ui/p/{project.pk}/u/alice/graph/")
    page.wait_for_selector("#graph[data-state=ready]")
    counts = page.evaluate("[window.memGraph.nodes().length, window.memGraph.edges().length]")
    assert counts == [5, 1]  # Porto is superseded; the one current edge is cat related_to tea
    assert page.locator("#graph-counts").inner_text() == "5 memories, 1 relationships"
    ids = set(page.evaluate("window.memGraph.nodes().map(n => n.id())"))
    assert str(alice["lisbon"].pk) in ids and str(alice["porto"].pk) not in ids

    tap(page, alice["lisbon"].pk)
    page.wait_for_selector("#memory-panel h2:has-text('User lives in Lisbon')")
    assert "Supersession chain" in page.locator("#memory-panel").inner_text()
    page.screenshot(path=shots / "graph.png", full_page=True)

    # Back to the start of alice's history: Porto held then, Lisbon did not yet.
    page.focus("#as-of")
    page.keyboard.press("Home")
    page.wait_for_selector("#graph[data-state=ready]:not([data-as-of=now])")
    ids = set(page.evaluate("window.memGraph.nodes().map(n => n.id())"))
    assert str(alice["porto"].pk) in ids and str(alice["lisbon"].pk) not in ids
    assert page.evaluate(f"window.memGraph.getElementById('{alice['porto'].pk}').hasClass('superseded')")
    assert page.locator("#as-of-label").inner_text().startswith("2026-01-10")

    page.select_option("#relation", "supersedes")
    page.focus("#as-of")
    page.keyboard.press("End")
    page.wait_for_selector("#graph[data-state=ready][data-as-of=now]")
    assert page.evaluate("window.memGraph.edges().length") == 0


def test_demo_data_in_the_browser(page, project, django_user_model, shots):
    """seed_demo's data set as a person sees it (these screenshots are the ones in docs/screenshots/)."""
    from django.core.management import call_command

    from memories.models import Memory

    django_user_model.objects.create_user("pat", password="pw-pat-123")
    call_command("seed_demo", users=2, memories=40, member="pat", stdout=open(os.devnull, "w"))  # noqa: SIM115
    demo = Memory.objects.filter(project__organization__slug="demo", user_id="alice")
    log_in(page)
    page.click("text=Demo")
    page.wait_for_selector("#user-rows >> text=alice")
    page.screenshot(path=shots / "demo-users.png", full_page=True)

    page.click("#user-rows >> text=alice")
    page.fill("#memory-filters input[name=q]", "where does alice live?")
    page.wait_for_selector("#memory-count:has-text('best match')")
    page.screenshot(path=shots / "demo-user.png", full_page=True)

    superseded = demo.filter(valid_to__isnull=False).order_by("valid_from").first()
    page.goto(f"/ui/p/{superseded.project_id}/m/{superseded.pk}/")
    page.wait_for_selector("#memory-panel .chain")
    page.screenshot(path=shots / "demo-memory.png", full_page=True)

    page.goto(f"/ui/p/{superseded.project_id}/u/alice/graph/")
    page.wait_for_selector("#graph[data-state=ready]")
    assert page.evaluate("window.memGraph.nodes('.memory').length") == demo.current().count()
    assert page.evaluate("window.memGraph.nodes('.entity').length") > 0  # seed_demo records the entities
    assert page.evaluate("window.memGraph.edges().length") > 0
    some = demo.current().order_by("-created_at").first()
    tap(page, some.pk)
    page.wait_for_selector("#memory-panel h2")
    page.screenshot(path=shots / "demo-graph.png", full_page=True)
    # Into the time the first superseded fact still held: it is back, faded, and its successor is gone.
    successor = Relationship.objects.get(target=superseded, relation="supersedes").source
    moment = superseded.valid_to - (superseded.valid_to - superseded.valid_from) / 2
    page.evaluate(
        "(ts) => { const s = document.getElementById('as-of'); s.value = ts; s.dispatchEvent(new Event('change')); }",
        int(moment.timestamp()),
    )
    page.wait_for_selector("#graph[data-state=ready]:not([data-as-of=now])")
    ids = set(page.evaluate("window.memGraph.nodes().map(n => n.id())"))
    assert str(superseded.pk) in ids and str(successor.pk) not in ids
    assert page.evaluate("window.memGraph.nodes().filter('.superseded').length") > 0
    assert not page.locator("#graph-changes").is_hidden()
    page.screenshot(path=shots / "demo-graph-past.png", full_page=True)

    # What alice said in a chat since: the server's inferences wait in her review queue.
    for days, text in ((3, "I love green tea."), (2, "I moved to Tbilisi."), (1, "I work at the Tbilisi zoo now.")):
        said = datetime.now(UTC) - timedelta(days=days)
        message = {"role": "user", "content": text, "name": "Alice"}
        add_ingest(project=superseded.project, messages=[message], scope=Scope(user_id="alice"), observed_at=said)
    page.goto(f"/ui/p/{superseded.project_id}/u/alice/review/")
    page.wait_for_selector("#review-list li.review-item")
    assert page.locator("#review-list li.review-item").count() == 3
    page.locator("#review-list li.review-item details.trace").nth(1).evaluate("(d) => { d.open = true; }")
    page.screenshot(path=shots / "demo-review.png", full_page=True)


# Every visible label's box (model coordinates) against every other: how many pairs overlap.
OVERLAPS = """() => {
  const boxes = window.memGraph.nodes().not('.label-hidden').map(
    (n) => n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true }));
  let overlaps = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.w && b.w && a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
  }
  return [boxes.length, overlaps];
}"""


def test_graph_hubs_filters_search_and_changes(page, project, alice, add, shots):
    """Entities as hubs, labels that never overlap, the entity filter, search highlighting, the
    changes the slider reports in both directions, the timeline strip and the chain with dates."""
    tom, padel = add(
        project,
        "User's friend Tom lives in Lisbon",
        "Tom plays padel",
        user_id="alice",
        categories=["friends"],
        now=T0 + timedelta(days=40),
        valid_from=T0 + timedelta(days=40),
    )
    memories = [*alice.values(), tom, padel, *Memory.objects.filter(memory__contains="padel on Tuesdays")]
    relations_record(project=project, memories=memories, enable_graph=True)
    log_in(page)
    page.goto(f"/ui/p/{project.pk}/u/alice/graph/")
    page.wait_for_selector("#graph[data-state=ready]")
    hubs = set(page.evaluate("window.memGraph.nodes('.entity').map(n => n.data('name'))"))
    assert {"tom", "lisbon", "padel"} <= hubs and "porto" not in hubs  # Porto: one current memory names it
    assert page.evaluate("window.memGraph.edges('[relation = \"mentions\"]').length") >= 6
    shown, overlaps = page.evaluate(OVERLAPS)
    assert shown >= 6 and overlaps == 0
    assert "entities" in page.locator("#graph-counts").inner_text()
    assert int(page.get_attribute("#graph", "data-marks")) > 0 and page.locator("#timeline .mark").count() > 0
    page.screenshot(path=shots / "graph-hubs.png", full_page=True)

    page.fill("#graph-search", "padel")
    page.wait_for_selector("#graph[data-hits='3']")  # two memories and the padel hub
    assert page.evaluate(f"window.memGraph.getElementById('{alice['cat'].pk}').hasClass('dim')")
    assert not page.evaluate("window.memGraph.getElementById('entity:tom').hasClass('dim')")  # a neighbour
    assert page.evaluate(OVERLAPS)[1] == 0
    page.fill("#graph-search", "")
    page.wait_for_selector("#graph[data-hits='']")

    page.select_option("#entity", "lisbon")
    page.wait_for_selector("#graph[data-state=ready]")
    ids = set(page.evaluate("window.memGraph.nodes('.memory').map(n => n.id())"))
    assert ids == {str(alice["lisbon"].pk), str(tom.pk)}
    tap(page, "entity:lisbon")
    page.wait_for_selector("#memory-panel.entity-panel")
    assert "Named by 2" in page.locator("#memory-panel").inner_text()
    page.select_option("#entity", "")
    page.wait_for_selector("#graph[data-state=ready]")

    # Back to the start: the move to Lisbon and Tom's arrival are undone, Porto is back (ringed).
    page.focus("#as-of")
    page.keyboard.press("Home")
    page.wait_for_selector("#graph[data-state=ready]:not([data-as-of=now])")
    changes = page.locator("#graph-changes").inner_text()
    assert "undone" in changes and "User lives in Porto" in changes
    assert page.evaluate(f"window.memGraph.getElementById('{alice['porto'].pk}').hasClass('fresh')")
    # Forward to now: Porto superseded by Lisbon, and Lisbon ringed as new.
    page.keyboard.press("End")
    page.wait_for_selector("#graph[data-state=ready][data-as-of=now]")
    superseded = page.locator("#graph-changes li.change.superseded").first.inner_text()
    assert "“User lives in Porto” by “User lives in Lisbon”" in superseded and "2026-02-09" in superseded
    assert page.evaluate(f"window.memGraph.getElementById('{alice['lisbon'].pk}').hasClass('fresh')")
    page.screenshot(path=shots / "graph-changes.png", full_page=True)

    # A click at the strip's left end goes back in time too.
    page.click("#timeline", position={"x": 2, "y": 10})
    page.wait_for_selector("#graph[data-state=ready]:not([data-as-of=now])")
    assert str(alice["porto"].pk) in page.evaluate("window.memGraph.nodes().map(n => n.id())")

    tap(page, alice["porto"].pk)
    page.wait_for_selector("#memory-panel .chain")
    chain = page.locator("#memory-panel .chain").inner_text()
    assert "User lives in Porto" in chain and "User lives in Lisbon" in chain and "2026-01-10 → 2026-02-09" in chain


def test_a_thousand_memories_draw(page, project, django_user_model):
    """A user with 1,000 memories, 300 links and 60 entities: everything is drawn. The time it takes
    is printed (see docs/BENCHMARKS.md), never asserted."""
    from graph.models import EntityRelation
    from memories.models import Memory, memory_hash

    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.READER)
    rows = []
    for n in range(1000):
        text = f"Heavy fact number {n} about topic {n % 60}"
        moment = T0 + timedelta(hours=n)
        rows.append(
            Memory(
                project=project, user_id="heavy", memory=text, hash=memory_hash(text), categories=[f"c{n % 7}"],
                agent_id="coach" if n % 5 == 0 else None, valid_from=moment, created_at=moment,
            )
        )  # fmt: skip
    Memory.objects.bulk_create(rows)
    Relationship.objects.bulk_create(
        Relationship(project=project, source=rows[n], target=rows[(n * 7 + 3) % 1000], relation="related_to")
        for n in range(300)
    )
    EntityRelation.objects.bulk_create(
        EntityRelation(
            project=project, memory=row, user_id="heavy", source="heavy", relationship=f"about_{n // 60}",
            destination=f"topic_{n % 60}", valid_from=row.valid_from,
        )
        for n, row in enumerate(rows)
        if n < 900
    )  # fmt: skip
    log_in(page)
    page.goto(f"/ui/p/{project.pk}/u/heavy/graph/")
    page.wait_for_selector("#graph[data-state=ready]", timeout=60_000)
    assert page.evaluate("window.memGraph.nodes('.memory').length") == 1000
    assert page.evaluate("window.memGraph.nodes('.entity').length") == 60
    assert page.evaluate(OVERLAPS)[1] == 0
    timings = page.evaluate("Object.assign({}, document.getElementById('graph').dataset)")
    print(
        "\n1,000 memories: first drawing {firstReadyMs} ms after navigation start; fetch {fetchMs} ms, "
        "fetch+layout+labels {drawMs} ms (add {addMs} ms, layout {layoutMs} ms, labels {declutterMs} ms, "
        "{labelsHidden} hidden)".format(**timings)
    )


def api_call(live_server, key: str, method: str, path: str, body: dict | None = None):
    """The API over HTTP, as an app would call it."""
    request = urllib.request.Request(
        live_server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def conversation(project):
    """alice told the server where she lives, then that she moved: an inferred supersession (with the
    messages kept as its sources), and a fact she likes."""
    said = [
        (T0, "I live in Porto."),
        (T0 + timedelta(days=2), "I love green tea."),
        (T0 + timedelta(days=30), "I moved to Lisbon."),
    ]
    for when, text in said:
        add_ingest(
            project=project,
            messages=[{"role": "user", "content": text, "name": "Alice"}],
            scope=Scope(user_id="alice"),
            observed_at=when,
        )
    return {
        "porto": Memory.objects.get(memory="Alice lives in Porto"),
        "lisbon": Memory.objects.get(memory="Alice moved to Lisbon"),
        "move": DecisionTrace.objects.get(decision="SUPERSEDE"),
    }


def make_person(django_user_model, project, role):
    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=role)
    return person


def test_a_node_shows_its_chain_and_sources_and_reject_restores_the_old_fact(
    page, project, conversation, django_user_model, make_key, live_server, shots
):
    make_person(django_user_model, project, ProjectMember.Role.OWNER)
    porto, lisbon = conversation["porto"], conversation["lisbon"]
    log_in(page)
    page.goto(f"/ui/p/{project.pk}/u/alice/graph/")
    page.wait_for_selector("#graph[data-state=ready]")
    tap(page, lisbon.pk)
    page.wait_for_selector("#memory-panel .chain")
    chain = page.locator("#memory-panel .chain").inner_text()
    assert "Alice lives in Porto" in chain and "Alice moved to Lisbon" in chain and "2026-01-10 → 2026-02-09" in chain
    sources = page.locator("#memory-panel #sources").inner_text()
    assert "said by Alice on 9 February 2026" in sources and "I moved to Lisbon." in sources

    page.goto(f"/ui/p/{project.pk}/u/alice/review/")
    page.wait_for_selector("#review-list li.review-item")
    assert page.locator("#review-list li.review-item").count() == 3
    page.screenshot(path=shots / "review.png", full_page=True)
    move = page.locator(f"#r-{conversation['move'].pk}")
    assert "replaced by" in move.inner_text()
    move.locator("summary:has-text('Why')").click()
    assert "I moved to Lisbon." in move.locator("details.trace").inner_text()
    move.locator("button[value=reject]").click()
    page.wait_for_selector(f"#r-{conversation['move'].pk}.review-rejected")
    assert "Rejected by ui:pat" in page.locator(f"#r-{conversation['move'].pk}").inner_text()

    # The API serves Porto as current again; Lisbon is gone from every current read.
    key = make_key(project)
    got = api_call(live_server, key, "GET", f"/v1/memories/{porto.pk}/")
    assert got["memory"] == "Alice lives in Porto" and got["valid_to"] is None
    found = api_call(
        live_server,
        key,
        "POST",
        "/v3/memories/search/",
        {"query": "Where does alice live?", "filters": {"user_id": "alice"}, "latest_only": True},
    )["results"]
    texts = [item["memory"] for item in found]
    assert "Alice lives in Porto" in texts and "Alice moved to Lisbon" not in texts
    rows = MemoryHistory.objects.filter(trace=conversation["move"], actor_id="ui:pat")
    assert sorted(rows.values_list("event", flat=True)) == ["DELETE", "UPDATE"]


def test_a_reader_sees_the_queue_but_cannot_act(page, project, conversation, django_user_model):
    make_person(django_user_model, project, ProjectMember.Role.READER)
    log_in(page)
    page.goto(f"/ui/p/{project.pk}/review/")
    page.wait_for_selector("#review-list li.review-item")
    assert page.locator("#review-list li.review-item").count() == 3
    assert page.locator("#review-list button").count() == 0 and page.locator("#review-list form").count() == 0
    assert "read only" in page.locator("main").inner_text().lower()
    # Posting anyway (with a valid CSRF token): 403, and nothing changes.
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    response = page.context.request.post(
        f"/ui/p/{project.pk}/t/{conversation['move'].pk}/review/",
        form={"action": "reject"},
        headers={"X-CSRFToken": token},
    )
    # The role's refusal, not a CSRF failure (the page itself carries the token in its hx-headers).
    assert response.status == 403 and "You may read this project but not change it" in response.text()
    assert DecisionTrace.objects.get(pk=conversation["move"].pk).review_state == "pending"
    assert Memory.objects.get(pk=conversation["lisbon"].pk).is_current


def test_the_list_graph_and_queue_fit_a_phone(chromium, live_server, project, conversation, django_user_model, shots):
    """375 px wide: no page scrolls sideways; keyboard focus is visible."""
    make_person(django_user_model, project, ProjectMember.Role.OWNER)
    context, page, errors = guarded_page(chromium, live_server, width=375, height=740)
    try:
        log_in(page)
        widths = {}
        for name, path, ready in (
            ("list", f"/ui/p/{project.pk}/u/alice/", "#memory-list li.memory"),
            ("users", f"/ui/p/{project.pk}/", "#user-rows"),
            ("graph", f"/ui/p/{project.pk}/u/alice/graph/", "#graph[data-state=ready]"),
            ("queue", f"/ui/p/{project.pk}/review/", "#review-list li.review-item"),
            ("memory", f"/ui/p/{project.pk}/m/{conversation['lisbon'].pk}/", "#memory-panel"),
        ):
            page.goto(path)
            page.wait_for_selector(ready)
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=shots / f"phone-{name}.png", full_page=True)
        assert all(width <= 375 for width in widths.values()), widths
        # Tab to the first control: it shows an outline.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        outline = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; })()"
        )
        assert outline[0] != "none" and outline[1] != "0px", outline
    finally:
        context.close()
    assert errors == [], f"JavaScript or console errors: {errors}"
