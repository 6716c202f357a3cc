"""Portable archives: export_project / import_project, the /v1/archive routes and the Mem0 importers."""

import gzip
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Organization, Project, RegisteredEntity
from accounts.services import entity_register
from graph.models import EntityRelation, Relationship
from graph.services import relations_record, relationship_create
from memories.archive.format import KINDS, read_records
from memories.archive.services import archive_import
from memories.embedding import embed_texts, get_embedder
from memories.inputs import Scope
from memories.models import DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink
from memories.services import memory_supersede, memory_update
from tests.conftest import error_of

T0 = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def filled(project, add):
    """alice: a superseded fact and its successor, an edited memory, a relationship, entity relations,
    a registered user; bob: one memory; an agent memory."""
    lisbon, tea = add(project, "User lives in Lisbon", "User loves oolong tea", user_id="alice", now=T0)
    add(project, "User plays the contrabassoon", user_id="bob", now=T0 + timedelta(seconds=1))
    add(project, "Bot speaks Portuguese", agent_id="bot", now=T0 + timedelta(seconds=2))
    berlin = memory_supersede(
        project=project, memory_id=lisbon.id, text="User lives in Berlin", now=T0 + timedelta(days=3)
    )
    memory_update(project=project, memory_id=tea.id, text="User loves jasmine tea", now=T0 + timedelta(days=4))
    relationship_create(
        project=project,
        source_id=tea.id,
        target_id=berlin.id,
        relation="related_to",
        weight=0.75,
        metadata={"why": "test"},
        now=T0 + timedelta(days=5),
    )
    relations_record(project=project, memories=[berlin], enable_graph=True, now=T0 + timedelta(days=5))
    entity_register(project=project, entity_type="user", name="alice", display_name="Alice", now=T0)
    return project


def export(project, tmp_path, name="a.jsonl", **options) -> list[dict]:
    path = tmp_path / name
    call_command("export_project", project.slug, output=str(path), no_progress=True, **options)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as file:
        return [json.loads(line) for line in file]


def write(tmp_path, records, name="in.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def body(records) -> list[dict]:
    """Everything but the header's project and export time (which differ by design)."""
    head = {k: v for k, v in records[0].items() if k not in ("project", "exported_at")}
    return [head, *records[1:]]


def new_project(name: str) -> Project:
    organization = Organization.objects.create(name=name, slug=name)
    return Project.objects.create(organization=organization, name=name, slug=name)


def test_export_holds_every_kind_with_its_validity(filled, tmp_path):
    records = export(filled, tmp_path)
    head = records[0]
    assert head["format"] == "mem0g-archive" and head["version"] == 2
    assert head["embedding"] == {"model": get_embedder().model_name, "dimensions": 384, "vectors": False}
    kinds = [r["kind"] for r in records[1:]]
    assert kinds == sorted(kinds, key=KINDS.index)
    assert head["counts"] == {k: kinds.count(k) for k in head["counts"]}
    assert head["counts"]["memory"] == 5 and head["counts"]["entity_relation"] >= 1
    lisbon = next(r for r in records if r.get("memory") == "User lives in Lisbon")
    assert lisbon["valid_to"] == (T0 + timedelta(days=3)).isoformat() and lisbon["created_at"] == T0.isoformat()
    assert {r["relation"] for r in records if r["kind"] == "relationship"} == {"supersedes", "related_to"}
    assert {r["event"] for r in records if r["kind"] == "history"} >= {"ADD", "UPDATE", "SUPERSEDE"}
    assert "vector" not in lisbon


def test_round_trip_restores_the_same_archive(filled, tmp_path):
    """Export, delete, import into an empty project (ids kept), export again: the same archive."""
    first = export(filled, tmp_path, with_vectors=True)
    path = write(tmp_path, first)
    Project.objects.filter(pk=filled.pk).delete()
    assert not Memory.objects.exists()
    call_command("import_project", path, project="restored", no_progress=True)
    again = export(Project.objects.get(slug="restored"), tmp_path, "b.jsonl", with_vectors=True)
    assert body(again) == body(first)


def test_sources_traces_and_events_round_trip_and_follow_a_remap(project, tmp_path):
    """An inferred add and a supersession: their add events, messages, links, decision traces and
    the history rows' trace all come back, with ids kept and with ids remapped."""
    from memories.services import add_ingest

    scope = Scope(user_id="alice")
    add_ingest(project=project, messages=[{"role": "user", "content": "I live in Paris."}], scope=scope, now=T0)
    add_ingest(
        project=project,
        messages=[{"role": "user", "content": "I moved to Berlin."}],
        scope=scope,
        now=T0 + timedelta(days=2),
    )
    first = export(project, tmp_path, with_vectors=True)
    counts = first[0]["counts"]
    assert counts["event"] == 2 and counts["source"] == 2 and counts["source_link"] == 2 and counts["trace"] == 2
    traced = [r for r in first if r["kind"] == "history" and r["trace"]]
    assert traced and {r["trace"] for r in traced} <= {r["id"] for r in first if r["kind"] == "trace"}
    path = write(tmp_path, first)

    call_command("import_project", path, project="copy", remap_ids=True, no_progress=True)
    copy = Project.objects.get(slug="copy")
    assert MemorySource.objects.filter(project=copy).count() == 2
    for link in MemorySourceLink.objects.filter(project=copy).select_related("memory", "source"):
        assert link.memory.project_id == copy.pk and link.source.project_id == copy.pk
    berlin = Memory.objects.get(project=copy, memory__contains="Berlin")
    trace = DecisionTrace.objects.get(project=copy, memory=berlin)
    paris = Memory.objects.get(project=copy, memory__contains="Paris")
    assert trace.decision == "SUPERSEDE" and trace.target_id == paris.pk
    assert trace.source_ids == [str(berlin.sources.get().pk)]
    assert MemoryHistory.objects.filter(project=copy, trace=trace).exists()

    Project.objects.filter(pk=project.pk).delete()
    call_command("import_project", path, project="restored", no_progress=True)
    again = export(Project.objects.get(slug="restored"), tmp_path, "b.jsonl", with_vectors=True)
    assert body(again) == body(first)


def test_a_link_to_a_source_outside_the_archive_is_refused(project, tmp_path):
    from memories.services import add_ingest

    add_ingest(project=project, messages="I like tea", scope=Scope(user_id="alice"), infer=False, now=T0)
    records = export(project, tmp_path)
    link = next(r for r in records if r["kind"] == "source_link")
    link["source"] = str(uuid.uuid4())
    with pytest.raises(CommandError, match="is not a source of the archive"):
        call_command("import_project", write(tmp_path, records), project="bad", no_progress=True)
    assert not Project.objects.filter(slug="bad").exists()


def test_round_trip_keeps_the_memory_type(project, add, tmp_path):
    add(project, "Task: book a table. 1. Ask for the date", agent_id="bot", memory_type="procedural_memory", now=T0)
    first = export(project, tmp_path)
    assert [r.get("memory_type") for r in first[1:] if r["kind"] == "memory"] == ["procedural_memory"]
    Project.objects.filter(pk=project.pk).delete()
    call_command("import_project", write(tmp_path, first), project="restored", no_progress=True)
    assert Memory.objects.get(project__slug="restored").memory_type == "procedural_memory"


def test_round_trip_with_remapped_ids(filled, tmp_path):
    """Next to the original: every id is new; with the id map applied, the records are the same."""
    first = export(filled, tmp_path, name="a.jsonl.gz")
    call_command(
        "import_project",
        str(tmp_path / "a.jsonl.gz"),
        project="copy",
        remap_ids=True,
        id_map=str(tmp_path / "map.json"),
        no_progress=True,
    )
    again = export(Project.objects.get(slug="copy"), tmp_path, "b.jsonl")
    id_map = json.loads((tmp_path / "map.json").read_text())
    old_to_new = {old: new for table in id_map.values() for old, new in table.items()}
    assert len(old_to_new) == sum(
        first[0]["counts"][k] for k in ("memory", "history", "relationship", "entity_relation")
    )
    assert not set(old_to_new) & set(old_to_new.values())
    mapped = json.loads(
        json.dumps(body(first)),
        object_hook=lambda d: {k: old_to_new.get(v, v) if isinstance(v, str) else v for k, v in d.items()},
    )
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731 (records of one instant may come in another order)
    assert sorted(map(key, body(again))) == sorted(map(key, mapped))
    assert Memory.objects.filter(project=filled).count() == 5  # the original is untouched


def test_a_user_archive_holds_only_that_user(filled, tmp_path):
    records = export(filled, tmp_path, user_id="alice")
    assert records[0]["user_id"] == "alice"
    for record in records[1:]:
        if record["kind"] == "entity":
            assert (record["type"], record["name"]) == ("user", "alice")
        elif record["kind"] != "relationship":
            assert record["user_id"] == "alice", record
    texts = {r.get("memory") for r in records}
    assert "User plays the contrabassoon" not in texts and "Bot speaks Portuguese" not in texts


def test_import_embeds_again_when_the_model_differs(project, add, tmp_path):
    add(project, "User collects vintage maps", "User is allergic to peanuts", user_id="carol", now=T0)
    records = export(project, tmp_path, with_vectors=True)
    unit = [0.0] * 384
    unit[7] = 1.0
    for record in records[1:]:
        if record["kind"] == "memory":
            record["vector"] = unit
    target = new_project("target")

    def run(records):
        return archive_import(project=target, open_records=lambda: enumerate(records, 1), remap_ids=True)

    # Same model: the archive's vectors are stored as they are.
    report = run(records)
    assert report.re_embedded == 0
    stored = list(Memory.objects.filter(project=target))
    assert all(np.allclose(m.embedding, unit) for m in stored)

    # Another model: the texts are embedded here, and the rows say by which model.
    records[0]["embedding"]["model"] = "text-embedding-3-small"
    Memory.objects.filter(project=target).delete()
    report = run(records)
    assert report.re_embedded == 2
    for memory in Memory.objects.filter(project=target):
        # Embedded in one batch (bfloat16 where the CPU has it): the model's vector to cosine 0.9999.
        assert np.dot(memory.embedding, embed_texts([memory.memory])[0]) > 0.9999
        assert memory.embedding_model == get_embedder().model_name

    # No vectors at all: embedded here too.
    for record in records:
        record.pop("vector", None)
    records[0]["embedding"] = {"model": get_embedder().model_name, "vectors": False}
    Memory.objects.filter(project=target).delete()
    assert run(records).re_embedded == 2


# --- bad archives write nothing ----------------------------------------------------------------


def _valid(project, add, tmp_path) -> list[dict]:
    first, second = add(project, "User likes chess", "User likes go", user_id="dan", now=T0)
    relationship_create(project=project, source_id=first.id, target_id=second.id, relation="related_to")
    return export(project, tmp_path)


def _memory(records):
    return next(r for r in records if r["kind"] == "memory")


BREAKAGES = {
    "cut off": lambda rs: rs[:-1],
    "a second header": lambda rs: [*rs, rs[0]],
    "unknown kind": lambda rs: [*rs[:1], {"kind": "source", "id": "x"}, *rs[1:]],
    "newer version": lambda rs: [{**rs[0], "version": 99}, *rs[1:]],
    "no header": lambda rs: rs[1:],
    "empty text": lambda rs: [{**r, "memory": " "} if r is _memory(rs) else r for r in rs],
    "bad time": lambda rs: [{**r, "created_at": "yesterday"} if r is _memory(rs) else r for r in rs],
    "valid_to before valid_from": lambda rs: [
        {**r, "valid_to": "2000-01-01T00:00:00+00:00"} if r is _memory(rs) else r for r in rs
    ],
    "no scope": lambda rs: [{**r, "user_id": None} if r is _memory(rs) else r for r in rs],
    "dangling edge": lambda rs: [
        {**r, "target": "00000000-0000-4000-8000-000000000000"} if r["kind"] == "relationship" else r for r in rs
    ],
    "weight": lambda rs: [{**r, "weight": 3} if r["kind"] == "relationship" else r for r in rs],
    "duplicate id": lambda rs: [*rs[:2], rs[1], *rs[2:]],
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_malformed_archive_writes_nothing(project, add, tmp_path, breakage):
    records = BREAKAGES[breakage](_valid(project, add, tmp_path))
    if breakage == "duplicate id":
        records[0]["counts"]["memory"] += 1
    path = write(tmp_path, records)
    before = (
        Memory.objects.count(),
        MemoryHistory.objects.count(),
        Relationship.objects.count(),
        Project.objects.count(),
    )
    with pytest.raises(CommandError, match="Invalid archive"):
        call_command("import_project", path, project="fresh", remap_ids=True, no_progress=True)
    after = (
        Memory.objects.count(),
        MemoryHistory.objects.count(),
        Relationship.objects.count(),
        Project.objects.count(),
    )
    assert after == before  # not even the project was made


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"not json\n", "not JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"kind": "header", "format": "other"}\n', "format"),
        (gzip.compress(b"\n" * 100_000)[:-12], "gzip"),
        (b"\xff\xfe\n", "UTF-8"),
        (b"", "empty"),
    ],
)
def test_unreadable_archives_are_a_422_over_http(project, make_key, client, raw, message):
    key = make_key(project, scopes="admin")
    response = client.post(
        "/v1/archive/import", raw, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert message in error_of(response, 422, "INVALID_ARCHIVE")["detail"]
    assert not Memory.objects.filter(project=project).exists()


def test_ids_in_use_are_a_conflict_unless_remapped(project, add, tmp_path):
    records = _valid(project, add, tmp_path)
    path = write(tmp_path, records)
    before = Memory.objects.count()
    with pytest.raises(CommandError, match="in use already"):
        call_command("import_project", path, project="twin", no_progress=True)
    assert Memory.objects.count() == before and not Project.objects.filter(slug="twin").exists()
    call_command("import_project", path, project="twin", remap_ids=True, no_progress=True)
    assert Memory.objects.filter(project__slug="twin").count() == 2


# --- over HTTP ---------------------------------------------------------------------------------


def _lines(response) -> list[dict]:
    data = b"".join(response.streaming_content)
    if response["Content-Type"] == "application/gzip":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def test_export_and_import_over_http(filled, make_key, client):
    owner = make_key(filled, scopes="admin")
    response = client.get("/v1/archive/export?gzip=true&with_vectors=true", HTTP_AUTHORIZATION=f"Token {owner}")
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"] == 'attachment; filename="default.jsonl.gz"'
    archive = b"".join(response.streaming_content)
    records = [json.loads(line) for line in gzip.decompress(archive).splitlines()]
    assert records[0]["counts"]["memory"] == 5 and len(records[1]["kind"]) > 0

    other = new_project("other")
    other_key = make_key(other, scopes="admin")
    response = client.post(
        "/v1/archive/import?remap_ids=true",
        archive,
        content_type="application/gzip",
        HTTP_AUTHORIZATION=f"Token {other_key}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["counts"] == records[0]["counts"] and response.json()["re_embedded"] == 0
    assert Memory.objects.filter(project=other).count() == 5
    assert EntityRelation.objects.filter(project=other).count() == records[0]["counts"]["entity_relation"]
    assert RegisteredEntity.objects.filter(project=other, name="alice").exists()

    # Again, ids kept: they are in use now.
    response = client.post(
        "/v1/archive/import", archive, content_type="application/gzip", HTTP_AUTHORIZATION=f"Token {other_key}"
    )
    error_of(response, 409, "CONFLICT")
    assert Memory.objects.filter(project=other).count() == 5


def test_who_may_export_and_import(filled, make_key, client):
    def get(path, key):
        return client.get(path, HTTP_AUTHORIZATION=f"Token {key}")

    alice = make_key(filled, scopes="read,write,admin", user_id="alice")
    # A key restricted to alice: alice only, whatever it asks.
    error_of(get("/v1/archive/export?user_id=bob", alice), 404, "USER_NOT_FOUND")
    records = _lines(get("/v1/archive/export", alice))
    assert records[0]["user_id"] == "alice"
    assert {r.get("user_id") for r in records[1:] if r["kind"] == "memory"} == {"alice"}
    # A read key: one user, not the whole project, and no imports.
    reader = make_key(filled, scopes="read")
    assert _lines(get("/v1/archive/export?user_id=bob", reader))[0]["counts"]["memory"] == 1
    assert "admin" in error_of(get("/v1/archive/export", reader), 403, "FORBIDDEN")["detail"]
    error_of(get("/v1/archive/export?user_id=nobody", reader), 404, "USER_NOT_FOUND")
    header = json.dumps({"kind": "header", "format": "mem0g-archive", "version": 1, "counts": {}})
    for key in (reader, make_key(filled, scopes="read,write"), alice):
        response = client.post(
            "/v1/archive/import", header, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Token {key}"
        )
        error_of(response, 403, "FORBIDDEN")


def test_size_limits(filled, make_key, client, settings):
    key = make_key(filled, scopes="admin")
    settings.ARCHIVE_EXPORT_MAX_RECORDS = 3
    error_of(client.get("/v1/archive/export", HTTP_AUTHORIZATION=f"Token {key}"), 413, "ARCHIVE_TOO_LARGE")
    settings.ARCHIVE_IMPORT_MAX_BYTES = 2048
    response = client.post(
        "/v1/archive/import", b"x" * 4096, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert "ARCHIVE_IMPORT_MAX_BYTES" in error_of(response, 413, "PAYLOAD_TOO_LARGE")["detail"]
    # Larger than a plain request may be, within the archive limit: accepted (and read).
    settings.ARCHIVE_IMPORT_MAX_BYTES = 8 * 1024 * 1024
    settings.MAX_REQUEST_BYTES = 1024
    blank = b"\n" * 4096
    response = client.post(
        "/v1/archive/import", blank, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert "empty" in error_of(response, 422, "INVALID_ARCHIVE")["detail"]
    # A gzipped body that unpacks past the limit.
    settings.ARCHIVE_IMPORT_MAX_BYTES = 64 * 1024
    bomb = gzip.compress(b"\n" * (1024 * 1024))
    response = client.post(
        "/v1/archive/import", bomb, content_type="application/gzip", HTTP_AUTHORIZATION=f"Token {key}"
    )
    error_of(response, 413, "ARCHIVE_TOO_LARGE")


# --- from Mem0 ---------------------------------------------------------------------------------

MEM0_ITEM = {
    "id": "0f3b2c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "memory": "Likes hiking in the Alps",
    "hash": "x",
    "metadata": {"source": "chat"},
    "created_at": "2024-07-20T01:02:03.456789-07:00",
    "updated_at": "2024-07-21T01:02:03-07:00",
    "user_id": "erin",
    "actor_id": "erin",
    "role": "user",
    "expiration_date": "2030-01-31",
}


def _check_mem0_import(project_slug: str, count: int = 1):
    memory = Memory.objects.get(project__slug=project_slug, id=MEM0_ITEM["id"])
    assert memory.memory == "Likes hiking in the Alps" and memory.user_id == "erin"
    assert memory.metadata == {"source": "chat"} and memory.actor_id == "erin" and memory.role == "user"
    assert memory.created_at == datetime(2024, 7, 20, 8, 2, 3, 456789, tzinfo=UTC) == memory.valid_from
    assert memory.expiration_date == datetime(2030, 2, 1, tzinfo=UTC)
    assert memory.embedding_model == get_embedder().model_name
    assert np.dot(memory.embedding, embed_texts([memory.memory])[0]) > 0.9999  # see test_import_embeds_again...
    history = MemoryHistory.objects.get(memory_id=memory.id)
    assert history.event == "ADD" and history.new_memory == memory.memory and history.created_at == memory.created_at
    assert Memory.objects.filter(project__slug=project_slug).count() == count


def test_import_from_mem0_oss_get_all(db, tmp_path):
    other = {"id": "1a2b3c4d-0000-4000-8000-000000000001", "memory": "Owns a bike", "metadata": None}
    path = tmp_path / "get_all.json"
    path.write_text(json.dumps({"results": [MEM0_ITEM, other], "relations": []}))
    with pytest.raises(CommandError, match="item 1: no user_id"):
        call_command("import_project", str(path), project="m0", source="mem0-oss", no_progress=True)
    assert not Memory.objects.exists()
    call_command("import_project", str(path), project="m0", source="mem0-oss", user_id="erin", no_progress=True)
    _check_mem0_import("m0", count=2)


def _payload(item: dict) -> dict:
    payload = {**item.pop("metadata"), "data": item.pop("memory")}
    item.pop("id")
    return {**payload, **item, "text_lemmatized": "like hike alp"}


def test_import_from_a_mem0_pgvector_dump(db, tmp_path):
    payload = _payload(dict(MEM0_ITEM))
    entity_row = {"data": "alps", "entity_type": "location", "linked_memory_ids": [MEM0_ITEM["id"]], "user_id": "erin"}
    vector = "[" + ",".join(["0.01"] * 1536) + "]"
    # psql: \copy mem0 TO 'mem0.csv' CSV HEADER
    csv_dump = tmp_path / "mem0.csv"
    with open(csv_dump, "w", newline="") as file:
        import csv

        writer = csv.writer(file)
        writer.writerow(["id", "vector", "payload"])
        writer.writerow([MEM0_ITEM["id"], vector, json.dumps(payload)])
        writer.writerow(["2b2b2b2b-0000-4000-8000-000000000002", vector, json.dumps(entity_row)])
    call_command("import_project", str(csv_dump), project="pgcsv", source="mem0-pgvector", no_progress=True)
    _check_mem0_import("pgcsv")

    # pg_dump --table=mem0 (plain SQL): the COPY block, text format with its escapes.
    escaped = (
        json.dumps({**payload, "note": 'tab\there "quoted" back\\slash'}).replace("\\", "\\\\").replace("\t", "\\t")
    )
    sql_dump = tmp_path / "mem0.sql"
    sql_dump.write_text(
        "SET statement_timeout = 0;\n"
        "CREATE TABLE public.mem0 (id uuid NOT NULL, vector public.vector(1536), payload jsonb);\n"
        "COPY public.mem0 (id, vector, payload) FROM stdin;\n"
        f"{MEM0_ITEM['id']}\t{vector}\t{escaped}\n"
        "\\.\n"
    )
    call_command(
        "import_project", str(sql_dump), project="pgsql", source="mem0-pgvector", remap_ids=True, no_progress=True
    )
    memory = Memory.objects.get(project__slug="pgsql")
    assert memory.metadata == {"source": "chat", "note": 'tab\there "quoted" back\\slash'}
    assert memory.memory == "Likes hiking in the Alps"


def test_import_from_a_mem0_platform_export(db, tmp_path):
    item = {**MEM0_ITEM, "categories": ["hobbies"], "app_id": "travel"}
    export_result = {
        "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
        "status": "COMPLETED",
        "schema": {},
        "filters": {"user_id": "erin"},
        "results": [item],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export_result))
    call_command("import_project", str(path), project="plat", source="mem0-platform", no_progress=True)
    _check_mem0_import("plat")
    memory = Memory.objects.get(project__slug="plat")
    assert memory.categories == ["hobbies"] and memory.app_id == "travel"
    path.write_text(json.dumps({"status": "COMPLETED"}))
    with pytest.raises(CommandError, match="not a Mem0 Platform export"):
        call_command("import_project", str(path), project="plat2", source="mem0-platform", no_progress=True)


def test_progress_goes_to_stderr(filled, tmp_path, capsys):
    call_command("export_project", filled.slug, output=str(tmp_path / "a.jsonl"))
    err = capsys.readouterr().err
    assert "exporting" in err and "wrote" in err
    call_command("import_project", str(tmp_path / "a.jsonl"), project="p2", remap_ids=True)
    captured = capsys.readouterr()
    assert "checking" in captured.err and "importing" in captured.err and "imported into" in captured.out


def test_the_reader_streams_lines(tmp_path):
    data = b'{"kind": "header"}\n\n{"kind": "memory"}\n'
    assert [n for n, _ in read_records(io.BytesIO(gzip.compress(data)))] == [1, 3]
