"""A surface built with the recipe for the tests: another credential header, another envelope.

Its key goes in `x-test-key` (the whole value), its workspace in `x-test-workspace`, and every
answer is `{"ok": ..., ...}`: errors `{"ok": false, "error": {"code", "message"}}`. Its routes
call the same dependencies as the native API, so they act on the same keys and workspaces.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mailfleet.auth.dependencies import Editor, HeaderCredentials, Reading
from mailfleet.exception_handlers import ErrorInfo
from mailfleet.idempotency.middleware import IdempotencyPolicy
from mailfleet.policy import PolicyProfile
from mailfleet.surfaces.recipe import RateLimitPolicy, Surface

PREFIX = "/testsurface"
KEY_HEADER = "x-test-key"
IDEMPOTENCY_HEADER = "x-test-idempotency"
PER_MINUTE = 3

router = APIRouter()


class ThingIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    size: int


class Envelope(BaseModel):
    ok: bool
    error: dict[str, str] | None = None


def _ok(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps({"ok": True, **payload}), status, media_type="application/json")


@router.get("/whoami")
async def whoami(caller: Reading) -> Response:
    return _ok({"workspace": str(caller.workspace())})


@router.post("/things", status_code=201)
def create_thing(body: ThingIn, ctx: Editor) -> Response:
    # The profile the services would apply: the surface's, not the deployment's.
    payload = {"name": body.name, "workspace": str(ctx.workspace()), "profile": ctx.profile.name}
    return _ok(payload, 201)


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("a bug in a route")


def render_envelope(error: ErrorInfo, instance: str) -> Response:
    body = {"ok": False, "error": {"code": error.code, "message": error.detail}}
    return Response(
        json.dumps(body), error.status, media_type="application/json", headers=dict(error.headers)
    )


def _profile(settings: Any) -> PolicyProfile:
    return PolicyProfile.from_settings(settings).with_changes(
        "testsurface", rate_limit_per_second=0, rate_limit_per_minute=PER_MINUTE
    )


def make_test_surface() -> Surface:
    return Surface(
        name="testsurface",
        prefix=PREFIX,
        routers=(router,),
        credentials=HeaderCredentials(
            key_header=KEY_HEADER,
            scheme=None,
            workspace_header="x-test-workspace",
            workspace_field="x-test-workspace",
            how="Send your API key in x-test-key.",
        ),
        render_error=render_envelope,
        error_responses={
            status: {"model": Envelope} for status in (400, 401, 403, 404, 409, 422, 429)
        },
        title="Test surface",
        idempotency=IdempotencyPolicy(header=IDEMPOTENCY_HEADER, replayed_header="x-test-replayed"),
        rate_limit=RateLimitPolicy(state_key="testsurface_rate_limiter", key_prefix="test:"),
        profile=_profile,
    )
