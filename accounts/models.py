import hashlib
import hmac
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

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
    itself is shown once, when it is made."""

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"
        ADMIN = "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    # The first characters of the key: shown in lists and logs, and used to find the row.
    prefix = models.CharField(max_length=16, db_index=True)
    salt = models.CharField(max_length=32)
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=10, choices=Scope.choices), default=list)
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

    def has_scope(self, scope: str) -> bool:
        # read and write are independent (a write-only ingestion key cannot read back);
        # admin includes both.
        return scope in self.scopes or self.Scope.ADMIN in self.scopes
