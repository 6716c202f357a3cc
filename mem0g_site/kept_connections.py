"""The health check of a kept database connection (``CONN_MAX_AGE`` with ``CONN_HEALTH_CHECKS``),
without a round trip when the connection is quiet.

Django checks a connection kept from an earlier request with ``SELECT 1`` before the request's first
query: one more round trip, and one more statement for the server, on every request. The cases it
is there for announce themselves: a server that shuts down or restarts, a backend ended by
``pg_terminate_backend`` or ``idle_session_timeout``, all send their error message and close the
socket, so an idle connection the server has given up on has something to read. A connection with
nothing to read has not been told anything since its last statement: it is used as it is. One with
something to read (that, or a notification) gets Django's own check, which drops it if it fails,
and the request's first query then opens a new one.

What this does not see is what ``SELECT 1`` would see only by waiting for a timeout: a server gone
without a word (a network cut between hosts). That request fails, as one would have failed between
the check and the query, and Django drops the connection at the request's end.
"""

import select

from django.db import connections


def check_kept_connections() -> None:
    """Before a request's first query: :func:`check_kept` on each connection of this thread."""
    for connection in connections.all(initialized_only=True):
        check_kept(connection)


def check_kept(connection) -> None:
    """Django's health check on a kept ``connection`` the server has written to since its last
    statement; one it has not is marked checked as it is. Nothing for a connection not open, or
    checked already in this request, or without health checks."""
    if connection.connection is None or not connection.health_check_enabled or connection.health_check_done:
        return
    if server_has_spoken(connection.connection):
        connection.close_if_health_check_failed()  # SELECT 1, and closed if that fails
    else:
        connection.health_check_done = True


def server_has_spoken(driver) -> bool:
    """Whether the driver's connection is closed or broken, or its socket has something to read (or
    is hung up) while no statement of ours is waiting for an answer."""
    if driver.closed or driver.broken:
        return True
    try:
        socket = driver.fileno()
    except Exception:  # noqa: BLE001 - the driver refuses to give its socket: treat it as suspect
        return True
    poller = select.poll()
    poller.register(socket, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
