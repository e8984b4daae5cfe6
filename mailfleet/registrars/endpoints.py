"""Domain availability: one name (GET) or a list (POST), at the deployment's registrar."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mailfleet.auth.dependencies import Reading
from mailfleet.auth.ratelimit import RateLimits, windowed_limiter
from mailfleet.kit.errordocs import errors
from mailfleet.kit.responses import render
from mailfleet.models import Role
from mailfleet.registrars import schemas, service
from mailfleet.registrars.registry import registrar_for

router = APIRouter(tags=["domain purchase"])
CODES = ("registrar_not_configured", "registrar_error", "too_many_names", "duplicate_names")
_lock = threading.Lock()


def _searches(request: Request) -> RateLimits:
    """The workspace search quota's counter, one per app (in memory, Redis or the database)."""
    state = request.app.state
    with _lock:
        limiter: RateLimits | None = getattr(state, "domain_search_limiter", None)
        if limiter is None:
            settings = state.settings
            windows = [(settings.domain_search_window_minutes * 60, settings.domain_search_limit)]
            limiter = windowed_limiter(settings, windows if settings.domain_search_limit else [])
            state.domain_search_limiter = limiter
        return limiter


@router.get(
    "/domain-availability",
    response_model=schemas.Offer,
    openapi_extra=errors(*CODES, "rate_limited", "insufficient_role"),
)
def check_one(
    request: Request, caller: Reading, name: Annotated[str, Query(min_length=1, max_length=253)]
) -> Response:
    """Whether one name can be bought, at what price (one search of the workspace's quota)."""
    offers = _check(request, caller, [name])
    return render(schemas.Offer, offers[0])


@router.post(
    "/domain-availability",
    response_model=schemas.Offers,
    openapi_extra=errors(*CODES, "rate_limited", "insufficient_role"),
)
def check_many(request: Request, caller: Reading, body: schemas.AvailabilityCheck) -> Response:
    """Up to 20 names in one check (one search of the workspace's quota): each AVAILABLE,
    TAKEN, PREMIUM or UNSUPPORTED, with the registrar's and Mailfleet's prices."""
    return render(schemas.Offers, {"items": _check(request, caller, body.names)})


def _check(request: Request, caller: Reading, names: list[object]) -> list[service.Offer]:
    settings = request.app.state.settings
    return service.check(
        settings,
        registrar_for(settings),
        _searches(request),
        # A search spends the workspace's quota: members who may buy (EDITOR and up).
        workspace_id=caller.workspace(Role.EDITOR),
        names=names,
    )
