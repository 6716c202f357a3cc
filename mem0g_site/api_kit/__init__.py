"""What every app's API shares: reading a request body (``parsing``), the request contracts and
their lenient field types (``contract``), response shapes and OpenAPI examples used by more than
one app (``responses``, ``examples``). The apps' APIs import from here, never from each other."""
