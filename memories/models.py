import hashlib
import uuid
from datetime import datetime

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import HnswIndex

from mem0g_site.constraints import CompositeForeignKey
from mem0g_site.temporal import TemporalModel, TemporalQuerySet
from memories.vectors import EmbeddingField

EMBEDDING_DIMENSIONS = 384
SCOPE_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
# Mem0's memory kinds: an ordinary memory has none (NULL); "procedural_memory" is an agent's summary
# of how it carried out a task (Mem0's ``add(memory_type="procedural_memory")``, agent_id required).
PROCEDURAL = "procedural_memory"
MEMORY_TYPES = (PROCEDURAL,)


def memory_hash(text: str) -> str:
    """The content hash Mem0 stores: md5 of the UTF-8 text."""
    return hashlib.md5(text.encode()).hexdigest()


def expired_by(moment: datetime) -> Q:
    """The memories whose expiration date has come at ``moment`` (the complement of ``unexpired``)."""
    return Q(expiration_date__lte=moment)


class MemoryQuerySet(TemporalQuerySet):
    def for_project(self, project):
        return self.filter(project=project)

    def expired(self, moment: datetime | None = None):
        return self.filter(expired_by(moment or timezone.now()))

    def unexpired(self, moment: datetime | None = None):
        moment = moment or timezone.now()
        return self.filter(Q(expiration_date__isnull=True) | Q(expiration_date__gt=moment))

    def live(self, moment: datetime | None = None):
        """What reads show by default: current and not expired."""
        return self.current().unexpired(moment)

    def visible(self, *, as_of: datetime | None = None, include_expired: bool = False, now: datetime | None = None):
        """What a read shows: what holds now (:meth:`live`), or with ``as_of`` what held at that moment
        as we know it now, so a fact recorded later about an earlier time (an import with observation
        dates, a superseded fact) shows for the time it held. ``include_expired`` keeps expired rows.
        ``now``: the moment "now" means (default: the clock's)."""
        queryset = self.as_known(as_of=as_of) if as_of is not None else self.current()
        return queryset if include_expired else queryset.unexpired(as_of or now)


class Memory(TemporalModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own on project: (project_id, id) and the scope indexes lead with it (one B-tree
    # fewer to update per row written; the same below for the add's other rows).
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="memories", db_index=False)
    user_id = models.CharField(max_length=255, null=True, blank=True)
    agent_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=255, null=True, blank=True)
    run_id = models.CharField(max_length=255, null=True, blank=True)
    memory = models.TextField()
    hash = models.CharField(max_length=32)
    metadata = models.JSONField(default=dict, blank=True)
    categories = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    embedding = EmbeddingField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    # The moment the memory stops being served (Mem0's expiration_date; a date D means "through D").
    expiration_date = models.DateTimeField(null=True, blank=True)
    immutable = models.BooleanField(default=False)
    actor_id = models.CharField(max_length=255, null=True, blank=True)
    role = models.CharField(max_length=50, null=True, blank=True)
    memory_type = models.CharField(
        max_length=32, null=True, blank=True, choices=[(kind, kind) for kind in MEMORY_TYPES], default=None
    )
    # A memory of the same project whose embedding equals this one's and which holds the HNSW entry
    # of that vector (its "canonical"; it names none itself). A memory naming one is not in
    # memory_embedding_hnsw (a partial index): search finds it through the canonical's entry
    # (memories.ranking.walked_canonicals_sql), so a fact said word for word by thousands of users
    # is one entry of the graph, not a clump of thousands of identical vectors that fill each
    # other's neighbour slots (a walk that enters such a clump cannot leave it). Set by the add when
    # the project holds the same text with the same vector (``memories_write``); a canonical keeps
    # its entry whatever its state. The database sets it NULL when the canonical is deleted
    # (``memories_memory_vector_memory_in_project``), the services re-home the rows naming a memory
    # whose embedding changes (``memories.services.records.memories_unshare_vectors``).
    # ``embedding`` stays filled either way: the exact path scores it.
    vector_memory = models.ForeignKey(
        "self", on_delete=models.DO_NOTHING, null=True, blank=True, db_index=False, related_name="+"
    )

    objects = MemoryQuerySet.as_manager()

    class Meta(TemporalModel.Meta):
        verbose_name_plural = "memories"
        constraints = [
            *TemporalModel.Meta.constraints,
            # What relationships and entity relations point at (project, memory): both ends of an edge
            # in one project, and a key Citus accepts between tables distributed by project_id.
            models.UniqueConstraint(fields=["project", "id"], name="memories_memory_project_id"),
            # The canonical in the row's project; the database sets the column NULL when it is deleted
            # (each row naming it then enters memory_embedding_hnsw: one HNSW insert each).
            CompositeForeignKey(
                fields=["project", "vector_memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="memories_memory_vector_memory_in_project",
                set_null_on_delete=["vector_memory"],
            ),
        ]
        indexes = [
            # Filtered vector search: ORDER BY embedding <=> :query (memories.search.memory_search),
            # over the memories that name no canonical (see ``vector_memory``).
            HnswIndex(
                name="memory_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
                condition=Q(vector_memory__isnull=True),
            ),
            # The add's look-up of a canonical for the text it writes (memories.services.records
            # .memories_write): the project's canonicals of one hash.
            models.Index(
                fields=["project", "hash"], name="memory_canonical_hash", condition=Q(vector_memory__isnull=True)
            ),
            # The rows naming a canonical: the search's walk through the canonicals (EXISTS: does
            # this user hold a row naming it? one probe, where a canonical may be named by thousands
            # of users' rows), their re-homing when its embedding changes, the key's ON DELETE SET NULL.
            models.Index(
                fields=["vector_memory", "user_id"],
                name="memory_vector_memory_user",
                condition=Q(vector_memory__isnull=False),
            ),
            # Scope filters and "newest first" lists for one user / agent / app / run.
            models.Index(fields=["project", "user_id", "-created_at"], name="memory_project_user"),
            models.Index(fields=["project", "agent_id", "-created_at"], name="memory_project_agent"),
            models.Index(fields=["project", "app_id", "-created_at"], name="memory_project_app"),
            models.Index(fields=["project", "run_id", "-created_at"], name="memory_project_run"),
            # Project-wide lists, newest first (memories.selectors.memory_list without a scope).
            models.Index(fields=["project", "-created_at", "-id"], name="memory_project_created"),
            # Metadata filters ({"metadata": {"k": "v"}} -> metadata @> ...). No pending list: every
            # lookup would read it whole (memories migration 0020).
            GinIndex(fields=["metadata"], name="memory_metadata_gin", opclasses=["jsonb_path_ops"], fastupdate=False),
        ]

    def __str__(self) -> str:
        return self.memory[:80]

    @property
    def is_expired(self) -> bool:
        return self.expiration_date is not None and self.expiration_date <= timezone.now()

    @property
    def state(self) -> str:
        if self.invalidated_at is not None or self.valid_to is not None:
            return "superseded"
        if self.is_expired:
            return "expired"
        return "current"


class MemoryHistory(models.Model):
    """One row per ADD/UPDATE/DELETE of a memory (Mem0's history row). Outlives the memory."""

    class Event(models.TextChoices):
        ADD = "ADD"
        UPDATE = "UPDATE"
        DELETE = "DELETE"
        SUPERSEDE = "SUPERSEDE"  # closed by a newer fact: old_memory is its text, new_memory its successor's

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="memory_history", db_index=False
    )
    # Not a foreign key: the history must survive the memory's deletion.
    memory_id = models.UUIDField()
    event = models.CharField(max_length=10, choices=Event.choices)
    old_memory = models.TextField(null=True, blank=True)
    new_memory = models.TextField(null=True, blank=True)
    old_metadata = models.JSONField(null=True, blank=True)
    new_metadata = models.JSONField(null=True, blank=True)
    user_id = models.CharField(max_length=255, null=True, blank=True)
    agent_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=255, null=True, blank=True)
    run_id = models.CharField(max_length=255, null=True, blank=True)
    actor_id = models.CharField(max_length=255, null=True, blank=True)
    role = models.CharField(max_length=50, null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The add decision that made this change (None for edits, deletes and older rows).
    trace = models.ForeignKey(
        "memories.DecisionTrace", on_delete=models.SET_NULL, null=True, blank=True, related_name="history"
    )

    class Meta:
        verbose_name_plural = "memory history"
        ordering = ["created_at", "id"]
        # The trace in the row's project (co-located under Citus, docs/SCALING.md).
        constraints = [
            CompositeForeignKey(
                fields=["project", "trace"],
                to="memories.DecisionTrace",
                to_fields=["project", "id"],
                name="memories_history_trace_in_project",
            ),
        ]
        indexes = [
            # memories.selectors.memory_history: one memory's rows in time order.
            models.Index(fields=["project", "memory_id", "created_at"], name="history_project_memory"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.memory_id}"


class MemoryFeedback(models.Model):
    """What an app said about a memory (Mem0's feedback endpoint): kept for curation."""

    class Kind(models.TextChoices):
        POSITIVE = "POSITIVE"
        NEGATIVE = "NEGATIVE"
        VERY_NEGATIVE = "VERY_NEGATIVE"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="memory_feedback")
    memory_id = models.UUIDField(db_index=True)
    feedback = models.CharField(max_length=20, choices=Kind.choices, null=True, blank=True)
    feedback_reason = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "memory feedback"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.feedback or 'no feedback'} on {self.memory_id}"


class MemoryExport(models.Model):
    """A snapshot of the memories matching some filters, in the shape the caller's schema asks for."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="memory_exports")
    schema = models.JSONField(default=dict, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=list, blank=True)
    # The user a restricted key made it for: only that user's memories are in it, and only keys of
    # that user (or unrestricted ones) find it. None: made by an unrestricted key.
    user_id = models.CharField(max_length=255, null=True, blank=True)
    # Where the next export of the same filters starts (``cursor``), when more rows matched than one
    # export holds (EXPORT_MAX_ROWS); None when this export reached the end.
    next_cursor = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id}"


class AddEvent(models.Model):
    """One add request and what came of it (Mem0's events: ``GET /v1/event/{id}/``)."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="add_events", db_index=False)
    user_id = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payload = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        # The target of the (project, add_event) keys of sources and traces.
        constraints = [models.UniqueConstraint(fields=["project", "id"], name="memories_addevent_project_id")]
        indexes = [
            # memories.selectors.add_event_list: a project's events, newest first.
            models.Index(fields=["project", "-created_at"], name="addevent_project_created"),
        ]

    def __str__(self) -> str:
        return f"add {self.id} {self.status}"


class MemorySource(models.Model):
    """One message an add received, kept as said (role, speaker's name, words, observation time),
    whether or not a fact came of it. Facts link to the messages they came from
    (:class:`MemorySourceLink`). Belongs to the add's scope and is deleted with it, and with the
    memories it produced (docs/API.md, "Sources")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="memory_sources", db_index=False
    )
    user_id = models.CharField(max_length=255, null=True, blank=True)
    agent_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=255, null=True, blank=True)
    run_id = models.CharField(max_length=255, null=True, blank=True)
    add_event = models.ForeignKey(AddEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="sources")
    position = models.PositiveIntegerField(default=0)  # its index among the add's messages
    role = models.CharField(max_length=50)
    name = models.CharField(max_length=255, null=True, blank=True)
    content = models.TextField()
    observed_at = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)  # the add's metadata, as the client sent it
    embedding = EmbeddingField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    # The memory whose embedding equals this message's and which holds that vector's entry in
    # memory_embedding_hnsw: the memory a verbatim add wrote from it (same words, same vector), or
    # that memory's canonical (``Memory.vector_memory``). Such a message is not in
    # source_embedding_hnsw (a partial index): search finds it through that memory's entry, so a
    # verbatim add builds one HNSW entry per message instead of two. The database sets it NULL when the memory
    # is deleted (``memories_source_vector_memory_in_project``), the services when the memory's
    # embedding changes (``memories.services.records.memories_unshare_vectors``); the message then
    # enters its own index. ``embedding`` stays filled either way: the exact path scores it.
    vector_memory = models.ForeignKey(
        Memory, on_delete=models.DO_NOTHING, null=True, blank=True, db_index=False, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    memories = models.ManyToManyField(Memory, through="MemorySourceLink", related_name="sources")

    class Meta:
        ordering = ["observed_at", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "id"], name="memories_memorysource_project_id"),
            CompositeForeignKey(
                fields=["project", "add_event"],
                to="memories.AddEvent",
                to_fields=["project", "id"],
                name="memories_source_event_in_project",
            ),
            # The one key that acts on delete: a message whose vector memory goes keeps its own vector.
            CompositeForeignKey(
                fields=["project", "vector_memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="memories_source_vector_memory_in_project",
                set_null_on_delete=["vector_memory"],
            ),
        ]
        indexes = [
            # memories.search.source_list: one scope's sources, newest first.
            models.Index(fields=["project", "user_id", "-observed_at"], name="source_project_user"),
            models.Index(fields=["project", "agent_id", "-observed_at"], name="source_project_agent"),
            models.Index(fields=["project", "app_id", "-observed_at"], name="source_project_app"),
            models.Index(fields=["project", "run_id", "-observed_at"], name="source_project_run"),
            # The messages naming a memory's vector: the search's walk through the canonical memories
            # (EXISTS, one probe for a user's even when thousands of users' messages name the same
            # canonical), their re-homing, and the key's ON DELETE SET NULL.
            models.Index(
                fields=["vector_memory", "user_id"],
                name="source_vector_memory_user",
                condition=Q(vector_memory__isnull=False),
            ),
            # memories.search.source_search (and search with include_sources) for large scopes: the
            # messages that share no memory's vector; the others are found through
            # memory_embedding_hnsw (memories.ranking.shared_vector_ranking).
            HnswIndex(
                name="source_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
                condition=Q(vector_memory__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.role}: {self.content[:60]}"


class MemorySourceLink(models.Model):
    """A fact (memory) came from a message (source). A fact may come from several messages, and a
    message may give several facts, or none."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="source_links")
    # Indexed by source_link_source (and the project by source_link_unique).
    source = models.ForeignKey(MemorySource, on_delete=models.CASCADE, related_name="links", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "memory", "source"], name="source_link_unique"),
            CompositeForeignKey(
                fields=["project", "memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="memories_source_link_memory_in_project",
            ),
            CompositeForeignKey(
                fields=["project", "source"],
                to="memories.MemorySource",
                to_fields=["project", "id"],
                name="memories_source_link_source_in_project",
            ),
        ]
        # The source side (a source's facts) is served by this index; the memory side by the unique one.
        indexes = [models.Index(fields=["source"], name="source_link_source")]

    def __str__(self) -> str:
        return f"{self.memory_id} <- {self.source_id}"


# Extractors that store what was said as it was said: nothing of theirs is inferred.
NOT_INFERRED = ("verbatim", "procedural", "attachment")


def is_inferred_change(decision: str, extractor: str) -> bool:
    """Whether a decision changed (or, held, would change) memories by inference: an ADD, UPDATE or
    SUPERSEDE of an extracted fact (the rules' or an LLM's), not a message stored verbatim. These
    are what the review queue lists."""
    return decision in ("ADD", "UPDATE", "SUPERSEDE") and extractor not in NOT_INFERRED


class DecisionTrace(models.Model):
    """What one add decided about one fact, and why: the extractor that produced the fact, the
    candidates it was compared with (id, text, similarity), the decision and its reason. Read
    from the add event and from the memory's history rows (``MemoryHistory.trace``)."""

    class Decision(models.TextChoices):
        ADD = "ADD"
        UPDATE = "UPDATE"
        SUPERSEDE = "SUPERSEDE"
        NONE = "NONE"

    class ReviewState(models.TextChoices):
        NONE = "none"  # nothing to review: stored verbatim, or nothing changed (NONE)
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="decision_traces", db_index=False
    )
    user_id = models.CharField(max_length=255, null=True, blank=True)
    agent_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=255, null=True, blank=True)
    run_id = models.CharField(max_length=255, null=True, blank=True)
    # Found through trace_event_position (add_event_id, position): no index of its own.
    add_event = models.ForeignKey(AddEvent, on_delete=models.CASCADE, related_name="traces", db_index=False)
    position = models.PositiveIntegerField(default=0)  # the fact's order in the add
    fact = models.TextField()
    extractor = models.CharField(max_length=150)  # "rules:<kind>", "llm:<model>" or "verbatim"
    candidates = models.JSONField(default=list, blank=True)  # [{"id", "text", "score"}], best first
    decision = models.CharField(max_length=10, choices=Decision.choices)
    target_id = models.UUIDField(null=True, blank=True)  # the candidate updated, superseded or repeated
    reason = models.JSONField(default=dict, blank=True)  # {"rule", "detail", "slot"?, "similarity"?}
    source_ids = models.JSONField(default=list, blank=True)  # the MemorySource ids of the messages it came from
    # The memory written (ADD, UPDATE, SUPERSEDE) or found already holding the fact (NONE); for a
    # held change, the memory it would change (it stays current until the change is accepted).
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, null=True, blank=True, related_name="traces")
    created_at = models.DateTimeField(default=timezone.now)
    # The review queue (memories.review): an inferred change (ADD, UPDATE or SUPERSEDE decided by an
    # extractor, not stored verbatim) waits as PENDING until someone accepts, rejects or edits it.
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.NONE)
    reviewed_by = models.CharField(max_length=255, null=True, blank=True)  # "ui:<username>", "admin:<username>"
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # A change the project's review_mode kept from taking effect: {"text", "observed_at"}, what accepting
    # it writes. None once applied (or for changes applied at once).
    held = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "id"], name="memories_decisiontrace_project_id"),
            CompositeForeignKey(
                fields=["project", "add_event"],
                to="memories.AddEvent",
                to_fields=["project", "id"],
                name="memories_trace_event_in_project",
            ),
            CompositeForeignKey(
                fields=["project", "memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="memories_trace_memory_in_project",
            ),
        ]
        indexes = [
            # GET /v1/event/{id}/: an add's traces in fact order.
            models.Index(fields=["add_event", "position"], name="trace_event_position"),
            # Deleting a scope's traces.
            models.Index(fields=["project", "user_id"], name="trace_project_user"),
            # The review queue: a project's (or a user's) inferred changes in one state, newest first.
            models.Index(fields=["project", "review_state", "-created_at"], name="trace_project_review"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.fact[:60]}"

    @property
    def is_held(self) -> bool:
        return self.held is not None
