"""``manage.py bench --locomo``: retrieval quality on long conversations (the LOCOMO benchmark,
benchmarks/data/locomo10.json): each conversation loaded through the add pipeline, each question
searched through :func:`memories.search.memory_search`, recall@k per category and variant.
"""

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from memories.bench.common import delete_bench_project, new_bench_project
from memories.bench.data import StderrForTqdm, summary
from memories.embedding import get_embedder
from memories.extraction import extract_facts, normalize_messages
from memories.inputs import NewMemory, Scope
from memories.llm import llm_enabled
from memories.models import Memory
from memories.search import memory_search
from memories.services import add_ingest, memories_ingest

LOCOMO_DEFAULT_DATA = Path(settings.BASE_DIR) / "benchmarks" / "data" / "locomo10.json"
LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
LOCOMO_TOP_KS = (5, 10, 20)
# What each variant passes to memory_search (threshold off: recall is about ranking).
LOCOMO_VARIANTS: dict[str, dict[str, Any]] = {
    "vector": {"keyword_search": False},
    "hybrid": {"keyword_search": True},
    "hybrid-rrf": {"keyword_search": True, "fusion": "rrf"},
    "hybrid-boost": {"keyword_search": True, "fusion": "boost"},
    "hybrid-rerank": {"keyword_search": True, "rerank": True},
}
INFER_SUFFIX = "-infer"  # the infer: true copy of a conversation lives under "<sample_id>-infer"
LOCOMO_SESSION_DATE = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")


@dataclass
class LocomoTurn:
    sample_id: str
    dia_id: str
    speaker: str
    text: str
    session: int
    observed_at: Any


@dataclass
class LocomoQuestion:
    sample_id: str
    question: str
    category: int
    evidence: set[str] = field(default_factory=set)


def locomo_read(path: Path, *, samples: int | None, questions: int | None, captions: bool):
    """The turns and the category 1-4 questions of the first ``samples`` conversations (the first
    ``questions`` of each). Evidence ids are normalised ("D:11:26" -> "D11:26", lists split);
    questions left without any are counted and skipped."""
    from datetime import UTC, datetime

    data = json.loads(path.read_text())
    turns: list[LocomoTurn] = []
    asked: list[LocomoQuestion] = []
    skipped = 0
    for sample in data[:samples]:
        sample_id, conversation = sample["sample_id"], sample["conversation"]
        number = 1
        while f"session_{number}" in conversation:
            moment = datetime.strptime(conversation[f"session_{number}_date_time"], LOCOMO_SESSION_DATE)
            for turn in conversation[f"session_{number}"]:
                text = turn["text"]
                if captions and turn.get("blip_caption"):
                    text = f"{text} [shares a photo of {turn['blip_caption']}]"
                turns.append(
                    LocomoTurn(sample_id, turn["dia_id"], turn["speaker"], text, number, moment.replace(tzinfo=UTC))
                )
            number += 1
        chosen = [qa for qa in sample["qa"] if qa.get("category") in LOCOMO_CATEGORIES][:questions]
        for qa in chosen:
            evidence = {f"D{a}:{b}" for item in qa.get("evidence", []) for a, b in EVIDENCE_ID.findall(item)}
            if evidence:
                asked.append(LocomoQuestion(sample_id, qa["question"], qa["category"], evidence))
            else:
                skipped += 1
    return turns, asked, skipped


class LocomoBench:
    """``manage.py bench locomo``: every turn stored verbatim (``infer: false``) through
    :func:`memories.services.memories_add` (``valid_from`` = its session's date, ``dia_id`` in the
    metadata, the speaker as ``actor_id``, ``user_id`` = the sample id), then every question of
    categories 1-4 searched through :func:`memories.search.memory_search` with each ``top_k``
    and each variant; recall@k is the share of the question's evidence turns among the results."""

    def __init__(self, command: BaseCommand, options: dict[str, Any]):
        self.command = command
        self.options = options

    def run(self) -> dict[str, Any]:
        options = self.options
        path = Path(options["data"]) if options["data"] else LOCOMO_DEFAULT_DATA
        if not path.is_file():
            raise CommandError(f"--data: no LOCOMO file at {path}")
        variants = [name.strip() for name in options["variants"].split(",") if name.strip()]
        unknown = sorted(set(variants) - set(LOCOMO_VARIANTS))
        if unknown or not variants:
            raise CommandError(f"--variants: choose from {', '.join(LOCOMO_VARIANTS)} (got {options['variants']!r})")
        if options.get("include_sources") and not options.get("infer"):
            raise CommandError("--include-sources needs --infer (it searches the infer copy)")
        for name in ("samples", "questions"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        turns, questions, skipped = locomo_read(
            path, samples=options["samples"], questions=options["questions"], captions=options["captions"]
        )
        organization, project, slug = new_bench_project("bench-locomo")
        report: dict[str, Any] = {
            "config": {
                "data": str(path),
                "samples": len({t.sample_id for t in turns}),
                "turns": len(turns),
                "questions": len(questions),
                "questions_without_evidence": skipped,
                "top_k": list(LOCOMO_TOP_KS),
                "variants": {name: LOCOMO_VARIANTS[name] for name in variants},
                "captions": options["captions"],
                "infer": bool(options.get("infer")),
                "include_sources": bool(options.get("include_sources")),
                "search_exact_max_rows": settings.SEARCH_EXACT_MAX_ROWS,
            },
            "project": {"slug": slug, "id": str(project.pk)},
        }
        self.command.stdout.write(
            f"bench project {slug}: LOCOMO, {len(turns)} turns, {len(questions)} questions, variants {variants}"
        )
        started = time.perf_counter()
        try:
            report["load"] = self._load(project, turns)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Memory._meta.db_table)}")
            report["results"] = {name: self._search(project, questions, name) for name in variants}
            if options.get("infer"):
                report["infer_load"] = self._load_infer(project, turns, questions)
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(Memory._meta.db_table)}")
                report["infer_results"] = {
                    name: self._search(project, questions, name, suffix=INFER_SUFFIX) for name in variants
                }
                if options.get("include_sources"):
                    report["infer_sources_results"] = {
                        name: self._search(project, questions, name, suffix=INFER_SUFFIX, include_sources=True)
                        for name in variants
                    }
        finally:
            if options["keep"]:
                report["cleanup"] = {"kept": True}
            else:
                report["cleanup"] = delete_bench_project(project, organization)
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        self._print(report)
        return report

    def _load(self, project, turns: list[LocomoTurn]) -> dict[str, Any]:
        from tqdm import tqdm

        get_embedder()
        batch = min(256, settings.MEMORY_BATCH_MAX)
        started = time.perf_counter()
        with tqdm(
            total=len(turns), unit="turn", desc="storing", file=StderrForTqdm(self.command.stderr), mininterval=1.0
        ) as bar:
            for start in range(0, len(turns), batch):
                chunk = turns[start : start + batch]
                # An import: the one add pipeline, verbatim (each turn keeps its session's date).
                add_ingest(
                    project=project,
                    payload={"via": "bench locomo"},
                    items=[
                        NewMemory(
                            text=turn.text,
                            scope=Scope(user_id=turn.sample_id),
                            metadata={"dia_id": turn.dia_id, "session": turn.session, "speaker": turn.speaker},
                            actor_id=turn.speaker,
                            role="user",
                            valid_from=turn.observed_at,
                        )
                        for turn in chunk
                    ],
                )
                bar.update(len(chunk))
        seconds = time.perf_counter() - started
        return {"turns": len(turns), "seconds": round(seconds, 1), "per_second": round(len(turns) / seconds, 1)}

    def _load_infer(self, project, turns: list[LocomoTurn], questions: list[LocomoQuestion]) -> dict[str, Any]:
        """One ``infer: true`` add per turn (the speaker as ``name``, the session date as the
        observation time) into ``<sample>-infer``; the extractor is also timed on its own."""
        from tqdm import tqdm

        left: set[tuple[str, str]] = set()
        extract_seconds = 0.0
        facts = 0
        started = time.perf_counter()
        with tqdm(
            total=len(turns), unit="turn", desc="infer", file=StderrForTqdm(self.command.stderr), mininterval=1.0
        ) as bar:
            for turn in turns:
                messages = [{"role": "user", "content": turn.text, "name": turn.speaker}]
                tick = time.perf_counter()
                facts += len(extract_facts(normalize_messages(messages), observed_at=turn.observed_at))
                extract_seconds += time.perf_counter() - tick
                results = memories_ingest(
                    project=project,
                    messages=messages,
                    scope=Scope(user_id=turn.sample_id + INFER_SUFFIX),
                    infer=True,
                    metadata={"dia_id": turn.dia_id, "session": turn.session, "speaker": turn.speaker},
                    observed_at=turn.observed_at,
                )
                if any(result["event"] in ("ADD", "UPDATE", "SUPERSEDE") for result in results):
                    left.add((turn.sample_id, turn.dia_id))
                bar.update(1)
        seconds = time.perf_counter() - started
        current = {
            (row["user_id"].removesuffix(INFER_SUFFIX), row["metadata"].get("dia_id"))
            for row in Memory.objects.filter(project=project, user_id__endswith=INFER_SUFFIX)
            .current()
            .values("user_id", "metadata")
        }
        evidence = {(q.sample_id, dia_id) for q in questions for dia_id in q.evidence}
        turn_ids = {(t.sample_id, t.dia_id) for t in turns}
        evidence &= turn_ids
        return {
            "turns": len(turns),
            "seconds": round(seconds, 1),
            "facts_extracted": facts,
            "memories_current": Memory.objects.filter(project=project, user_id__endswith=INFER_SUFFIX)
            .current()
            .count(),
            "turns_leaving_a_memory": round(len(left) / len(turns), 4) if turns else None,
            "evidence_turns_leaving_a_memory": round(len(left & evidence) / len(evidence), 4) if evidence else None,
            "evidence_turns_with_a_current_memory": (
                round(len(current & evidence) / len(evidence), 4) if evidence else None
            ),
            "extraction_ms_per_message": round(extract_seconds * 1000 / len(turns), 3) if turns else None,
            "llm": llm_enabled(),
        }

    def _search(
        self, project, questions: list[LocomoQuestion], variant: str, suffix: str = "", include_sources: bool = False
    ) -> dict[str, Any]:
        from tqdm import tqdm

        kwargs = {**LOCOMO_VARIANTS[variant], **({"include_sources": True} if include_sources else {})}
        recalls: dict[int, dict[int, list[float]]] = {k: {c: [] for c in LOCOMO_CATEGORIES} for k in LOCOMO_TOP_KS}
        latencies: list[float] = []
        for question in questions[: min(3, len(questions))]:  # warm-up: model, plans, scope-size cache
            memory_search(
                project=project, query=question.question, scope=Scope(user_id=question.sample_id + suffix), **kwargs
            )
        with tqdm(
            total=len(questions), unit="q", desc=variant, file=StderrForTqdm(self.command.stderr), mininterval=1.0
        ) as bar:
            for question in questions:
                for k in LOCOMO_TOP_KS:
                    call_started = time.perf_counter()
                    results = memory_search(
                        project=project,
                        query=question.question,
                        scope=Scope(user_id=question.sample_id + suffix),
                        top_k=k,
                        **kwargs,
                    )
                    latencies.append((time.perf_counter() - call_started) * 1000)
                    found = {m.metadata.get("dia_id") for m in results}
                    recalls[k][question.category].append(len(question.evidence & found) / len(question.evidence))
                bar.update(1)
        by_k = {}
        for k in LOCOMO_TOP_KS:
            every = [value for values in recalls[k].values() for value in values]
            by_k[str(k)] = {
                "overall": round(statistics.fmean(every), 4) if every else None,
                **{
                    str(c): (round(statistics.fmean(values), 4) if values else None) for c, values in recalls[k].items()
                },
            }
        counts = {str(c): len(recalls[LOCOMO_TOP_KS[0]][c]) for c in LOCOMO_CATEGORIES}
        return {"recall": by_k, "questions_per_category": counts, "latency_ms": summary(latencies)}

    def _print(self, report: dict[str, Any]) -> None:
        write = self.command.stdout.write
        config = report["config"]
        write("")
        write(
            f"LOCOMO: {config['samples']} conversations, {config['turns']} turns, {config['questions']} questions "
            f"(categories 1-4; {config['questions_without_evidence']} without evidence ids skipped)"
        )
        load = report["load"]
        write(f"stored {load['turns']} turns in {load['seconds']} s ({load['per_second']}/s)")
        if infer := report.get("infer_load"):
            write(
                f"infer: {infer['turns']} adds in {infer['seconds']} s, {infer['facts_extracted']} facts extracted, "
                f"{infer['memories_current']} current memories; turns leaving a memory "
                f"{infer['turns_leaving_a_memory']}, evidence turns leaving a memory "
                f"{infer['evidence_turns_leaving_a_memory']} (with a current memory "
                f"{infer['evidence_turns_with_a_current_memory']}); extraction "
                f"{infer['extraction_ms_per_message']} ms per message" + (" (LLM)" if infer["llm"] else "")
            )
        header = ["mode", "variant", "k", "overall"] + [f"{c} {name}" for c, name in LOCOMO_CATEGORIES.items()]
        rows = []
        modes = [("verbatim", report["results"])]
        if "infer_results" in report:
            modes.append(("infer", report["infer_results"]))
        if "infer_sources_results" in report:
            modes.append(("infer+sources", report["infer_sources_results"]))
        for mode, results in modes:
            for variant, result in results.items():
                for k in LOCOMO_TOP_KS:
                    recall = result["recall"][str(k)]
                    cells = [recall["overall"]] + [recall[str(c)] for c in LOCOMO_CATEGORIES]
                    rows.append([mode, variant, str(k)] + ["-" if v is None else f"{v:.3f}" for v in cells])
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        write("")
        write("mean evidence recall@k")
        write("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for row in rows:
            write("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        write("")
        first = next(iter(report["results"].values()))
        counts = ", ".join(f"{c} {LOCOMO_CATEGORIES[int(c)]}: {n}" for c, n in first["questions_per_category"].items())
        write(f"questions per category: {counts}")
        for variant, result in report["results"].items():
            latency = result["latency_ms"]
            write(
                f"search latency ({variant}, {latency['count']} calls): p50 {latency['p50']:.1f} ms, "
                f"p95 {latency['p95']:.1f} ms"
            )
        cleanup = report["cleanup"]
        if cleanup.get("kept"):
            write(f"kept project {report['project']['slug']} (id {report['project']['id']})")
        else:
            deleted = cleanup["deleted_memories"], cleanup["deleted_history"]
            write(f"clean-up: deleted {deleted[0]} memories and {deleted[1]} history rows")
        write(f"wall time {report['wall_seconds']} s")
