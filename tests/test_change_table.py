"""The change table (tests/change_table.py): extraction then the built-in decision, pair by pair.

Each pair's new fact is decided against the old facts with real embedding similarities, as an add
does. The table is a benchmark as much as a test: the score is printed, a measured floor is asserted,
and every kind of change must be handled at least once.
"""

from collections import defaultdict
from datetime import UTC, datetime

import numpy
import pytest

from memories.decisions import Candidate, decide
from memories.embedding import embed_texts
from memories.extraction import extract_facts, normalize_messages
from tests.change_table import CHANGE_TABLE, NAMED_TABLE

OBSERVED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
FLOOR = 0.95  # measured 114/115 (99%): see docs/BENCHMARKS.md


def _facts(text: str, name: str | None = None) -> list[str]:
    message = {"role": "user", "content": text} | ({"name": name} if name else {})
    return [fact.text for fact in extract_facts(normalize_messages([message]), observed_at=OBSERVED)]


def _event(old: list[str], new: list[str]) -> str:
    """The decision for the new side (its first fact that is not NONE decides; all NONE -> NONE)."""
    if not old or not new:
        return "NO FACT"
    vectors = embed_texts(old + new)
    olds, news = vectors[: len(old)], vectors[len(old) :]
    events = []
    for text, vector in zip(new, news, strict=True):
        candidates = [
            Candidate(id=str(i), text=o, score=float(numpy.dot(vector, ov)))
            for i, (o, ov) in enumerate(zip(old, olds, strict=True))
        ]
        events.append(decide(text, candidates).event)
    for wanted in ("SUPERSEDE", "UPDATE", "ADD"):
        if wanted in events:
            return wanted
    return "NONE"


def _rows():
    for kind, old, new, expected in CHANGE_TABLE:
        yield kind, _facts(old), _facts(new), expected, f"{old!r} -> {new!r}"
    for kind, old_name, old, new_name, new, expected in NAMED_TABLE:
        yield (
            kind,
            _facts(old, old_name),
            _facts(new, new_name),
            expected,
            f"{old_name}: {old!r} -> {new_name}: {new!r}",
        )


@pytest.fixture(scope="module")
def outcomes():
    return [(kind, expected, _event(old, new), label, old, new) for kind, old, new, expected, label in _rows()]


def test_the_table_is_big_and_varied():
    assert len(CHANGE_TABLE) + len(NAMED_TABLE) >= 100
    kinds = {row[0] for row in CHANGE_TABLE}
    for kind in ("residence", "employer", "job", "status", "diet", "age", "favourite", "likes", "has", "allergy"):
        assert kind in kinds
    events = {row[-1] for row in CHANGE_TABLE}
    assert events == {"SUPERSEDE", "UPDATE", "NONE", "ADD"}


def test_change_table_score(outcomes, capsys):
    by_kind: dict[str, list[bool]] = defaultdict(list)
    failures = []
    for kind, expected, got, label, old, new in outcomes:
        by_kind[kind].append(got == expected)
        if got != expected:
            failures.append(f"  [{kind}] {label}: expected {expected}, got {got} (old {old}, new {new})")
    passed = sum(ok for oks in by_kind.values() for ok in oks)
    total = sum(len(oks) for oks in by_kind.values())
    with capsys.disabled():
        print(f"\nchange table: {passed}/{total} pairs pass ({passed / total:.1%})")
        print("\n".join(failures))
    assert passed / total >= FLOOR, "\n".join(failures)
    # Every kind of change is handled at least once.
    assert all(any(oks) for oks in by_kind.values()), {k: v for k, v in by_kind.items() if not any(v)}


def test_another_item_or_person_never_supersedes(outcomes):
    wrong = [label for kind, expected, got, label, _, _ in outcomes if expected == "ADD" and got == "SUPERSEDE"]
    assert not wrong
