"""Relationships between memories: directed, typed, weighted edges that carry both time axes.

``source`` ``relation`` ``target`` reads as a sentence ("A supersedes B": A is the newer memory).
Both ends belong to the edge's project; deleting either memory deletes the edge (no dangling edges).
A relationship is closed (``valid_to``) when it stops holding and retracted (``invalidated_at``) when
the record was wrong; neither removes the row.
"""

import uuid

from django.db import models
from django.db.models import F, Q

from mem0g_site.constraints import CompositeForeignKey
from mem0g_site.temporal import TemporalModel, TemporalQuerySet, current_q

RELATION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
RELATION_MAX_LENGTH = 64
# The relations the server itself writes or reads; any other lower_snake_case verb phrase works too.
RELATED_TO = "related_to"
SUPERSEDES = "supersedes"
KNOWN_RELATIONS = (RELATED_TO, "applies_to", SUPERSEDES, "part_of", "caused_by", "contradicts")


class RelationshipQuerySet(TemporalQuerySet):
    def for_project(self, project):
        return self.filter(project=project)

    def within(self, scope):
        """Edges whose two ends are inside ``scope`` (a ``memories.inputs.Scope``; None: all of them)."""
        return self if scope is None else self.both_ends(**scope.as_filter())

    def both_ends(self, **fields):
        """Edges whose two ends both match ``fields`` (``user_id="alice"``: what a key restricted to
        alice sees)."""
        return self.filter(
            **{f"source__{name}": value for name, value in fields.items()},
            **{f"target__{name}": value for name, value in fields.items()},
        )


class Origin(models.TextChoices):
    USER = "user"  # made through the API or the admin
    AUTO = "auto"  # auto-linking by similarity
    INFERENCE = "inference"  # the add pipeline's decisions (e.g. supersession)


class Relationship(TemporalModel):
    Origin = Origin

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The (project, source) and (project, target) indexes serve project look-ups; the single-column
    # indexes of source and target serve the cascades when memories are deleted.
    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="relationships", db_index=False
    )
    source = models.ForeignKey("memories.Memory", on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey("memories.Memory", on_delete=models.CASCADE, related_name="incoming")
    relation = models.CharField(max_length=RELATION_MAX_LENGTH)
    metadata = models.JSONField(default=dict, blank=True)
    # How strong or certain the link is, from 0 to 1 (a similarity, a confidence); 1 by default.
    weight = models.FloatField(default=1.0)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.USER)

    objects = RelationshipQuerySet.as_manager()

    class Meta(TemporalModel.Meta):
        constraints = [
            *TemporalModel.Meta.constraints,
            # Both ends in the edge's project (and co-located with it under Citus, docs/SCALING.md).
            CompositeForeignKey(
                fields=["project", "source"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="graph_relationship_source_in_project",
            ),
            CompositeForeignKey(
                fields=["project", "target"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="graph_relationship_target_in_project",
            ),
            # One open edge per (source, target, relation); closed and retracted ones may repeat. The
            # project adds nothing here (the ends fix it) but Citus needs it in every unique key.
            models.UniqueConstraint(
                fields=["project", "source", "target", "relation"],
                condition=current_q(),
                name="graph_relationship_one_open_edge",
            ),
            models.CheckConstraint(condition=~Q(source=F("target")), name="graph_relationship_not_a_loop"),
            models.CheckConstraint(condition=Q(weight__gte=0, weight__lte=1), name="graph_relationship_weight_0_1"),
            models.CheckConstraint(condition=Q(relation__regex=RELATION_PATTERN), name="graph_relationship_relation"),
            models.CheckConstraint(
                condition=Q(origin__in=[choice.value for choice in Origin]), name="graph_relationship_origin"
            ),
        ]
        indexes = [
            # Traversal (graph.selectors): a memory's outgoing and incoming edges.
            models.Index(fields=["project", "source"], name="relationship_project_source"),
            models.Index(fields=["project", "target"], name="relationship_project_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.relation} {self.target_id}"


class EntityRelationQuerySet(TemporalQuerySet):
    def for_project(self, project):
        return self.filter(project=project)


class EntityRelation(TemporalModel):
    """One ``(source, relationship, destination)`` triple between entities, extracted from a memory
    (Mem0's graph memory: "User lives in Berlin" -> ``user lives_in berlin``).

    Entities are lower_snake_case names, scoped like the memory they came from (project, user, agent,
    app, run); the row lives and dies with that memory. A triple is open at most once per scope; a
    newer value of a single-valued relationship (``lives_in``, ``works_at``, ...) closes the older
    one (``valid_to``), so ``as_of`` shows where the user lived then.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="entity_relations", db_index=False
    )
    memory = models.ForeignKey("memories.Memory", on_delete=models.CASCADE, related_name="entity_relations")
    user_id = models.CharField(max_length=255, null=True, blank=True)
    agent_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=255, null=True, blank=True)
    run_id = models.CharField(max_length=255, null=True, blank=True)
    source = models.CharField(max_length=255)
    relationship = models.CharField(max_length=RELATION_MAX_LENGTH)
    destination = models.CharField(max_length=255)

    objects = EntityRelationQuerySet.as_manager()

    class Meta(TemporalModel.Meta):
        constraints = [
            *TemporalModel.Meta.constraints,
            CompositeForeignKey(
                fields=["project", "memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
                name="graph_entityrelation_memory_in_project",
            ),
            models.UniqueConstraint(
                fields=["project", "user_id", "agent_id", "app_id", "run_id", "source", "relationship", "destination"],
                condition=current_q(),
                nulls_distinct=False,
                name="graph_entityrelation_one_open_triple",
            ),
            models.CheckConstraint(
                condition=Q(relationship__regex=RELATION_PATTERN), name="graph_entityrelation_relationship"
            ),
        ]
        indexes = [
            # graph.selectors.relations_search / relations_list: a user's triples by entity name.
            models.Index(fields=["project", "user_id", "source"], name="entityrelation_user_source"),
            models.Index(fields=["project", "user_id", "destination"], name="entityrelation_user_dest"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.relationship} {self.destination}"
