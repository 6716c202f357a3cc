"""User preferences: store, list, search, edit and change a user's preferences in mem0g with the
official Mem0 SDK (``MemoryClient``).

1. store categorised preferences (``add`` with ``categories``; mem0g extracts the facts),
2. list them by category, and one category alone (``get_all`` with ``filters``),
3. search them (``search``),
4. edit one and read its history (``update``, ``history``),
5. change one: the new preference supersedes the old one, which stays on record and is still
   what ``get_all``/``search`` return ``as_of`` a moment before the change (our extension).

Run it (with mem0g serving on port 8000, see README.md):

    MEM0G_API_KEY=mem0_... python examples/user_preferences.py [--user-id pref-demo]

It starts by deleting what an earlier run left for that user, so it can be run again.
"""

import argparse
import os
import sys
from collections import defaultdict

# The SDK reports usage to Mem0 unless told not to; a self-hosted setup has no reason to.
os.environ.setdefault("MEM0_TELEMETRY", "false")

from mem0 import MemoryClient  # noqa: E402

PREFERENCES = [
    ("food", "I am vegetarian and I love spicy food."),
    ("travel", "I prefer window seats on flights."),
    ("communication", "I prefer emails over phone calls."),
    ("tools", "My favourite editor is Vim."),
]
SEARCH = "Where do I like to sit on a plane?"
EDIT = "User prefers window seats on short flights and aisle seats on long ones"
CHANGE = ("tools", "My favourite editor is Emacs now.")


def run(client: MemoryClient, user_id: str, say=print) -> dict:
    """The whole flow; prints as it goes and returns what it saw (for the tests)."""
    seen: dict = {}
    client.delete_all(user_id=user_id)

    say("== 1. Store categorised preferences")
    stored = {}
    for category, text in PREFERENCES:
        added = client.add(text, user_id=user_id, categories=[category])["results"]
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
    say(f"== 6. Change a preference: {text!r}")
    old = client.get(stored[category][0]["id"])
    changed = client.add(text, user_id=user_id, categories=[category])["results"]
    for result in changed:
        say(f"  {result['event']} {result['memory']!r}")
    tools = {"user_id": user_id, "categories": {"in": [category]}}
    now = [memory["memory"] for memory in client.get_all(filters=tools)["results"]]
    # as_of is mem0g's extension: the SDK passes unknown keyword arguments through in the body.
    then = [memory["memory"] for memory in client.get_all(filters=tools, as_of=old["valid_from"])["results"]]
    then_found = client.search("favourite editor", filters={"user_id": user_id}, top_k=1, as_of=old["valid_from"])
    say(f"  {category} now:{'':<20}{'; '.join(now)}")
    say(f"  {category} as of {old['valid_from']}: {'; '.join(then)}")
    say(f"  search 'favourite editor' as of then: {then_found['results'][0]['memory']!r}")
    old_after = client.get(old["id"])
    say(
        f"  the old memory is kept: {old_after['memory']!r}, valid {old_after['valid_from']} -> {old_after['valid_to']}"
    )
    seen.update(
        changed=changed,
        now=now,
        then=then,
        then_found=[memory["memory"] for memory in then_found["results"]],
        old=old_after,
    )
    return seen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user-id", default="pref-demo", help="whose preferences (default: pref-demo)")
    args = parser.parse_args(argv)
    client = MemoryClient(
        api_key=os.environ.get("MEM0G_API_KEY"), host=os.environ.get("MEM0G_URL", "http://127.0.0.1:8000")
    )
    run(client, args.user_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
