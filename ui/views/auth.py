"""The login lock-out page (django-axes)."""

import math

from axes.helpers import get_cool_off, get_failure_limit
from django.shortcuts import render


def login_locked_out(request, original_response=None, credentials=None):
    """What a throttled login (/ui/login/ or /admin/login/) gets instead of the form: 429, saying why
    and for how long (django-axes calls this, ``AXES_LOCKOUT_CALLABLE``)."""
    seconds = math.ceil(get_cool_off(request).total_seconds())
    context = {"failure_limit": get_failure_limit(request, credentials), "minutes": math.ceil(seconds / 60)}
    response = render(request, "locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
