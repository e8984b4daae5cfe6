"""The request's unit of work and its caller, resolved once per request.

`get_context` opens the session (a write session for anything but GET/HEAD), authenticates the
Bearer key, applies the key's rate limit, picks the workspace (X-Workspace-Id header, else the
key's pinned workspace, else the user's first), and commits when the endpoint returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.auth.service import LastUsedRecorder, Principal, authenticate
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import BadRequest, Forbidden, NotFound, Unauthorized
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Membership, Role

WORKSPACE_HEADER = "x-workspace-id"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        if self.workspace_id is None or self.role is None:
            raise NotFound("You are not a member of any workspace.", code="workspace_not_found")
        if not self.role.at_least(minimum):
            raise Forbidden(
                f"This action needs the {minimum.value} role; you are {self.role.value}.",
                code="insufficient_role",
            )
        return self.workspace_id


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
    # A read request must not take the write lock for its whole duration.
    with database.transaction() as side:
        LastUsedRecorder.record(side, key_id)


def get_context(request: Request) -> Iterator[RequestContext]:
    app_state = request.app.state
    database: Database = app_state.db
    token = _bearer(request)
    write = request.method not in READ_METHODS
    with database.session(write=write) as session:
        try:
            principal = authenticate(session, token)
            if principal is None:
                raise Unauthorized("The API key is unknown or revoked.", code="invalid_api_key")
            quota = app_state.rate_limiter.hit(str(principal.api_key_id))
            if quota is not None:
                request.scope.setdefault("state", {})["ratelimit"] = quota
            if app_state.last_used.due(principal.api_key_id):
                _record_last_used(database, session, principal.api_key_id, write=write)
            workspace_id, role = _pick_workspace(request, session, principal)
            yield RequestContext(
                session=session,
                principal=principal,
                settings=app_state.settings,
                secrets=app_state.secrets,
                workspace_id=workspace_id,
                role=role,
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise


Context = Annotated[RequestContext, Depends(get_context, scope="function")]


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
