"""An archive written into a project: checked whole first, then written in one transaction.

Pass 1 reads every record and checks it (types, sizes, references between records, the header's
counts, ids already taken) without writing or embedding anything: a bad archive is refused with
the line that is wrong, and nothing is written. Pass 2 reads the archive again and writes it in one
transaction, in batches, embedding the memories whose vectors cannot be used (no vector in the
archive, or another embedding model than this server's).

Ids are kept, so an archive restores the rows it was made from; ``remap_ids`` gives every record a
new id instead (references follow), for importing next to the rows it came from. Registered
entities already in the project are kept as they are.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import RegisteredEntity
from mem0g_site.exceptions import Conflict
from memories.archive.checks import CHECK, MODEL, vector_checked
from memories.archive.format import KINDS, ArchiveInvalid, check_header
from memories.embedding import embed_texts, get_embedder
from memories.models import MemorySourceLink

BATCH = 500

# (line number, record) pairs, header first: what format.read_records yields.
Records = Iterable[tuple[int, dict[str, Any]]]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(*, desc: str, total: int) -> _NoProgress:
    return _NoProgress()


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)
    # Memories embedded here (no usable vector in the archive).
    re_embedded: int = 0
    # Registered entities already in the project (kept as they were).
    skipped_entities: int = 0
    # Old id -> new id, by kind, when ids were remapped.
    id_map: dict[str, dict[str, str]] = field(default_factory=dict)


# --- pass 1 ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    header: dict[str, Any]
    counts: dict[str, int]
    ids: dict[str, set[uuid.UUID]]
    vectors_usable: bool
    to_embed: int


def _vectors_usable(header: dict, model_name: str | None, dimensions: int | None) -> bool:
    embedding = header.get("embedding") or {}
    return bool(embedding.get("vectors")) and embedding.get("model") == model_name and model_name is not None


def _plan(records: Records, *, embedder_info: Callable[[], tuple[str, int]], progress) -> _Plan:
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        raise ArchiveInvalid("the archive is empty (no header line)")
    line, head = first
    check_header(head, line=line)
    expected = {kind: head["counts"].get(kind, 0) for kind in KINDS}
    bar = progress(desc="checking", total=sum(expected.values()))
    counts = dict.fromkeys(KINDS, 0)
    ids: dict[str, set[uuid.UUID]] = {kind: set() for kind in KINDS}
    entity_names: set[tuple[str, str]] = set()
    model_name, dimensions = None, None
    usable = False
    to_embed = 0
    order = {kind: index for index, kind in enumerate(KINDS)}
    last = -1
    for line, record in iterator:
        kind = record.get("kind")
        if kind == "header":
            raise ArchiveInvalid("a second header", line=line)
        if order[kind] < last:
            raise ArchiveInvalid(f"{kind} records must come before {KINDS[last]} records", line=line)
        last = order[kind]
        values = CHECK[kind](record, line)
        counts[kind] += 1
        if kind == "entity":
            key = (values["type"], values["name"])
            if key in entity_names:
                raise ArchiveInvalid(f"the {key[0]} {key[1]!r} is registered twice", line=line)
            entity_names.add(key)
        else:
            if values["id"] in ids[kind]:
                raise ArchiveInvalid(f"{kind} id {values['id']} appears twice", line=line)
            ids[kind].add(values["id"])
        if kind == "memory":
            if model_name is None:
                model_name, dimensions = embedder_info()
                usable = _vectors_usable(head, model_name, dimensions)
            vector = vector_checked(record.get("vector"), line=line, dimensions=dimensions) if usable else None
            if vector is None or record.get("embedding_model", model_name) != model_name:
                to_embed += 1
        elif kind == "source":
            if model_name is None:
                model_name, dimensions = embedder_info()
                usable = _vectors_usable(head, model_name, dimensions)
            vector = vector_checked(record.get("vector"), line=line, dimensions=dimensions) if usable else None
            if vector is None:
                to_embed += 1
            _refers(values["add_event_id"], ids["event"], "event", line=line)
        elif kind == "source_link":
            _refers(values["memory_id"], ids["memory"], "memory", line=line)
            _refers(values["source_id"], ids["source"], "source", line=line)
        elif kind == "trace":
            _refers(values["add_event_id"], ids["event"], "event", line=line)
            _refers(values["memory_id"], ids["memory"], "memory", line=line)
        elif kind == "history":
            _refers(values["trace_id"], ids["trace"], "trace", line=line)
        elif kind == "relationship":
            for end in ("source_id", "target_id"):
                if values[end] not in ids["memory"]:
                    raise ArchiveInvalid(f"{end[:-3]} {values[end]} is not a memory of the archive", line=line)
        elif kind == "entity_relation" and values["memory_id"] not in ids["memory"]:
            raise ArchiveInvalid(f"memory {values['memory_id']} is not a memory of the archive", line=line)
        bar.update(1)
    bar.close()
    for kind in KINDS:
        if counts[kind] != expected[kind]:
            raise ArchiveInvalid(
                f"the header announces {expected[kind]} {kind} records, the archive holds {counts[kind]} "
                "(cut off or edited?)"
            )
    return _Plan(header=head, counts=counts, ids=ids, vectors_usable=usable, to_embed=to_embed)


def _refers(pk, known: set, what: str, *, line: int) -> None:
    if pk is not None and pk not in known:
        raise ArchiveInvalid(f"{what} {pk} is not a {what} of the archive", line=line)


def _taken_ids(plan: _Plan) -> dict[str, int]:
    """How many of the archive's ids are already used (in any project) per kind."""
    taken = {}
    for kind, model in MODEL.items():
        if kind == "source_link":  # numbered by the table, never taken
            continue
        wanted = list(plan.ids[kind])
        found = 0
        for start in range(0, len(wanted), 5000):
            found += model.objects.filter(pk__in=wanted[start : start + 5000]).count()
        if found:
            taken[kind] = found
    return taken


# --- pass 2 ----------------------------------------------------------------------------------


class _Remap:
    """Old id -> new id per kind (new ids made on first sight); the identity when not remapping."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.maps: dict[str, dict[uuid.UUID, uuid.UUID]] = defaultdict(dict)

    def __call__(self, kind: str, old: uuid.UUID) -> uuid.UUID:
        if not self.enabled:
            return old
        table = self.maps[kind]
        if old not in table:
            table[old] = uuid.uuid4()
        return table[old]


def archive_import(
    *,
    project,
    open_records: Callable[[], Records],
    remap_ids: bool = False,
    progress: Callable[..., Any] | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Write the archive that ``open_records()`` reads (called twice: check, then write) into
    ``project``. Raises :class:`ArchiveInvalid` (a bad archive) or :class:`Conflict` (ids already in
    use without ``remap_ids``, or rows that clash with the project's); then nothing was written.
    ``progress(desc=, total=)`` makes a progress bar (``update(n)``, ``close()``), tqdm-like."""
    progress = progress or _no_progress

    def embedder_info() -> tuple[str, int]:
        embedder = get_embedder()
        return embedder.model_name, embedder.dimensions

    plan = _plan(open_records(), embedder_info=embedder_info, progress=progress)
    if not remap_ids:
        taken = _taken_ids(plan)
        if taken:
            listed = ", ".join(f"{count} {kind}" for kind, count in taken.items())
            raise Conflict(
                f"The archive's ids are in use already ({listed} records); import with remap_ids "
                "(--remap-ids) to give its records new ids",
                details={"taken": taken},
            )
    report = ImportReport(counts=dict(plan.counts), re_embedded=plan.to_embed)
    remap = _Remap(remap_ids)
    model_name = get_embedder().model_name if plan.counts["memory"] or plan.counts["source"] else None
    existing_entities = set(RegisteredEntity.objects.filter(project=project).values_list("type", "name"))
    bar = progress(desc="importing", total=sum(plan.counts.values()))
    pending: dict[str, list] = {kind: [] for kind in KINDS}
    vectors_of: dict[int, list[float] | None] = {}

    def flush(kind: str) -> None:
        rows = pending[kind]
        if not rows:
            return
        if kind in ("memory", "source"):
            text = "memory" if kind == "memory" else "content"
            missing = [index for index, row in enumerate(rows) if vectors_of.get(index) is None]
            fresh = iter(embed_texts([getattr(rows[index], text) for index in missing]) if missing else [])
            for index, row in enumerate(rows):
                vector = vectors_of.get(index)
                row.embedding = vector if vector is not None else next(fresh)
                if kind == "memory":
                    row.embedding_model = model_name
            vectors_of.clear()
        if kind == "entity":
            RegisteredEntity.objects.bulk_create(rows)
        else:
            MODEL[kind].objects.bulk_create(rows)
        bar.update(len(rows))
        rows.clear()

    try:
        with transaction.atomic():
            current = None
            for line, record in open_records():
                kind = record.get("kind")
                if kind == "header":
                    continue
                if kind != current and current is not None:
                    flush(current)
                current = kind
                values = CHECK[kind](record, line)
                if kind == "entity" and (values["type"], values["name"]) in existing_entities:
                    report.skipped_entities += 1
                    bar.update(1)
                    continue
                row = _row(kind, values, project=project, remap=remap)
                if kind in ("memory", "source"):  # the vector was checked in pass 1
                    usable = plan.vectors_usable and record.get("embedding_model", model_name) == model_name
                    vectors_of[len(pending[kind])] = record.get("vector") if usable else None
                pending[kind].append(row)
                if len(pending[kind]) >= BATCH:
                    flush(kind)
            if current is not None:
                flush(current)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        raise Conflict(
            f"The archive clashes with rows of the project ({constraint or exc}); nothing was imported",
            details={"constraint": constraint},
        ) from None
    finally:
        bar.close()
    report.counts["entity"] -= report.skipped_entities
    if remap_ids:
        report.id_map = {kind: {str(old): str(new) for old, new in table.items()} for kind, table in remap.maps.items()}
    return report


def _row(kind: str, values: dict[str, Any], *, project, remap: _Remap):
    if kind == "entity":
        return RegisteredEntity(project=project, **values)
    if kind == "source_link":
        values = {key: value for key, value in values.items() if key != "id"}
        values["memory_id"] = remap("memory", values["memory_id"])
        values["source_id"] = remap("source", values["source_id"])
        return MemorySourceLink(project=project, **values)
    values = {**values, "id": remap(kind, values["id"])}
    if kind in ("source", "trace") and values["add_event_id"] is not None:
        values["add_event_id"] = remap("event", values["add_event_id"])
    if kind == "trace":
        if values["memory_id"] is not None:
            values["memory_id"] = remap("memory", values["memory_id"])
        # Ids the decision only mentions follow when they are the archive's (else kept as they were).
        if remap.enabled and values["target_id"] in remap.maps["memory"]:
            values["target_id"] = remap.maps["memory"][values["target_id"]]
        if remap.enabled:
            sources = remap.maps["source"]
            values["source_ids"] = [str(sources.get(uuid.UUID(pk), pk)) for pk in values["source_ids"]]
    if kind == "history":
        values["memory_id"] = remap("memory", values["memory_id"])
        if values["trace_id"] is not None:
            values["trace_id"] = remap("trace", values["trace_id"])
    elif kind == "relationship":
        values["source_id"] = remap("memory", values["source_id"])
        values["target_id"] = remap("memory", values["target_id"])
    elif kind == "entity_relation":
        values["memory_id"] = remap("memory", values["memory_id"])
    return MODEL[kind](project=project, **values)
