import base64
import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from mem0g_site.constraints import CompositeForeignKey

DEFAULT_ORGANIZATION_SLUG = "default"
DEFAULT_PROJECT_SLUG = "default"


def hash_key(raw_key: str, salt: str) -> str:
    """API keys are long random strings, so a salted SHA-256 is enough to keep them safe at rest
    while costing microseconds per request (a password hash would cost ~100 ms)."""
    return hashlib.sha256(f"{salt}:{raw_key}".encode()).hexdigest()


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    """The tenant boundary: every memory, relationship and API key belongs to exactly one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    description = models.TextField(blank=True, default="")
    # Mem0 project options set through the SDK's project.update(): custom_instructions,
    # custom_categories, ... (returned by project.get()).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="accounts_project_unique_slug_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class Membership(models.Model):
    """A Django user's membership of an organisation (the web UI shows its projects)."""

    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="accounts_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class ApiKey(models.Model):
    """A secret that lets an app act on one project. Only a salted hash of it is stored; the key
    itself is shown once, when it is made.

    A *project key* (the default) acts on its own project only, whatever its scopes. An
    *organisation key* (``createapikey --org-admin``) also manages the other projects of its
    project's organisation: creates and deletes them, their members, webhooks and options."""

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"
        ADMIN = "admin"

    class Kind(models.TextChoices):
        PROJECT = "project"
        ORGANIZATION = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    # The first characters of the key: shown in lists and logs, and used to find the row.
    prefix = models.CharField(max_length=16, db_index=True)
    salt = models.CharField(max_length=32)
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=10, choices=Scope.choices), default=list)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PROJECT)
    # When set, the key reaches only this user's memories, whatever a request says.
    user_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_key(raw_key, self.salt))

    @property
    def is_organization_key(self) -> bool:
        return self.kind == self.Kind.ORGANIZATION

    def has_scope(self, scope: str) -> bool:
        # read and write are independent (a write-only ingestion key cannot read back);
        # admin includes both.
        return scope in self.scopes or self.Scope.ADMIN in self.scopes


class ProjectMember(models.Model):
    """A Django user's role in one project (Mem0's project members: ``READER`` or ``OWNER``)."""

    class Role(models.TextChoices):
        READER = "READER"
        OWNER = "OWNER"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.READER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="accounts_projectmember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


WEBHOOK_EVENT_TYPES = (
    "memory_add",
    "memory_update",
    "memory_delete",
    "memory_categorize",
    "ingest_job_completed",
    "ingest_job_partially_completed",
    "ingest_job_failed",
    "ingest_job_cancelled",
)


def webhook_secret_new() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Webhook(models.Model):
    """A URL told about a project's memory events (Mem0's webhooks; the SDK addresses them by an
    integer id). ``accounts.webhooks`` delivers them, outside any request, signed with ``secret``
    (kept as is: signing needs it back; shown to the API once, at creation or rotation)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000)
    event_types = ArrayField(models.CharField(max_length=40), default=list)
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, default=webhook_secret_new, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # What deliveries point at (project, webhook): see WebhookDelivery.
            models.UniqueConstraint(fields=["project", "id"], name="accounts_webhook_project_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} -> {self.url}"


class RegisteredEntity(models.Model):
    """A user, agent, app or run created explicitly (``POST /v1/users/`` ...) before it has memories;
    ``GET /v1/entities/`` lists it with 0 memories until it gets some."""

    class Type(models.TextChoices):
        USER = "user"
        AGENT = "agent"
        APP = "app"
        RUN = "run"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="registered_entities")
    type = models.CharField(max_length=10, choices=Type.choices)
    name = models.CharField(max_length=255, help_text="The entity id (user_id, agent_id, ...).")
    display_name = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["type", "name"]
        verbose_name_plural = "registered entities"
        constraints = [
            models.UniqueConstraint(fields=["project", "type", "name"], name="accounts_registeredentity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


class ProfileSettings(models.Model):
    """A project's user-profile settings (Mem0's ``/v2/profiles/settings/``)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="profile_settings")
    enabled = models.BooleanField(default=True)
    schema = models.JSONField(null=True, blank=True)
    custom_instructions = models.TextField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "profile settings"

    def __str__(self) -> str:
        return f"profile settings of {self.project_id}"


class UserProfile(models.Model):
    """The profile of one user of a project, built from their memories by a profile job."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="user_profiles")
    user_id = models.CharField(max_length=255)
    profile = models.JSONField(default=dict)
    generation_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user_id"], name="accounts_userprofile_unique"),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class ProfileJob(models.Model):
    """One profile generation request. Jobs run to completion inside the request that makes them;
    an ``Idempotency-Key`` given again returns the same job instead of making another."""

    class Operation(models.TextChoices):
        TRIGGER = "trigger"
        SAMPLE = "sample"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profile_jobs")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    operation = models.CharField(max_length=10, choices=Operation.choices)
    entity_type = models.CharField(max_length=10, default="user")
    entity_ids = ArrayField(models.CharField(max_length=255), default=list)
    request = models.JSONField(default=dict, help_text="The body it was made from (to spot a reused key).")
    status = models.CharField(max_length=20, default="succeeded")
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="accounts_profilejob_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} job {self.id}"


class WebhookDelivery(models.Model):
    """One memory event (a ``memories.MemoryHistory`` row) sent, or to be sent, to one webhook. The
    history is the outbox: ``deliverwebhooks`` claims each (webhook, history row) pair once by
    inserting this row, then posts it outside any request."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    # The webhook's project, so that deliveries live with the project's history rows (one Citus shard,
    # docs/SCALING.md); (project, webhook) must name a webhook of that project.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_deliveries", db_index=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    history_id = models.UUIDField()
    event_type = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["project", "webhook", "history_id"], name="accounts_webhookdelivery_once"),
            CompositeForeignKey(
                fields=["project", "webhook"],
                to="accounts.Webhook",
                to_fields=["project", "id"],
                name="accounts_webhookdelivery_webhook_in_project",
            ),
        ]
        indexes = [
            # accounts.webhooks.deliveries_due: pending rows whose time has come.
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> webhook {self.webhook_id} ({self.status})"


class Counter(models.Model):
    """A counter every web process shares (accounts/counters.py) when there is no ``REDIS_URL``:
    rate-limit windows, which expire, and request metrics (``window_start`` 0, never expire).

    The table is UNLOGGED: no write-ahead log, so an increment costs no WAL flush; after a crash
    PostgreSQL empties it, which only resets the counts."""

    pk = models.CompositePrimaryKey("name", "window_start")
    name = models.TextField()
    # Epoch seconds of the start of the counting window; 0 for counters that never expire.
    window_start = models.BigIntegerField()
    # Epoch seconds after which the row is of no use (pruned now and then); NULL: never.
    expires_at = models.BigIntegerField(null=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="accounts_counter_expires")]

    def __str__(self) -> str:
        return f"{self.name}@{self.window_start}={self.count}"
