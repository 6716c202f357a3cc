import random
import re
from datetime import UTC, datetime

import pytest
from django.db.models import Q

from accounts.models import Organization, Project
from mem0g_site.exceptions import InvalidRequest
from memories.filters import MAX_DEPTH, compile_filters, entity_ids, has_entity_id
from memories.models import Memory

ALL = {"alice-tea", "alice-plan", "bob-shop", "planner-run", "user-42"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


ROWS = [
    {
        "name": "alice-tea",
        "memory": "Alice drinks green tea every morning",
        "user_id": "alice",
        "run_id": "r1",
        "created_at": at("2024-01-01T10:00:00"),
        "updated_at": at("2024-01-05T00:00:00"),
        "categories": ["food", "health"],
        "metadata": {
            "project_id": "p1",
            "priority": 5,
            "tags": ["Python", "django"],
            "note": "Likes Green Tea",
            "nested": {"level": "deep", "n": 2},
        },
    },
    {
        "name": "alice-plan",
        "memory": "Alice plans a trip to Japan",
        "user_id": "alice",
        "agent_id": "planner",
        "run_id": "r2",
        "created_at": at("2024-01-02T00:00:00"),
        "expiration_date": at("2025-06-30T00:00:00"),
        "categories": ["spam"],
        "metadata": {"project_id": "p2", "priority": 1.5, "tags": ["rust"], "note": "plain"},
    },
    {
        "name": "bob-shop",
        "memory": "Bob buys GREEN apples",
        "user_id": "bob",
        "app_id": "shop",
        "created_at": at("2023-12-31T23:59:59"),
        "valid_to": at("2024-06-01T00:00:00"),
        "categories": [],
        "metadata": {"project_id": "p1", "priority": "high", "flag": None},
    },
    {
        "name": "planner-run",
        "memory": "Planner schedules the morning run",
        "agent_id": "planner",
        "run_id": "r1",
        "actor_id": "actor-7",
        "created_at": at("2024-02-15T12:00:00"),
        "categories": ["food"],
        "metadata": {},
    },
    {
        "name": "user-42",
        "memory": "User 42 is travelling to Rome",
        "user_id": "42",
        "created_at": at("2024-03-01T00:00:00"),
        "expiration_date": at("2024-03-02T00:00:00"),
        "categories": ["travel", "food"],
        "metadata": {"priority": 10, "tags": "python"},
    },
]


@pytest.fixture(scope="module")
def rows(django_db_setup, django_db_blocker) -> dict[str, Memory]:
    """Made once for the module, in a project of its own (committed; the tests only read them), and
    removed at its end."""
    with django_db_blocker.unblock():
        organization = Organization.objects.create(name="Filters", slug="filters")
        project = Project.objects.create(organization=organization, name="Filters", slug="filters")
        created = {}
        for row in ROWS:
            fields = dict(row)
            name = fields.pop("name")
            fields["memory"] = f"{name}: {fields['memory']}"
            fields.setdefault("updated_at", fields["created_at"])
            fields["valid_from"] = fields["created_at"]
            created[name] = Memory.objects.create(project=project, hash="x", **fields)
        yield created
        Memory.objects.filter(project=project).delete()
        project.delete()
        organization.delete()


def matching(filters, **kwargs) -> set[str]:
    return {
        text.split(":")[0]
        for text in Memory.objects.filter(compile_filters(filters, **kwargs)).values_list("memory", flat=True)
    }


def deep_json(levels: int) -> dict:
    value: dict = {"x": 1}
    for _ in range(levels):
        value = {"x": value}
    return value


def case(filters, expected, id=None):
    return pytest.param(filters, set(expected), id=id or repr(filters)[:90])


ENTITY_CASES = [
    case({"user_id": "alice"}, {"alice-tea", "alice-plan"}),
    case({"user_id": {"eq": "alice"}}, {"alice-tea", "alice-plan"}),
    case({"user_id": {"ne": "alice"}}, {"bob-shop", "planner-run", "user-42"}),
    case({"user_id": {"in": ["bob", "42"]}}, {"bob-shop", "user-42"}),
    case({"user_id": {"nin": ["alice"]}}, {"bob-shop", "planner-run", "user-42"}),
    case({"user_id": {"nin": ["alice", "bob", "42"]}}, {"planner-run"}),
    case({"user_id": 42}, {"user-42"}),
    case({"user_id": {"in": [42, "bob"]}}, {"user-42", "bob-shop"}),
    case({"user_id": {"in": []}}, set()),
    case({"user_id": "*"}, ALL - {"planner-run"}),
    case({"user_id": "nobody"}, set()),
    case({"user_id": {"ne": "alice", "in": ["alice", "bob"]}}, {"bob-shop"}),
    case({"agent_id": "planner"}, {"alice-plan", "planner-run"}),
    case({"agent_id": "*"}, {"alice-plan", "planner-run"}),
    case({"app_id": "shop"}, {"bob-shop"}),
    case({"app_id": {"ne": "shop"}}, ALL - {"bob-shop"}),
    case({"run_id": "r1"}, {"alice-tea", "planner-run"}),
    case({"session_id": "r1"}, {"alice-tea", "planner-run"}),
    case({"session_id": {"in": ["r2"]}}, {"alice-plan"}),
    case({"actor_id": "actor-7"}, {"planner-run"}),
    case({"user_id": "alice", "run_id": "r2"}, {"alice-plan"}),
]

TIME_CASES = [
    case({"created_at": {"gte": "2024-01-01"}}, {"alice-tea", "alice-plan", "planner-run", "user-42"}),
    case({"created_at": {"gt": "2024-01-01"}}, {"alice-plan", "planner-run", "user-42"}),
    case({"created_at": {"lt": "2024-01-01"}}, {"bob-shop"}),
    case({"created_at": {"lte": "2024-01-01"}}, {"bob-shop", "alice-tea"}),
    case({"created_at": "2024-01-01"}, {"alice-tea"}),
    case({"created_at": "2024-01-01T10:00:00Z"}, {"alice-tea"}),
    case({"created_at": "2024-01-01T11:00:00+01:00"}, {"alice-tea"}),
    case({"created_at": "2024-01-01T10:00:00"}, {"alice-tea"}, id="naive-is-utc"),
    case({"created_at": 1704103200}, {"alice-tea"}, id="unix-seconds"),
    case({"created_at": {"gt": 1704103200}}, {"alice-plan", "planner-run", "user-42"}),
    case({"created_at": {"gte": 1704103200.0}}, {"alice-tea", "alice-plan", "planner-run", "user-42"}),
    case({"created_at": {"lte": "2024-01-01T10:00:00Z"}}, {"bob-shop", "alice-tea"}),
    case({"created_at": {"lt": "2024-01-01T10:00:00Z"}}, {"bob-shop"}),
    case({"created_at": {"gt": "2023-12-31T23:59:58.5Z"}}, ALL),
    case({"created_at": {"ne": "2024-01-01"}}, ALL - {"alice-tea"}),
    case({"created_at": {"in": ["2024-01-02", "2024-03-01T00:00:00Z"]}}, {"alice-plan", "user-42"}),
    case({"created_at": {"gte": "2024-01-01", "lt": "2024-02-01"}}, {"alice-tea", "alice-plan"}),
    case({"created_at": {"eq": "2024-01-02"}}, {"alice-plan"}, id="eq-oss"),
    case({"timestamp": {"gte": "2024-02-01"}}, {"planner-run", "user-42"}),
    case({"updated_at": {"gte": "2024-01-05"}}, {"alice-tea", "planner-run", "user-42"}),
    case({"expiration_date": {"lt": "2025-01-01"}}, {"user-42"}),
    case({"expiration_date": "2025-06-30"}, {"alice-plan"}),
    case({"expiration_date": "*"}, {"alice-plan", "user-42"}),
    case({"expiration_date": {"ne": "2025-06-30"}}, ALL - {"alice-plan"}, id="ne-keeps-null"),
    case({"expiration_date": {"lte": "2024-03-01"}}, set(), id="lte-day-is-before-next-day"),
    case({"expiration_date": {"lte": "2024-03-02"}}, {"user-42"}),
    case({"valid_to": "*"}, {"bob-shop"}),
    case({"valid_to": {"lte": "2024-06-01"}}, {"bob-shop"}),
    case({"valid_from": {"lt": "2024-01-01"}}, {"bob-shop"}),
    case({"NOT": {"expiration_date": {"lt": "2025-01-01"}}}, ALL - {"user-42"}, id="not-keeps-null"),
]

CATEGORY_CASES = [
    case({"categories": {"in": ["health", "travel"]}}, {"alice-tea", "user-42"}),
    case({"categories": {"contains": "food"}}, {"alice-tea", "planner-run", "user-42"}),
    case({"categories": {"contains": ["food", "travel"]}}, {"user-42"}),
    case({"categories": "food"}, {"alice-tea", "planner-run", "user-42"}),
    case({"categories": ["food", "health"]}, {"alice-tea"}),
    case({"categories": "*"}, ALL - {"bob-shop"}),
    case({"categories": {"nin": ["food"]}}, {"alice-plan", "bob-shop"}),
    case({"NOT": {"categories": "*"}}, {"bob-shop"}),
]

METADATA_CASES = [
    case({"metadata": {"project_id": "p1"}}, {"alice-tea", "bob-shop"}),
    case({"metadata": {"project_id": "p1", "priority": 5}}, {"alice-tea"}),
    case({"metadata": {"project_id": {"eq": "p2"}}}, {"alice-plan"}),
    case({"metadata": {"project_id": {"ne": "p1"}}}, {"alice-plan", "planner-run", "user-42"}),
    case({"metadata": {"project_id": {"in": ["p2", "p3"]}}}, {"alice-plan"}),
    case({"metadata": {"project_id": {"nin": ["p1"]}}}, {"alice-plan", "planner-run", "user-42"}),
    case({"metadata": {"project_id": "*"}}, {"alice-tea", "alice-plan", "bob-shop"}),
    case({"metadata": {"flag": "*"}}, set(), id="wildcard-skips-json-null"),
    case({"metadata": {"flag": None}}, {"bob-shop"}),
    case({"metadata": {"priority": {"in": [5, "high"]}}}, {"alice-tea", "bob-shop"}),
    case({"metadata": {"note": {"contains": "Green"}}}, {"alice-tea"}),
    case({"metadata": {"note": {"contains": "green"}}}, set(), id="contains-is-case-sensitive"),
    case({"metadata": {"note": {"icontains": "green"}}}, {"alice-tea"}),
    case({"metadata": {"tags": {"contains": "rust"}}}, {"alice-plan"}),
    case({"metadata": {"tags": {"contains": "ust"}}}, set(), id="list-members-match-whole"),
    case({"metadata": {"tags": {"contains": "python"}}}, {"user-42"}),
    case({"metadata": {"tags": {"icontains": "python"}}}, {"alice-tea", "user-42"}),
    case({"metadata": {"tags": {"icontains": "pyth"}}}, {"user-42"}),
    case({"metadata": {"tags": {"contains": ["Python", "django"]}}}, {"alice-tea"}),
    case({"metadata": {"priority": {"gt": 4}}}, {"alice-tea", "user-42"}),
    case({"metadata": {"priority": {"gte": 5}}}, {"alice-tea", "user-42"}),
    case({"metadata": {"priority": {"lt": 5}}}, {"alice-plan"}),
    case({"metadata": {"priority": {"lte": 5}}}, {"alice-tea", "alice-plan"}),
    case({"metadata": {"priority": {"gt": 1, "lt": 6}}}, {"alice-tea", "alice-plan"}),
    case({"metadata": {"priority": {"gte": "a"}}}, {"bob-shop"}, id="string-order"),
    case({"metadata": {"priority": 10}}, {"user-42"}),
    case({"metadata": {"priority": 10.0}}, {"user-42"}),
    case({"metadata": {"nested.level": "deep"}}, {"alice-tea"}),
    case({"metadata": {"nested.n": {"gte": 2}}}, {"alice-tea"}),
    case({"metadata": {"nested": {"eq": {"level": "deep"}}}}, {"alice-tea"}),
    case({"metadata": {"k": {"eq": deep_json(MAX_DEPTH - 1)}}}, set(), id="deep-json-within-limit"),
    case({"metadata": {}}, ALL, id="empty-metadata-is-everything"),
    case({"OR": [{"metadata": {}}, {"user_id": "bob"}]}, ALL),
    case({"NOT": {"metadata": {}}}, set()),
    case({"metadata.project_id": "p1"}, {"alice-tea", "bob-shop"}),
    case({"metadata.tags": {"contains": "rust"}}, {"alice-plan"}),
    case({"metadata.nested.level": "deep"}, {"alice-tea"}),
    case({"NOT": {"metadata": {"priority": {"gt": 4}}}}, {"alice-plan", "bob-shop", "planner-run"}),
    case({"NOT": {"metadata": {"note": {"icontains": "green"}}}}, ALL - {"alice-tea"}),
    case({"NOT": {"metadata": {"tags": {"contains": "python"}}}}, ALL - {"user-42"}),
    case({"NOT": {"metadata": {"tags": {"icontains": "PYTHON"}}}}, {"alice-plan", "bob-shop", "planner-run"}),
    case({"NOT": {"metadata": {"project_id": "*"}}}, {"planner-run", "user-42"}),
]

TEXT_CASES = [
    case({"keywords": {"contains": "green"}}, {"alice-tea"}),
    case({"keywords": {"icontains": "green"}}, {"alice-tea", "bob-shop"}),
    case({"keywords": "GREEN"}, {"alice-tea", "bob-shop"}),
    case({"keywords": "%"}, set(), id="like-wildcards-are-literal"),
    case({"keywords": "*"}, set(), id="star-is-literal-in-text"),
    case({"keywords_search": "morning"}, {"alice-tea", "planner-run"}),
    case({"text": "japan"}, {"alice-plan"}),
    case({"text": {"eq": "alice-plan: Alice plans a trip to Japan"}}, {"alice-plan"}),
    case({"text": {"eq": "alice-plan: alice plans a trip to japan"}}, set()),
    case({"text": {"contains": "Alice"}}, {"alice-tea", "alice-plan"}),
    case({"text": {"icontains": "ALICE"}}, {"alice-tea", "alice-plan"}),
]


def nested(levels: int, leaf: dict) -> dict:
    node = leaf
    for _ in range(levels):
        node = {"AND": [node]}
    return node


LOGICAL_CASES = [
    case({"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2024-01-01"}}]}, {"alice-tea", "alice-plan"}),
    case({"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2024-01-02"}}]}, {"alice-plan"}),
    case({"OR": [{"user_id": "bob"}, {"run_id": "r1"}]}, {"bob-shop", "alice-tea", "planner-run"}),
    case({"AND": [{"user_id": "alice"}, {"NOT": {"categories": {"in": ["spam"]}}}]}, {"alice-tea"}),
    case({"NOT": {"user_id": "alice"}}, {"bob-shop", "planner-run", "user-42"}, id="not-keeps-null-entity"),
    case({"NOT": [{"user_id": "alice"}, {"agent_id": "planner"}]}, {"bob-shop", "user-42"}, id="not-list-none-hold"),
    case({"NOT": {"user_id": "alice", "run_id": "r1"}}, ALL - {"alice-tea"}, id="not-object-negates-the-and"),
    case({"NOT": [{"user_id": "alice", "run_id": "r1"}]}, ALL - {"alice-tea"}),
    case({"NOT": {"user_id": "*"}}, {"planner-run"}),
    case({"NOT": {"NOT": {"user_id": "bob"}}}, {"bob-shop"}),
    case(
        {"OR": [{"AND": [{"user_id": "alice"}, {"metadata": {"project_id": "p2"}}]}, {"NOT": {"categories": "*"}}]},
        {"alice-plan", "bob-shop"},
    ),
    case({"user_id": "alice", "OR": [{"run_id": "r1"}, {"categories": "spam"}]}, {"alice-tea", "alice-plan"}),
    case({"user_id": "alice", "OR": [{"run_id": "r1"}, {"agent_id": "planner"}]}, {"alice-tea", "alice-plan"}),
    case(
        {"AND": [{"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, {"NOT": [{"metadata": {"project_id": "p1"}}]}]},
        {"alice-plan"},
    ),
    case({"OR": [{"user_id": "alice", "run_id": "r1"}, {"app_id": "shop"}]}, {"alice-tea", "bob-shop"}),
    case({"OR": [{"memory_ids": []}, {"user_id": "bob"}]}, {"bob-shop"}),
    case({"NOT": {"memory_ids": []}}, ALL),
    case(nested(MAX_DEPTH, {"user_id": "alice"}), {"alice-tea", "alice-plan"}, id="max-depth"),
]


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("filters", "expected"), ENTITY_CASES)
def test_entity_fields(rows, filters, expected):
    assert matching(filters) == expected


@pytest.mark.parametrize(("filters", "expected"), TIME_CASES)
def test_time_fields(rows, filters, expected):
    assert matching(filters) == expected


@pytest.mark.parametrize(("filters", "expected"), CATEGORY_CASES)
def test_categories(rows, filters, expected):
    assert matching(filters) == expected


@pytest.mark.parametrize(("filters", "expected"), METADATA_CASES)
def test_metadata(rows, filters, expected):
    assert matching(filters) == expected


@pytest.mark.parametrize(("filters", "expected"), TEXT_CASES)
def test_keywords_and_text(rows, filters, expected):
    assert matching(filters) == expected


@pytest.mark.parametrize(("filters", "expected"), LOGICAL_CASES)
def test_logical_combinations(rows, filters, expected):
    assert matching(filters) == expected


def test_memory_ids(rows):
    wanted = [str(rows["alice-tea"].id), str(rows["user-42"].id).upper()]
    assert matching({"memory_ids": wanted}) == {"alice-tea", "user-42"}
    assert matching({"memory_ids": []}) == set()
    assert matching({"user_id": "alice", "memory_ids": wanted}) == {"alice-tea"}


@pytest.mark.parametrize("filters", [None, {}])
def test_no_filters_is_an_empty_q(rows, filters):
    assert compile_filters(filters) == Q()
    assert matching(filters) == ALL


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        case({"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2024-01-01"}}]}, {"alice-tea", "alice-plan"}),
        case({"OR": [{"user_id": "bob"}, {"run_id": "r1"}]}, {"bob-shop", "alice-tea", "planner-run"}),
        case({"AND": [{"user_id": "alice"}, {"NOT": {"categories": {"in": ["spam"]}}}]}, {"alice-tea"}),
        case({"metadata": {"priority": {"gte": 5}}, "session_id": {"ne": "r1"}}, {"user-42"}),
    ],
)
def test_platform_dialect_compiles_the_platform_grammar(rows, filters, expected):
    assert matching(filters, allow_oss=False) == expected


BAD_FILTERS = [
    ("user_id=alice", "filters"),
    (["user_id"], "filters"),
    ({"colour": "red"}, "colour"),
    ({"AND": [{"colour": "red"}]}, "colour"),
    ({"NOT": {"OR": [{"user_id": "a"}, {"colour": "red"}]}}, "colour"),
    ({1: "a"}, "1"),
    ({"and": [{"user_id": "a"}]}, "and"),
    ({"$or": [{"user_id": "a"}]}, "$or"),
    ({"created_at": {"between": [1, 2]}}, "created_at"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"created_at": ""}, "created_at"),
    ({"created_at": {"gte": "2024-13-01"}}, "created_at"),
    ({"created_at": True}, "created_at"),
    ({"created_at": None}, "created_at"),
    ({"created_at": {"gte": float("nan")}}, "created_at"),
    ({"created_at": {"gte": 10**20}}, "created_at"),
    ({"created_at": {"gt": "9999-12-31"}}, "created_at"),
    ({"created_at": {"in": "2024-01-01"}}, "created_at"),
    ({"created_at": {"gte": "2024-01-01\x00"}}, "created_at"),
    ({"timestamp": {"gte": [2024]}}, "timestamp"),
    ({"expiration_date": {"contains": "2024"}}, "expiration_date"),
    ({"user_id": ["alice"]}, "user_id"),
    ({"user_id": None}, "user_id"),
    ({"user_id": True}, "user_id"),
    ({"user_id": 1.5}, "user_id"),
    ({"user_id": {"in": "alice"}}, "user_id"),
    ({"user_id": {"in": [["alice"]]}}, "user_id"),
    ({"user_id": {"contains": "al"}}, "user_id"),
    ({"user_id": {}}, "user_id"),
    ({"user_id": "a\x00b"}, "user_id"),
    ({"session_id": {"gt": "x"}}, "session_id"),
    ({"categories": 5}, "categories"),
    ({"categories": {"in": "food"}}, "categories"),
    ({"categories": {"eq": "food"}}, "categories"),
    ({"categories": {"in": [1]}}, "categories"),
    ({"metadata": "p1"}, "metadata"),
    ({"metadata": []}, "metadata"),
    ({"metadata": {"k": {"between": 1}}}, "metadata.k"),
    ({"metadata": {"k": {"gt": True}}}, "metadata.k"),
    ({"metadata": {"k": {"gt": [1]}}}, "metadata.k"),
    ({"metadata": {"k": {"icontains": 5}}}, "metadata.k"),
    ({"metadata": {"k": float("inf")}}, "metadata.k"),
    ({"metadata": {"k": {"in": "x"}}}, "metadata.k"),
    ({"metadata": {"k": {}}}, "metadata.k"),
    ({"metadata": {"k": "a\x00"}}, "metadata.k"),
    ({"metadata": {"k": {"city": "x"}}}, "metadata.k"),
    ({"metadata": {"k": {"eq": {1: "x"}}}}, "metadata.k"),
    ({"metadata": {"k": {"eq": object()}}}, "metadata.k"),
    ({"metadata": {"a..b": 1}}, "metadata.a..b"),
    ({"metadata": {1: 1}}, "metadata.1"),
    ({"metadata": {"k": {"eq": deep_json(MAX_DEPTH + 1)}}}, "metadata.k"),
    ({"metadata.k": {"nope": 1}}, "metadata.k"),
    ({"metadata.": 1}, "metadata."),
    ({"memory_ids": "not-a-list"}, "memory_ids"),
    ({"memory_ids": {"in": []}}, "memory_ids"),
    ({"memory_ids": ["not-a-uuid"]}, "memory_ids"),
    ({"memory_ids": [123]}, "memory_ids"),
    ({"keywords": 5}, "keywords"),
    ({"keywords": {"eq": "x"}}, "keywords"),
    ({"keywords_search": ["x"]}, "keywords_search"),
    ({"text": {"ne": "x"}}, "text"),
    ({"AND": []}, "AND"),
    ({"AND": {"user_id": "a"}}, "AND"),
    ({"OR": [{}]}, "OR"),
    ({"OR": ["user_id"]}, "OR"),
    ({"OR": None}, "OR"),
    ({"NOT": []}, "NOT"),
    ({"NOT": "x"}, "NOT"),
    ({"NOT": {}}, "NOT"),
    (nested(MAX_DEPTH + 1, {"user_id": "alice"}), "AND"),
]


def _stable_id(filters) -> str:
    """The test id: the same in every process (pytest-xdist workers must collect the same ids), so
    without the memory address of an object()."""
    return re.sub(r" at 0x[0-9a-fA-F]+>", ">", repr(filters))[:80]


@pytest.mark.parametrize(("filters", "key"), BAD_FILTERS, ids=[_stable_id(f) for f, _ in BAD_FILTERS])
def test_bad_filters_are_refused_naming_the_key(filters, key):
    with pytest.raises(InvalidRequest) as raised:
        compile_filters(filters)
    assert raised.value.details == {"key": key}
    assert raised.value.status == 400
    assert f"'{key}'" in raised.value.message or key == "filters"


OSS_ONLY = [
    ({"user_id": {"nin": ["a"]}}, "user_id"),
    ({"categories": {"nin": ["x"]}}, "categories"),
    ({"metadata": {"k": {"nin": [1]}}}, "metadata.k"),
    ({"metadata.project_id": "p1"}, "metadata.project_id"),
    ({"created_at": {"eq": "2024-01-01"}}, "created_at"),
    ({"actor_id": "x"}, "actor_id"),
    ({"OR": [{"user_id": "a"}, {"actor_id": "x"}]}, "actor_id"),
]


@pytest.mark.parametrize(("filters", "key"), OSS_ONLY, ids=[_stable_id(f) for f, _ in OSS_ONLY])
def test_platform_dialect_refuses_oss_only_parts(filters, key):
    compile_filters(filters)  # fine in the OSS dialect
    with pytest.raises(InvalidRequest) as raised:
        compile_filters(filters, allow_oss=False)
    assert raised.value.details == {"key": key}


def test_error_messages_name_the_key_and_operator():
    with pytest.raises(InvalidRequest, match=r"^Unsupported filter key 'colour'$"):
        compile_filters({"colour": "red"})
    with pytest.raises(InvalidRequest, match=r"^Unsupported operator 'between' for 'created_at'$"):
        compile_filters({"created_at": {"between": ["2024-01-01", "2024-02-01"]}})
    with pytest.raises(InvalidRequest, match=r"^Unsupported operator 'nin' for 'user_id'$"):
        compile_filters({"user_id": {"nin": ["a"]}}, allow_oss=False)
    with pytest.raises(InvalidRequest, match=r"'created_at'.*ISO 8601"):
        compile_filters({"created_at": {"gte": "soon"}})
    with pytest.raises(InvalidRequest, match=r"deeper than 10 levels"):
        compile_filters(nested(MAX_DEPTH + 1, {"user_id": "a"}))


def test_a_hostile_depth_is_refused_without_recursing_through_it():
    deep: dict = {"user_id": "a"}
    for _ in range(5000):
        deep = {"NOT": deep}
    with pytest.raises(InvalidRequest):
        compile_filters(deep)
    assert entity_ids(deep) == {}
    assert has_entity_id(deep) is False  # named only deeper than anything compile_filters accepts


def _random_value(rng: random.Random, depth: int = 0):
    atoms = ["alice", "*", "", "2024-01-01", "2024-01-01T00:00:00Z", "x\x00", 0, -1, 1.5, 10**30, True, None]
    atoms += [float("nan"), "p1", "green", "%_\\", "00000000-0000-0000-0000-000000000000"]
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(atoms)
    if roll < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "icontains", "k", "a.b", "AND", "OR"]
    keys += ["NOT", "user_id", "metadata", "categories", "created_at", "text", "memory_ids", "metadata.k"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def test_random_filters_either_compile_to_a_runnable_query_or_are_refused(rows):
    rng = random.Random(20240101)
    compiled = 0
    for _ in range(400):
        filters = _random_value(rng)
        try:
            q = compile_filters(filters)
        except InvalidRequest as error:
            assert isinstance(error.details, dict) and set(error.details) == {"key"}
            continue
        compiled += 1
        assert matching(filters) <= ALL  # runs on PostgreSQL without a database error
        assert isinstance(q, Q)
    assert compiled > 10


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"user_id": "alice"}, {"user_id": {"alice"}}),
        ({"user_id": {"eq": "alice"}}, {"user_id": {"alice"}}),
        (
            {"AND": [{"user_id": "alice"}, {"OR": [{"agent_id": "a1"}, {"agent_id": {"eq": "a2"}}]}]},
            {"user_id": {"alice"}, "agent_id": {"a1", "a2"}},
        ),
        ({"session_id": "s1", "app_id": 7}, {"run_id": {"s1"}, "app_id": {"7"}}),
        ({"run_id": "r1", "OR": [{"session_id": "r2"}]}, {"run_id": {"r1", "r2"}}),
        ({"NOT": [{"user_id": "bob"}], "user_id": "alice"}, {"user_id": {"alice"}}),
        ({"user_id": "*"}, {}),
        ({"user_id": {"in": ["a"]}}, {}),
        ({"user_id": {"ne": "a"}}, {}),
        ({"NOT": {"user_id": "alice"}}, {}),
        ({"metadata": {"user_id": "alice"}, "actor_id": "alice"}, {}),
        ({"user_id": True, "agent_id": None, "app_id": ["x"]}, {}),
        (None, {}),
        ("user_id", {}),
        ({"AND": "junk", "OR": [1, None]}, {}),
    ],
)
def test_entity_ids(filters, expected):
    assert entity_ids(filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"user_id": "alice"}, True),
        ({"user_id": "*"}, True),
        ({"user_id": {"ne": "a"}}, True),
        ({"agent_id": {"in": ["a"]}}, True),
        ({"NOT": {"run_id": "r"}}, True),
        ({"OR": [{"metadata": {"a": 1}}, {"session_id": {"nin": ["s"]}}]}, True),
        ({"AND": [{"NOT": [{"app_id": "x"}]}]}, True),
        (None, False),
        ({}, False),
        ("user_id", False),
        ({"metadata": {"user_id": "a"}}, False),
        ({"metadata.user_id": "a"}, False),
        ({"actor_id": "a", "created_at": {"gte": "2024-01-01"}}, False),
        ({"OR": [{"categories": "x"}]}, False),
    ],
)
def test_has_entity_id(filters, expected):
    assert has_entity_id(filters) is expected
