"""The web UI's views: they parse the request, call memories/graph services and selectors, and render.

Every view answers a full request with a page and an HTMX request (``request.htmx``) with the fragment
that changed, from the same code. Reads work without JavaScript (links have ``href``s, forms post and
redirect); every write is a POST checked for CSRF. Every view starts from ``ui.access.project_access``:
anything outside the person's projects is a 404; a write view (its forms too) asked by a person who
may only read the project is a 403, and templates offer write controls only when ``can_write``.

One module per page: ``projects`` (projects and their users), ``memories`` (a user's memories and one
memory), ``relationships``, ``graph``, ``review``, ``auth`` (the login lock-out); ``common`` holds what
they share. ``ui/urls.py`` routes to them.
"""
