from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET


@csrf_exempt  # an API path: a POST gets 405, not a CSRF failure
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers and compose healthchecks (no auth)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    healthy = database == "ok"
    return JsonResponse(
        {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": timezone.now().isoformat(),
            "database": database,
        },
        status=200 if healthy else 503,
    )
