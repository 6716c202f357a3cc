"""Memory analytics: a command-line report on a mem0g project, and a PNG chart of it.

What the key's project holds now: its users, memories per user, agent and category, how the
memories grew day by day, and the most linked memories. The memories come through the official
Mem0 SDK (``users``, ``get_all``); the links come from mem0g's graph route
``GET /v1/memories/graph?user_id=...``, which the SDK does not know, so it is called with httpx
and the same key.

Run it (with mem0g serving on port 8000, see README.md):

    MEM0G_API_KEY=mem0_... python examples/memory_analytics.py [--chart memory_analytics.png]
"""

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

# The SDK reports usage to Mem0 unless told not to; a self-hosted setup has no reason to.
os.environ.setdefault("MEM0_TELEMETRY", "false")

try:
    import httpx
    from mem0 import MemoryClient
except ModuleNotFoundError as missing:  # examples/README.md, Setup
    sys.exit(f"{missing}. Install what the examples need first: .venv/bin/pip install -r examples/requirements.txt")

PAGE_SIZE = 200  # mem0g's largest page
GRAPH_LIMIT = 1000  # the graph route's largest limit
# get_all needs filters naming an entity: "any user, agent, app or run" is every memory.
EVERY_MEMORY = {"OR": [{"user_id": "*"}, {"agent_id": "*"}, {"app_id": "*"}, {"run_id": "*"}]}


@dataclass
class Report:
    total: int = 0
    users: list[str] = field(default_factory=list)
    per_user: Counter = field(default_factory=Counter)
    per_agent: Counter = field(default_factory=Counter)
    per_category: Counter = field(default_factory=Counter)
    growth: list[tuple[date, int, int]] = field(default_factory=list)  # (day, added that day, total by then)
    most_linked: list[tuple[int, str, str]] = field(default_factory=list)  # (links, memory id, text)


def all_memories(client: MemoryClient) -> list[dict]:
    """Every current memory of the project, page by page."""
    memories, page = [], 1
    while True:
        # latest_only: the memories that hold now (without it, superseded ones come too, marked).
        batch = client.get_all(filters=EVERY_MEMORY, page=page, page_size=PAGE_SIZE, latest_only=True)
        memories += batch["results"]
        if not batch["next"]:
            return memories
        page += 1


def link_counts(http: httpx.Client, user_id: str) -> tuple[Counter, dict[str, str]]:
    """How many relationships touch each of the user's memories (and their texts)."""
    response = http.get("/v1/memories/graph", params={"user_id": user_id, "limit": GRAPH_LIMIT})
    if response.status_code == 404:  # no current memories left
        return Counter(), {}
    response.raise_for_status()
    graph = response.json()
    links = Counter()
    for edge in graph["edges"]:
        links[edge["source"]] += 1
        links[edge["target"]] += 1
    return links, {node["id"]: node["memory"] for node in graph["nodes"]}


def build_report(client: MemoryClient, http: httpx.Client, *, top: int = 5) -> Report:
    report = Report()
    entities = client.users()["results"]
    report.users = sorted(entity["name"] for entity in entities if entity["type"] == "user")
    memories = all_memories(client)
    report.total = len(memories)
    for memory in memories:
        report.per_user[memory["user_id"] or "(no user)"] += 1
        report.per_agent[memory["agent_id"] or "(no agent)"] += 1
        for category in memory["categories"] or ["(none)"]:
            report.per_category[category] += 1
    days = Counter(datetime.fromisoformat(memory["created_at"].replace("Z", "+00:00")).date() for memory in memories)
    running = 0
    for day in sorted(days):
        running += days[day]
        report.growth.append((day, days[day], running))
    links, texts = Counter(), {}
    for user_id in report.users:
        user_links, user_texts = link_counts(http, user_id)
        links.update(user_links)
        texts.update(user_texts)
    report.most_linked = [(count, memory_id, texts[memory_id]) for memory_id, count in links.most_common(top)]
    return report


def render(report: Report) -> str:
    def table(title: str, counts: Counter) -> list[str]:
        rows = [f"{title}:"]
        rows += [f"  {name:<28} {count:>6}" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return rows

    lines = [f"Memories: {report.total}", f"Users: {len(report.users)} ({', '.join(report.users)})", ""]
    lines += table("Memories per user", report.per_user) + [""]
    lines += table("Memories per agent", report.per_agent) + [""]
    lines += table("Memories per category", report.per_category) + [""]
    lines += ["Growth (day, added, total):"]
    lines += [f"  {day.isoformat()}  {added:>6} {running:>6}" for day, added, running in report.growth] + [""]
    lines += ["Most linked memories (links, text):"]
    lines += [f"  {count:>3}  {text}  [{memory_id}]" for count, memory_id, text in report.most_linked] or ["  (none)"]
    return "\n".join(lines)


def write_chart(report: Report, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, ((growth, users), (categories, linked)) = plt.subplots(2, 2, figsize=(12, 8))
    figure.suptitle(f"mem0g project: {report.total} memories, {len(report.users)} users")
    days = [day for day, _, _ in report.growth]
    growth.bar(days, [added for _, added, _ in report.growth], color="tab:gray", alpha=0.5, label="added that day")
    growth.plot(days, [total for _, _, total in report.growth], marker="o", label="total")
    if len(days) == 1:
        growth.set_xlim(days[0] - timedelta(days=2), days[0] + timedelta(days=2))
    span = max((days[-1] - days[0]).days, 4) if days else 4
    growth.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, span // 6)))
    growth.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    growth.tick_params(axis="x", labelrotation=30)
    growth.set_title("Memories over time")
    growth.legend(loc="upper left")
    for axis, counts, title in (
        (users, report.per_user, "Per user"),
        (categories, report.per_category, "Per category"),
    ):
        names = sorted(counts, key=lambda name: -counts[name])[:10]
        axis.barh(names[::-1], [counts[name] for name in names][::-1])
        axis.set_title(title)
    labels = [text if len(text) <= 40 else text[:39] + "…" for _, _, text in report.most_linked]
    linked.barh(labels[::-1], [count for count, _, _ in report.most_linked][::-1], color="tab:orange")
    linked.set_title("Most linked memories")
    if not report.most_linked:
        linked.text(0.5, 0.5, "no relationships yet", ha="center", va="center", transform=linked.transAxes)
    growth.yaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in (users, categories, linked):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", type=Path, default=Path("memory_analytics.png"), help="where to write the PNG")
    parser.add_argument("--top", type=int, default=5, help="how many of the most linked memories")
    args = parser.parse_args(argv)
    host = os.environ.get("MEM0G_URL", "http://127.0.0.1:8000").rstrip("/")
    api_key = os.environ.get("MEM0G_API_KEY")
    client = MemoryClient(api_key=api_key, host=host)
    with httpx.Client(base_url=host, headers={"Authorization": f"Token {api_key}"}, timeout=60) as http:
        report = build_report(client, http, top=args.top)
    print(render(report))
    print(f"\nChart: {write_chart(report, args.chart)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
