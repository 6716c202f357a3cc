"""Input rules every app shares.

``UNSET``: the default of an optional keyword argument that was not given, so that ``None`` can
mean "clear it" (``memory_update(expiration_date=None)``) and absence "leave it as it is".
"""

from typing import Any

UNSET: Any = object()
