"""The web UI in a real browser: Playwright for Python driving Debian's chromium against a live server.

Logs in, searches a user's memories as it types, edits a memory and watches the history grow, adds a
relationship, opens the graph and reads the node and edge counts from Cytoscape, and moves the time
slider back to see a superseded memory return and its successor go. Screenshots of each page go to
``$MEM0G_SCREENSHOT_DIR`` (default: a temporary directory; ``docs/screenshots/`` holds copies).

Skipped, with the reason, only when no browser can be had (no ``playwright`` package or no
``/usr/bin/chromium``); ``make test`` installs chromium with apt when it can. Never downloads a browser.
"""

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.models import ProjectMember
from graph.models import Relationship
from graph.services import relationship_create
from memories.models import MemoryHistory
from memories.services import memory_supersede

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


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def log_in(page):
    page.goto("/ui/")
    assert "/ui/login/" in page.url
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "pw-pat-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/")


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

    page.evaluate(f"window.memGraph.getElementById('{alice['lisbon'].pk}').emit('tap')")
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
    assert page.evaluate("window.memGraph.nodes().length") == demo.current().count()
    assert page.evaluate("window.memGraph.edges().length") > 0
    some = demo.current().order_by("-created_at").first()
    page.evaluate(f"window.memGraph.getElementById('{some.pk}').emit('tap')")
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
    page.screenshot(path=shots / "demo-graph-past.png", full_page=True)
