"""The request's unit of work and its caller, resolved once per request.

`get_context` opens the session (a write session for anything but GET/HEAD), authenticates the
Bearer key, applies the key's rate limit, picks the workspace (X-Workspace-Id header, else the
key's pinned workspace, else the user's first), and commits when the endpoint returns. Both
answers come from the auth cache (`auth.cache`) when it has them.

`get_caller` (`Reading`) is the caller of the light read path (`kit.reads`): it resolves the
caller in the event loop, with a worker-thread hop only on an auth-cache miss.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailfleet.auth.cache import AuthCache, WorkspacePick, generation
from mailfleet.auth.service import LastUsedRecorder, Principal, authenticate
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import BadRequest, Forbidden, NotFound, Unauthorized
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Membership, Role

WORKSPACE_HEADER = "x-workspace-id"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


def _require_workspace(
    workspace_id: uuid.UUID | None, role: Role | None, minimum: Role
) -> uuid.UUID:
    if workspace_id is None or role is None:
        raise NotFound("You are not a member of any workspace.", code="workspace_not_found")
    if not role.at_least(minimum):
        raise Forbidden(
            f"This action needs the {minimum.value} role; you are {role.value}.",
            code="insufficient_role",
        )
    return workspace_id


@dataclass(frozen=True)
class Caller:
    """Who calls, and the workspace the request acts in with the caller's role there."""

    principal: Principal
    workspace_id: uuid.UUID | None
    role: Role | None

    def workspace(self, minimum: Role = Role.VIEWER) -> uuid.UUID:
        return _require_workspace(self.workspace_id, self.role, minimum)


@dataclass
class RequestContext:
    session: Session
    principal: Principal
    settings: Settings
    secrets: SecretBox
    workspace_id: uuid.UUID | None
    role: Role | None

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id

    @property
    def actor(self) -> str:
        return self.principal.actor

    def workspace(self, minimum: Role = Role.VIEWER) -> uuid.UUID:
        return _require_workspace(self.workspace_id, self.role, minimum)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Send your API key as 'Authorization: Bearer <key>'.", code="missing_credentials"
        )
    return token.strip()


def _pick_workspace(
    request: Request, session: Session, principal: Principal
) -> tuple[uuid.UUID | None, Role | None]:
    raw = request.headers.get(WORKSPACE_HEADER)
    wanted: uuid.UUID | None = None
    if raw:
        try:
            wanted = uuid.UUID(raw)
        except ValueError as exc:
            raise BadRequest(
                "X-Workspace-Id is not a workspace id.",
                code="invalid_workspace_id",
                field="X-Workspace-Id",
            ) from exc
    if principal.pinned_workspace_id is not None:
        if wanted is not None and wanted != principal.pinned_workspace_id:
            raise Forbidden(
                "This API key is pinned to another workspace.",
                code="key_pinned",
                field="X-Workspace-Id",
            )
        wanted = principal.pinned_workspace_id
    statement = select(Membership.workspace_id, Membership.role).where(
        Membership.user_id == principal.user_id
    )
    if wanted is not None:
        statement = statement.where(Membership.workspace_id == wanted)
    row = session.execute(statement.order_by(Membership.created_at, Membership.id).limit(1)).first()
    if row is None:
        if wanted is not None:
            raise NotFound(
                f"Workspace {wanted} not found.", code="workspace_not_found", field="X-Workspace-Id"
            )
        return None, None
    return row[0], row[1]


def _record_last_used(
    database: Database, session: Session, key_id: uuid.UUID, *, write: bool
) -> None:
    if write:
        # This request already holds the write lock; writing elsewhere would wait on ourselves.
        LastUsedRecorder.record(session, key_id)
        return
    _record_last_used_apart(database, key_id)


def _record_last_used_apart(database: Database, key_id: uuid.UUID) -> None:
    # A read request must not take the write lock for its whole duration.
    with database.transaction() as side:
        LastUsedRecorder.record(side, key_id)


def auth_cache(request: Request) -> AuthCache:
    """The app's auth cache, made on first use (it holds nothing the app must set up)."""
    state = request.app.state
    try:
        cache: AuthCache = state.auth_cache
    except AttributeError:
        cache = state.auth_cache = AuthCache()
    return cache


def _authenticate(session: Session, cache: AuthCache, token: str) -> Principal:
    read_in = generation()
    principal = authenticate(session, token)
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked.", code="invalid_api_key")
    cache.remember_principal(token, principal, read_in)
    return principal


def _pick_and_remember(
    session: Session, cache: AuthCache, request: Request, principal: Principal
) -> WorkspacePick:
    read_in = generation()
    pick = _pick_workspace(request, session, principal)
    cache.remember_workspace(
        principal.api_key_id, request.headers.get(WORKSPACE_HEADER), pick, read_in
    )
    return pick


def _count_call(request: Request, principal: Principal) -> None:
    """Apply the key's rate limit; the headers middleware reports the quota left."""
    quota = request.app.state.rate_limiter.hit(str(principal.api_key_id))
    if quota is not None:
        request.scope.setdefault("state", {})["ratelimit"] = quota


def _identify(request: Request, session: Session, token: str, *, write: bool) -> Caller:
    app_state = request.app.state
    cache = auth_cache(request)
    principal = cache.principal(token) or _authenticate(session, cache, token)
    _count_call(request, principal)
    if app_state.last_used.due(principal.api_key_id):
        _record_last_used(app_state.db, session, principal.api_key_id, write=write)
    pick = cache.workspace(principal.api_key_id, request.headers.get(WORKSPACE_HEADER))
    if pick is None:
        pick = _pick_and_remember(session, cache, request, principal)
    return Caller(principal, *pick)


def get_context(request: Request) -> Iterator[RequestContext]:
    app_state = request.app.state
    database: Database = app_state.db
    token = _bearer(request)
    write = request.method not in READ_METHODS
    with database.session(write=write) as session:
        try:
            caller = _identify(request, session, token, write=write)
            yield RequestContext(
                session=session,
                principal=caller.principal,
                settings=app_state.settings,
                secrets=app_state.secrets,
                workspace_id=caller.workspace_id,
                role=caller.role,
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _in_read_session(database: Database, work: Callable[[Session], T]) -> T:
    with database.transaction(write=False) as session:
        return work(session)


async def get_caller(request: Request) -> Caller:
    """The caller of a `read` endpoint: the steps of `_identify`, run in the event loop.

    Database work goes to a worker thread, so a hop happens only on an auth-cache miss and
    when last_used_at is due (once a minute per key).
    """
    app_state = request.app.state
    database: Database = app_state.db
    cache = auth_cache(request)
    token = _bearer(request)
    principal = cache.principal(token)
    if principal is None:
        principal = await run_in_threadpool(
            _in_read_session, database, lambda session: _authenticate(session, cache, token)
        )
    _count_call(request, principal)
    if app_state.last_used.due(principal.api_key_id):
        await run_in_threadpool(_record_last_used_apart, database, principal.api_key_id)
    pick = cache.workspace(principal.api_key_id, request.headers.get(WORKSPACE_HEADER))
    if pick is None:
        pick = await run_in_threadpool(
            _in_read_session,
            database,
            lambda session: _pick_and_remember(session, cache, request, principal),
        )
    return Caller(principal, *pick)


Context = Annotated[RequestContext, Depends(get_context, scope="function")]
# The caller of a light read endpoint (see `read`); check its role with caller.workspace(role).
Reading = Annotated[Caller, Depends(get_caller)]


def _requires(minimum: Role) -> object:
    async def check(ctx: Context) -> RequestContext:
        ctx.workspace(minimum)
        return ctx

    return Depends(check)


async def _operator(ctx: Context) -> RequestContext:
    if not ctx.principal.is_operator:
        raise Forbidden("Only operators may do this.", code="operator_required")
    return ctx


# A workspace-scoped request whose caller holds at least the named role.
Viewer = Annotated[RequestContext, _requires(Role.VIEWER)]
Editor = Annotated[RequestContext, _requires(Role.EDITOR)]
Admin = Annotated[RequestContext, _requires(Role.ADMIN)]
Owner = Annotated[RequestContext, _requires(Role.OWNER)]
Operator = Annotated[RequestContext, Depends(_operator)]
