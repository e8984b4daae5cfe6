"""The request's unit of work and its caller, resolved once per request.

`get_context` opens the session (a write session for anything but GET/HEAD), authenticates the
Bearer key, applies the key's rate limit, picks the workspace (X-Workspace-Id header, else the
key's pinned workspace, else the user's first), and commits when the endpoint returns. Both
answers come from the auth cache (`auth.cache`) when it has them.

`get_caller` (`Reading`) is the caller of the light read path (`kit.reads`): it resolves the
caller in the event loop, with a worker-thread hop only on an auth-cache miss.

Which headers carry the key and the workspace, which rate limiter counts the call and which
policy profile the services apply come from the request's surface (`SurfaceAuth`, set by
`surfaces.recipe` on the surface's app); the native one is Bearer and X-Workspace-Id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailfleet.auth.cache import AuthCache, WorkspacePick, generation
from mailfleet.auth.ratelimit import RateLimits
from mailfleet.auth.service import LastUsedRecorder, Principal, authenticate
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import BadRequest, Forbidden, NotFound, Unauthorized
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.errordocs import declares
from mailfleet.models import Membership, Role
from mailfleet.policy import PolicyProfile

WORKSPACE_HEADER = "x-workspace-id"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


class CredentialScheme(Protocol):
    """How a surface's requests carry the API key and the workspace they act in."""

    @property
    def workspace_field(self) -> str:
        """The workspace header as errors name it."""
        ...

    def token(self, headers: Mapping[str, str]) -> str | None:
        """The API key sent, or None when there is none."""
        ...

    def workspace(self, headers: Mapping[str, str]) -> str | None:
        """The workspace asked for, as sent (None: the key's or the user's default)."""
        ...

    def missing(self) -> Unauthorized:
        """The 401 for a request without a key, saying how to send one."""
        ...


@dataclass(frozen=True)
class HeaderCredentials:
    """A key in one header (after `scheme`, or the whole value) and a workspace in another."""

    key_header: str = "authorization"
    scheme: str | None = "bearer"
    workspace_header: str = WORKSPACE_HEADER
    workspace_field: str = "X-Workspace-Id"
    how: str = "Send your API key as 'Authorization: Bearer <key>'."

    def token(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get(self.key_header, "")
        if self.scheme is not None:
            scheme, _, value = value.partition(" ")
            if scheme.lower() != self.scheme:
                return None
        return value.strip() or None

    def workspace(self, headers: Mapping[str, str]) -> str | None:
        return headers.get(self.workspace_header)

    def missing(self) -> Unauthorized:
        return Unauthorized(self.how, code="missing_credentials")


# How a surface whose credential is not an API key (the console's session cookie) finds who
# sends it: the Principal (its api_key_id is then the id of that credential's own row, what the
# rate limit counts by), or None for an unknown, expired or revoked one.
PrincipalResolver = Callable[[Session, str], Principal | None]


@dataclass(frozen=True)
class SurfaceAuth:
    """What a surface decides about its callers: credentials, rate limit and rule profile."""

    credentials: CredentialScheme
    # The app.state attribute holding the surface's RateLimits (tests swap it there).
    limiter_key: str
    profile: PolicyProfile
    limiter_prefix: str = ""
    # None: the credential is an API key (authenticated and cached as `auth.service` says).
    resolve: PrincipalResolver | None = None


BEARER = HeaderCredentials()


def surface_auth(request: Request) -> SurfaceAuth:
    """The auth policy of the surface serving the request (set on its app by the recipe)."""
    found: SurfaceAuth = request.app.surface_auth
    return found


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
    # The business rules' parameters of the surface serving the request.
    profile: PolicyProfile

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id

    @property
    def actor(self) -> str:
        return self.principal.actor

    def workspace(self, minimum: Role = Role.VIEWER) -> uuid.UUID:
        return _require_workspace(self.workspace_id, self.role, minimum)


def _token(request: Request, credentials: CredentialScheme) -> str:
    token = credentials.token(request.headers)
    if token is None:
        raise credentials.missing()
    return token


def _pick_workspace(
    request: Request, session: Session, principal: Principal, credentials: CredentialScheme
) -> tuple[uuid.UUID | None, Role | None]:
    raw = credentials.workspace(request.headers)
    field = credentials.workspace_field
    wanted: uuid.UUID | None = None
    if raw:
        try:
            wanted = uuid.UUID(raw)
        except ValueError as exc:
            raise BadRequest(
                f"{field} is not a workspace id.", code="invalid_workspace_id", field=field
            ) from exc
    if principal.pinned_workspace_id is not None:
        if wanted is not None and wanted != principal.pinned_workspace_id:
            raise Forbidden(
                "This API key is pinned to another workspace.", code="key_pinned", field=field
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
                f"Workspace {wanted} not found.", code="workspace_not_found", field=field
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
    session: Session,
    cache: AuthCache,
    request: Request,
    principal: Principal,
    credentials: CredentialScheme,
) -> WorkspacePick:
    read_in = generation()
    pick = _pick_workspace(request, session, principal, credentials)
    cache.remember_workspace(
        principal.api_key_id, credentials.workspace(request.headers), pick, read_in
    )
    return pick


def _count_call(request: Request, principal: Principal, surface: SurfaceAuth) -> None:
    """Apply the key's rate limit; the headers middleware reports the quota left."""
    limiter: RateLimits = getattr(request.app.state, surface.limiter_key)
    quota = limiter.hit(f"{surface.limiter_prefix}{principal.api_key_id}")
    if quota is not None:
        request.scope.setdefault("state", {})["ratelimit"] = quota


def _resolve(
    session: Session, surface: SurfaceAuth, resolve: PrincipalResolver, token: str
) -> Principal:
    """A surface's own credential: resolved on every request (no auth cache, so a revoked
    session is refused at once), and no API key's last use to record."""
    principal = resolve(session, token)
    if principal is None:
        raise surface.credentials.missing()
    return principal


def _identify(
    request: Request, session: Session, surface: SurfaceAuth, token: str, *, write: bool
) -> Caller:
    if surface.resolve is not None:
        principal = _resolve(session, surface, surface.resolve, token)
        _count_call(request, principal, surface)
        return Caller(principal, *_pick_workspace(request, session, principal, surface.credentials))
    app_state = request.app.state
    cache = auth_cache(request)
    principal = cache.principal(token) or _authenticate(session, cache, token)
    _count_call(request, principal, surface)
    if app_state.last_used.due(principal.api_key_id):
        _record_last_used(app_state.db, session, principal.api_key_id, write=write)
    credentials = surface.credentials
    pick = cache.workspace(principal.api_key_id, credentials.workspace(request.headers))
    if pick is None:
        pick = _pick_and_remember(session, cache, request, principal, credentials)
    return Caller(principal, *pick)


# What identifying a caller can answer: no key, a bad key, its rate limit, a bad workspace pick.
CALLER_CODES = (
    "missing_credentials",
    "invalid_api_key",
    "rate_limited",
    "invalid_workspace_id",
    "key_pinned",
    "workspace_not_found",
)


@declares(*CALLER_CODES)
def get_context(request: Request) -> Iterator[RequestContext]:
    app_state = request.app.state
    database: Database = app_state.db
    surface = surface_auth(request)
    token = _token(request, surface.credentials)
    write = request.method not in READ_METHODS
    with database.session(write=write) as session:
        try:
            caller = _identify(request, session, surface, token, write=write)
            yield RequestContext(
                session=session,
                principal=caller.principal,
                settings=app_state.settings,
                secrets=app_state.secrets,
                workspace_id=caller.workspace_id,
                role=caller.role,
                profile=surface.profile,
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _in_read_session(database: Database, work: Callable[[Session], T]) -> T:
    with database.transaction(write=False) as session:
        return work(session)


@declares(*CALLER_CODES)
async def get_caller(request: Request) -> Caller:
    """The caller of a `read` endpoint: the steps of `_identify`, run in the event loop.

    Database work goes to a worker thread, so a hop happens only on an auth-cache miss and
    when last_used_at is due (once a minute per key).
    """
    app_state = request.app.state
    database: Database = app_state.db
    cache = auth_cache(request)
    surface = surface_auth(request)
    credentials = surface.credentials
    token = _token(request, credentials)
    if surface.resolve is not None:
        return await run_in_threadpool(
            _in_read_session,
            database,
            lambda session: _identify(request, session, surface, token, write=False),
        )
    principal = cache.principal(token)
    if principal is None:
        principal = await run_in_threadpool(
            _in_read_session, database, lambda session: _authenticate(session, cache, token)
        )
    _count_call(request, principal, surface)
    if app_state.last_used.due(principal.api_key_id):
        await run_in_threadpool(_record_last_used_apart, database, principal.api_key_id)
    pick = cache.workspace(principal.api_key_id, credentials.workspace(request.headers))
    if pick is None:
        pick = await run_in_threadpool(
            _in_read_session,
            database,
            lambda session: _pick_and_remember(session, cache, request, principal, credentials),
        )
    return Caller(principal, *pick)


Context = Annotated[RequestContext, Depends(get_context, scope="function")]
# The caller of a light read endpoint (see `read`); check its role with caller.workspace(role).
Reading = Annotated[Caller, Depends(get_caller)]


def _requires(minimum: Role) -> object:
    @declares("workspace_not_found", "insufficient_role")
    async def check(ctx: Context) -> RequestContext:
        ctx.workspace(minimum)
        return ctx

    return Depends(check)


@declares("operator_required")
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
