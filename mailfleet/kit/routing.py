"""Route tables made ready before the first request."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.types import Scope

# A path no route matches: matching it walks (and so builds) every route of an app.
_NOWHERE: Scope = {"type": "http", "path": "/\x00", "method": "GET", "root_path": "", "headers": []}


def warm(apps: Sequence[Starlette]) -> None:
    """Have each app's routes build what they build on their first match (FastAPI prepares an
    included router's routes lazily, then keeps them), so no request pays for it."""
    for app in apps:
        for route in app.router.routes:
            route.matches(_NOWHERE)
