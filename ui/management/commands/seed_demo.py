"""``python manage.py seed_demo``: a small, realistic data set to look at in the web UI and admin.

A "Demo" project (organisation "Demo") with a few users and a few hundred memories spread over the
last six months: everyday facts in several categories, facts that changed (the old one superseded by
the new one at the time it changed, through ``memories.services.memory_supersede``) and
relationships between memories. Everything is written through the services, with the clock set to
when each thing happened, so the history, validity and the graph's time slider all make sense.
The same ``--seed`` gives the same data.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Membership, Organization, ProjectMember
from accounts.services import project_get_or_create
from graph.services import relations_record, relationship_create
from mem0g_site.exceptions import ApplicationError
from memories import services
from memories.inputs import NewMemory, Scope
from memories.models import Memory

USERS = ("alice", "bob", "carol", "dan")
AGENTS = (None, None, "concierge", "coach")

POOLS: dict[str, list[str]] = {
    "food": [
        "Likes {dish}",
        "Does not eat {avoid}",
        "Orders {drink} in the morning",
        "Cooks {dish} on Sundays",
        "Wants to try the {cuisine} place near work",
    ],
    "travel": [
        "Visited {city} in {month}",
        "Wants to visit {city} next year",
        "Prefers window seats on long flights",
        "Has a frequent-flyer card with {airline}",
        "Is planning a trip to {city} with friends",
    ],
    "work": [
        "Is working on the {proj} project",
        "Met {person} about the {proj} budget",
        "Presents the {proj} results every {weekday}",
        "Uses {tool} for notes",
        "Is mentoring a junior colleague on {topic}",
    ],
    "health": [
        "Is allergic to {allergen}",
        "Goes running on {weekday} mornings",
        "Sleeps about {hours} hours a night",
        "Takes vitamin D in winter",
        "Had a physiotherapy session for a sore {body}",
    ],
    "hobbies": [
        "Plays {sport} on {weekday}s",
        "Is reading {book}",
        "Is learning to play the {instrument}",
        "Collects {collect}",
        "Watched {film} and loved it",
    ],
    "family": [
        "Has a sister named {name}",
        "Has a dog named {pet}",
        "Calls their parents every {weekday}",
        "Has a nephew, {name}, who turns {age} soon",
        "Is organising a family dinner for {occasion}",
    ],
}
WORDS = {
    "dish": ["ramen", "bacalhau", "shakshuka", "pad thai", "risotto", "tacos", "dal", "paella", "pho", "gnocchi"],
    "avoid": ["pork", "shellfish", "mushrooms", "coriander", "red meat"],
    "drink": ["a flat white", "green tea", "an espresso", "oat-milk chai", "black coffee"],
    "cuisine": ["Georgian", "Ethiopian", "Peruvian", "Korean", "Lebanese"],
    "city": ["Lisbon", "Kyoto", "Oslo", "Marrakesh", "Montreal", "Tbilisi", "Hanoi", "Porto", "Valencia", "Cusco"],
    "month": ["March", "April", "May", "June", "July", "August"],
    "airline": ["TAP", "KLM", "Lufthansa", "Iberia"],
    "proj": ["Atlas", "Beacon", "Cobalt", "Delta", "Ember"],
    "person": ["Priya", "Tomás", "Ingrid", "Kenji", "Amara", "Luca"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "tool": ["Obsidian", "a paper notebook", "Notion", "org-mode"],
    "topic": ["SQL", "code review", "testing", "public speaking"],
    "allergen": ["peanuts", "pollen", "penicillin", "cats"],
    "hours": ["six", "seven", "eight"],
    "body": ["knee", "shoulder", "back", "ankle"],
    "sport": ["tennis", "padel", "football", "badminton", "volleyball"],
    "book": ["'The Left Hand of Darkness'", "'Middlemarch'", "'Blindness'", "'The Overstory'", "'Piranesi'"],
    "instrument": ["guitar", "piano", "cello", "ukulele"],
    "collect": ["vinyl records", "stamps", "fountain pens", "postcards"],
    "film": ["'Past Lives'", "'Perfect Days'", "'Aftersun'", "'Drive My Car'"],
    "name": ["Marta", "Inês", "Jonas", "Sofia", "Noah", "Lena"],
    "pet": ["Miso", "Pickle", "Biscuit", "Nori"],
    "age": ["six", "ten", "twelve"],
    "occasion": ["a birthday", "New Year", "an anniversary"],
}
# Facts that change over time: each user gets some of these chains, one link every few weeks.
CHAINS = [
    ["Lives in Porto", "Lives in Lisbon", "Lives in Berlin"],
    ["Works as a data analyst at Finch", "Works as a data engineer at Finch", "Works as a data engineer at Heron"],
    ["Is training for a 5k race", "Is training for a 10k race", "Is training for a half marathon"],
    ["Drives a 2012 Golf", "Sold the car and cycles to work"],
    ["Is single", "Is dating Sam", "Is engaged to Sam"],
    ["Is learning Spanish (A1)", "Is learning Spanish (A2)", "Speaks Spanish at B1 level"],
    ["Gets coffee at Fábrica every morning", "Gets coffee at Copenhagen Coffee Lab every morning"],
]
# The entities each template names, as (slot, relationship) with the user as the subject; a
# relationship ending in "_of" reads the other way ("marta sister_of alice"). The demo knows what it
# wrote, so it records these triples itself (graph.services.relations_record) instead of asking the
# conservative rule-based extractor, which would find only a few of them.
TEMPLATE_TRIPLES: dict[str, list[tuple[str, str]]] = {
    "Likes {dish}": [("dish", "likes")],
    "Does not eat {avoid}": [("avoid", "avoids")],
    "Orders {drink} in the morning": [("drink", "drinks")],
    "Cooks {dish} on Sundays": [("dish", "cooks")],
    "Wants to try the {cuisine} place near work": [("cuisine", "wants_to_try")],
    "Visited {city} in {month}": [("city", "visited")],
    "Wants to visit {city} next year": [("city", "traveling_to")],
    "Has a frequent-flyer card with {airline}": [("airline", "flies_with")],
    "Is planning a trip to {city} with friends": [("city", "traveling_to")],
    "Is working on the {proj} project": [("proj", "works_on")],
    "Met {person} about the {proj} budget": [("person", "met_with"), ("proj", "works_on")],
    "Presents the {proj} results every {weekday}": [("proj", "presents")],
    "Uses {tool} for notes": [("tool", "uses")],
    "Is mentoring a junior colleague on {topic}": [("topic", "teaches")],
    "Is allergic to {allergen}": [("allergen", "allergic_to")],
    "Plays {sport} on {weekday}s": [("sport", "plays")],
    "Is reading {book}": [("book", "reads")],
    "Is learning to play the {instrument}": [("instrument", "learns")],
    "Collects {collect}": [("collect", "collects")],
    "Watched {film} and loved it": [("film", "watched")],
    "Has a sister named {name}": [("name", "sister_of")],
    "Has a dog named {pet}": [("pet", "dog_of")],
    "Has a nephew, {name}, who turns {age} soon": [("name", "nephew_of")],
}
CHAIN_TRIPLES: dict[str, list[tuple[str, str]]] = {
    "Lives in Porto": [("Porto", "lives_in")],
    "Lives in Lisbon": [("Lisbon", "lives_in")],
    "Lives in Berlin": [("Berlin", "lives_in")],
    "Works as a data analyst at Finch": [("Finch", "works_at")],
    "Works as a data engineer at Finch": [("Finch", "works_at")],
    "Works as a data engineer at Heron": [("Heron", "works_at")],
    "Drives a 2012 Golf": [("2012 Golf", "drives")],
    "Is dating Sam": [("Sam", "dating")],
    "Is engaged to Sam": [("Sam", "engaged_to")],
    "Is learning Spanish (A1)": [("Spanish", "learns")],
    "Is learning Spanish (A2)": [("Spanish", "learns")],
    "Speaks Spanish at B1 level": [("Spanish", "speaks")],
    "Gets coffee at Fábrica every morning": [("Fábrica", "gets_coffee_at")],
    "Gets coffee at Copenhagen Coffee Lab every morning": [("Copenhagen Coffee Lab", "gets_coffee_at")],
}
CHAIN_CATEGORIES = ["home", "work", "health", "travel", "family", "hobbies", "food"]
# Templates a person can have many of (dishes they like, cities visited); the others hold once.
REPEATABLE = {
    "Likes {dish}",
    "Cooks {dish} on Sundays",
    "Wants to try the {cuisine} place near work",
    "Visited {city} in {month}",
    "Wants to visit {city} next year",
    "Met {person} about the {proj} budget",
    "Plays {sport} on {weekday}s",
    "Is reading {book}",
    "Watched {film} and loved it",
    "Collects {collect}",
    "Had a physiotherapy session for a sore {body}",
}
RELATIONS = ("related_to", "related_to", "applies_to", "part_of", "caused_by")


@dataclass
class _Plan:
    """What happens to one user, in time order."""

    user_id: str
    # when, text, category, agent, the entities it names ((name, relationship) pairs)
    facts: list[tuple[datetime, str, str, str | None, list[tuple[str, str]]]] = field(default_factory=list)
    chains: list[tuple[list[datetime], list[str], str]] = field(default_factory=list)


class Command(BaseCommand):
    help = "Load a small demo data set (users, memories over six months, supersessions, relationships)."

    def add_arguments(self, parser):
        parser.add_argument("--memories", type=int, default=60, help="everyday facts per user (default 60, at most 80)")
        parser.add_argument("--users", type=int, default=len(USERS), help=f"how many users, 1 to {len(USERS)}")
        parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
        parser.add_argument("--reset", action="store_true", help="delete the demo project's memories first")
        parser.add_argument(
            "--member", help="also make this Django user an OWNER of the Demo project (sees and edits it in the UI)"
        )

    def handle(self, *args, **options):
        if not 1 <= options["users"] <= len(USERS):
            raise CommandError(f"--users must be from 1 to {len(USERS)}")
        if not 1 <= options["memories"] <= 80:
            raise CommandError("--memories must be from 1 to 80")
        members = list(get_user_model().objects.filter(is_superuser=True))
        if options["member"]:
            member = get_user_model().objects.filter(username=options["member"]).first()
            if member is None:
                raise CommandError(f"no Django user named {options['member']!r} (create one with createsuperuser)")
            members.append(member)
        organization, _ = Organization.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
        project = project_get_or_create(name="Demo", organization=organization)
        if Memory.objects.for_project(project).exists():
            if not options["reset"]:
                raise CommandError("the Demo project already has memories; run with --reset to load it again")
            services.memories_reset(project=project)
        # The web UI shows a project to its members (accounts.ProjectMember) only: make the login(s) owners.
        for user in members:
            Membership.objects.get_or_create(organization=organization, user=user)
            ProjectMember.objects.update_or_create(
                project=project, user=user, defaults={"role": ProjectMember.Role.OWNER}
            )

        rng = random.Random(options["seed"])
        now = timezone.now().replace(microsecond=0)
        start = now - timedelta(days=180)
        totals = {"memories": 0, "superseded": 0, "relationships": 0}
        for user_id in USERS[: options["users"]]:
            plan = self._plan(rng, user_id, start=start, now=now, count=options["memories"])
            made = self._load(rng, project, plan)
            for key, value in made.items():
                totals[key] += value
        self.stdout.write(
            f"Demo project {project.pk}: {options['users']} users, {totals['memories']} memories "
            f"({totals['superseded']} superseded), {totals['relationships']} relationships.\n"
            "Open http://127.0.0.1:8000/ui/ (log in as a superuser, or as the --member user: an OWNER of the project)."
        )

    def _plan(self, rng: random.Random, user_id: str, *, start: datetime, now: datetime, count: int) -> _Plan:
        plan = _Plan(user_id=user_id)
        span = (now - start).total_seconds()
        seen: set[str] = set()
        attempts = 0
        while len(plan.facts) < count and attempts < count * 20:
            attempts += 1
            category = rng.choice(list(POOLS))
            template = rng.choice(POOLS[category])
            words = {key: rng.choice(values) for key, values in WORDS.items()}
            text = template.format(**words)
            if text in seen or (template in seen and template not in REPEATABLE):
                continue
            seen.update((text, template))
            when = start + timedelta(seconds=rng.random() * span * 0.97)
            named = [(words[slot].strip("'"), rel) for slot, rel in TEMPLATE_TRIPLES.get(template, [])]
            plan.facts.append((when.replace(microsecond=0), text, category, rng.choice(AGENTS), named))
        plan.facts.sort()
        # Everyone moves house at least once; three other facts change too.
        for index in [0, *rng.sample(range(1, len(CHAINS)), k=3)]:
            texts = CHAINS[index]
            first = start + timedelta(days=rng.randint(1, 40))
            moments = [first]
            for _ in texts[1:]:
                moments.append(moments[-1] + timedelta(days=rng.randint(20, 60)))
            if moments[-1] >= now:
                moments = [moment - (moments[-1] - now) - timedelta(days=2) for moment in moments]
            plan.chains.append((moments, texts, CHAIN_CATEGORIES[index]))
        return plan

    def _load(self, rng: random.Random, project, plan: _Plan) -> dict[str, int]:
        made = {"memories": 0, "superseded": 0, "relationships": 0}
        memories: list[tuple[Memory, str]] = []
        named: dict = {}  # memory id -> its triples
        for when, text, category, agent, entities in plan.facts:
            memory = services.add_ingest(
                project=project,
                payload={"via": "seed_demo"},
                items=[
                    NewMemory(
                        text=f"{plan.user_id.capitalize()} {text[0].lower()}{text[1:]}",
                        scope=Scope(user_id=plan.user_id, agent_id=agent),
                        categories=[category],
                        metadata={"source": "seed_demo"},
                        valid_from=when,
                    )
                ],
                now=when,
            ).memories[0]
            named[memory.pk] = _triples(plan.user_id, entities)
            memories.append((memory, category))
            made["memories"] += 1
        for moments, texts, category in plan.chains:
            name = plan.user_id.capitalize()
            current = services.add_ingest(
                project=project,
                payload={"via": "seed_demo"},
                items=[
                    NewMemory(
                        text=f"{name} {texts[0][0].lower()}{texts[0][1:]}",
                        scope=Scope(user_id=plan.user_id),
                        categories=[category],
                        metadata={"source": "seed_demo"},
                        valid_from=moments[0],
                    )
                ],
                now=moments[0],
            ).memories[0]
            named[current.pk] = _triples(plan.user_id, CHAIN_TRIPLES.get(texts[0], []))
            made["memories"] += 1
            for when, text in zip(moments[1:], texts[1:], strict=True):
                current = services.memory_supersede(
                    project=project,
                    memory_id=current.pk,
                    text=f"{name} {text[0].lower()}{text[1:]}",
                    observed_at=when,
                    now=when,
                )
                named[current.pk] = _triples(plan.user_id, CHAIN_TRIPLES.get(text, []))
                made["memories"] += 1
                made["superseded"] += 1
                made["relationships"] += 1
            memories.append((current, category))
        # Links between a user's memories: mostly within a category, from the later one to the earlier one.
        memories.sort(key=lambda pair: pair[0].valid_from)
        for index, (memory, category) in enumerate(memories[1:], start=1):
            if rng.random() > 0.45:
                continue
            earlier = [other for other, kind in memories[:index] if kind == category] or [memories[index - 1][0]]
            target = rng.choice(earlier[-6:])
            try:
                relationship_create(
                    project=project,
                    source_id=memory.pk,
                    target_id=target.pk,
                    relation=rng.choice(RELATIONS),
                    weight=round(rng.uniform(0.5, 1.0), 2),
                    valid_from=max(memory.valid_from, target.valid_from),
                    now=max(memory.created_at, target.created_at),
                )
            except ApplicationError:
                continue
            made["relationships"] += 1
        # The entities each memory names, in the order they were written (a newer value of
        # lives_in or works_at closes the older triple at the time it changed).
        relations_record(project=project, memories=list(named), enable_graph=True, triples=named)
        return made


def _triples(user_id: str, entities: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """ "alice likes ramen", or for a relation ending in "_of": "marta sister_of alice"."""
    return [
        (name, relationship, user_id) if relationship.endswith("_of") else (user_id, relationship, name)
        for name, relationship in entities
    ]
