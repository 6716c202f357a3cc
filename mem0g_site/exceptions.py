"""The errors our services raise. No DRF here: ``mem0g_site.errors`` maps them to responses."""

from typing import Any


class ApplicationError(Exception):
    """A failure the caller can act on; ``status`` and ``code`` say how it is answered."""

    status = 400
    code = "INVALID_REQUEST"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(ApplicationError):
    """The request itself is malformed (unparseable, unknown parameter)."""


class ValidationFailed(ApplicationError):
    """A well-formed request whose values are not acceptable; nothing was written."""

    status = 422
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message, details=details if details is not None else ({"field": field} if field else None))
        self.field = field


class NotFound(ApplicationError):
    status = 404
    code = "NOT_FOUND"


class MemoryNotFound(NotFound):
    code = "MEMORY_NOT_FOUND"

    def __init__(self, memory_id: object = None) -> None:
        super().__init__("Memory not found", details={"memory_id": str(memory_id)} if memory_id else None)


class RelationshipNotFound(NotFound):
    code = "RELATIONSHIP_NOT_FOUND"

    def __init__(self, relationship_id: object = None) -> None:
        super().__init__(
            "Relationship not found", details={"relationship_id": str(relationship_id)} if relationship_id else None
        )


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"

    def __init__(self, user_id: object = None) -> None:
        super().__init__("User not found", details={"user_id": str(user_id)} if user_id else None)


class Forbidden(ApplicationError):
    status = 403
    code = "FORBIDDEN"


class Conflict(ApplicationError):
    status = 409
    code = "CONFLICT"


class ServiceUnavailable(ApplicationError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class LLMUnavailable(ServiceUnavailable):
    """The configured LLM did not answer (timeout, connection error, 5xx after the retries, or a
    refusal such as a bad key or an unknown model); nothing was written."""

    code = "LLM_UNAVAILABLE"
