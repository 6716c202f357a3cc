"""User preferences: store, list, search, edit and change a user's preferences in mem0g with the
official Mem0 SDK (``MemoryClient``).

1. store categorised preferences (``add`` with ``categories``; mem0g extracts the facts),
2. list them by category, and one category alone (``get_all`` with ``filters``),
3. search them (``search``),
4. edit one and read its history (``update``, ``history``),
5. change one: mem0g sees that the new preference supersedes the old one; the old one is closed,
   not deleted, and is what ``get_all``/``search`` return ``as_of`` a moment before the change.
   ``as_of`` (passed through by the SDK) and the timeline route (called with httpx, the SDK has no
   method for it) are mem0g's extensions.

The preferences are stored with ``timestamp``, the moment the user said them (Unix seconds, as on
Mem0's platform): mem0g keeps that as the time each fact started to hold.

Run it (with mem0g serving on port 8000, see README.md):

    MEM0G_API_KEY=mem0_... python examples/user_preferences.py [--user-id pref-demo]

It starts by deleting what an earlier run left for that user, so it can be run again.
"""

import argparse
import os
import sys
from collections import defaultdict
from datetime import UTC, datetime

# The SDK reports usage to Mem0 unless told not to; a self-hosted setup has no reason to.
os.environ.setdefault("MEM0_TELEMETRY", "false")

try:
    import httpx
    from mem0 import MemoryClient
except ModuleNotFoundError as missing:  # examples/README.md, Setup
    sys.exit(f"{missing}. Install what the examples need first: .venv/bin/pip install -r examples/requirements.txt")

PREFERENCES = [
    ("food", "I am vegetarian and I love spicy food."),
    ("travel", "I prefer window seats on flights."),
    ("communication", "I prefer emails over phone calls."),
    ("tools", "My favourite editor is Vim."),
]
SEARCH = "Where do I like to sit on a plane?"
EDIT = "User prefers window seats on short flights and aisle seats on long ones"
CHANGE = ("tools", "My favourite editor is Emacs.")
SAID_ON = datetime(2025, 1, 10, tzinfo=UTC)  # when the user told us their preferences
CHANGED_ON = datetime(2025, 9, 1, tzinfo=UTC)  # when they told us about the change
LOOK_BACK = datetime(2025, 6, 1, tzinfo=UTC)  # a moment in between


def day(moment: str | None) -> str:
    return moment[:10] if moment else "now"


def run(client: MemoryClient, http: httpx.Client, user_id: str, say=print) -> dict:
    """The whole flow; prints as it goes and returns what it saw (for the tests). ``http`` is an
    httpx client for mem0g's own routes (base URL and key set)."""
    seen: dict = {}
    client.delete_all(user_id=user_id)

    say(f"== 1. Store categorised preferences (said on {SAID_ON.date()})")
    stored = {}
    for category, text in PREFERENCES:
        added = client.add(text, user_id=user_id, categories=[category], timestamp=int(SAID_ON.timestamp()))
        added = added["results"]
        stored[category] = added
        say(f"  [{category}] {text!r} -> " + ", ".join(f"{r['event']} {r['memory']!r}" for r in added))
    seen["stored"] = stored

    say("")
    say("== 2. List them by category")
    listed = client.get_all(filters={"user_id": user_id}, page=1, page_size=100)
    by_category = defaultdict(list)
    for memory in listed["results"]:
        for category in memory["categories"] or ["(none)"]:
            by_category[category].append(memory["memory"])
    for category in sorted(by_category):
        say(f"  {category}: " + "; ".join(sorted(by_category[category])))
    seen["by_category"] = {category: sorted(texts) for category, texts in by_category.items()}

    say("")
    say("== 3. One category: filters={'user_id': ..., 'categories': {'in': ['travel']}}")
    travel = client.get_all(filters={"user_id": user_id, "categories": {"in": ["travel"]}})
    for memory in travel["results"]:
        say(f"  {memory['memory']}")
    seen["travel"] = [memory["memory"] for memory in travel["results"]]

    say("")
    say(f"== 4. Search {SEARCH!r}")
    found = client.search(SEARCH, filters={"user_id": user_id}, top_k=3)["results"]
    for memory in found:
        say(f"  {memory['score']:.2f}  {memory['memory']}")
    seen["found"] = [memory["memory"] for memory in found]

    say("")
    say("== 5. Edit one and read its history")
    seat = stored["travel"][0]["id"]
    client.update(seat, text=EDIT)
    say(f"  now: {client.get(seat)['memory']}")
    history = client.history(seat)
    for row in history:
        change = f"{row['old_memory']!r} -> {row['new_memory']!r}" if row["old_memory"] else repr(row["new_memory"])
        say(f"  {row['event']:<6} {row['created_at']}  {change}")
    seen["history"] = [(row["event"], row["old_memory"], row["new_memory"]) for row in history]

    category, text = CHANGE
    say("")
    say(f"== 6. Change a preference (said on {CHANGED_ON.date()}): {text!r}")
    changed = client.add(text, user_id=user_id, categories=[category], timestamp=int(CHANGED_ON.timestamp()))
    changed = changed["results"]
    for result in changed:
        replaced = f" (supersedes {result['previous_memory']!r})" if result["event"] == "SUPERSEDE" else ""
        say(f"  {result['event']} {result['memory']!r}{replaced}")
    tools = {"user_id": user_id, "categories": {"in": [category]}}
    # latest_only: what holds now; without it Mem0's reads also return superseded memories, marked.
    now = [memory["memory"] for memory in client.get_all(filters=tools, latest_only=True)["results"]]
    # as_of is mem0g's: the SDK sends keyword arguments it does not know in the request body.
    then = [memory["memory"] for memory in client.get_all(filters=tools, as_of=LOOK_BACK.isoformat())["results"]]
    question = "What is my favourite editor?"
    found_now = client.search(question, filters={"user_id": user_id}, top_k=1, latest_only=True)["results"]
    found_then = client.search(question, filters={"user_id": user_id}, top_k=1, as_of=LOOK_BACK.isoformat())
    found_then = found_then["results"]
    say(f"  {category}, now:{'':<14}{'; '.join(now)}")
    say(f"  {category}, as of {LOOK_BACK.date()}: {'; '.join(then)}")
    say(f"  search {question!r}: now {found_now[0]['memory']!r}, as of {LOOK_BACK.date()} {found_then[0]['memory']!r}")
    # The supersession chain, from mem0g's timeline route (not in the SDK).
    timeline = http.get(f"/v1/memories/{changed[0]['id']}/timeline")
    timeline.raise_for_status()
    chain = timeline.json()["chain"]
    say("  timeline (GET /v1/memories/{id}/timeline):")
    for link in chain:
        say(f"    {link['position']:>2}  {day(link['valid_from'])} -> {day(link['valid_to']):<10}  {link['memory']}")
    seen.update(
        changed=changed,
        now=now,
        then=then,
        found_now=[memory["memory"] for memory in found_now],
        found_then=[memory["memory"] for memory in found_then],
        chain=[(link["position"], link["memory"], day(link["valid_from"]), day(link["valid_to"])) for link in chain],
    )
    return seen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user-id", default="pref-demo", help="whose preferences (default: pref-demo)")
    args = parser.parse_args(argv)
    host = os.environ.get("MEM0G_URL", "http://127.0.0.1:8000").rstrip("/")
    api_key = os.environ.get("MEM0G_API_KEY")
    client = MemoryClient(api_key=api_key, host=host)
    with httpx.Client(base_url=host, headers={"Authorization": f"Token {api_key}"}, timeout=60) as http:
        run(client, http, args.user_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
