"""API keys of the calling user: issue, list, revoke.

A key pinned to a workspace only sees and manages keys pinned to that same workspace, and can
only issue keys pinned there: it must never mint a key wider than itself.

Who may issue which key: a key pinned to a workspace is that workspace's integration credential,
which the design gives to its ADMINs and OWNERs, so issuing one needs ADMIN there. An unpinned
key is the user's own credential: every request made with it acts with the user's current role
in the workspace it selects (see `auth.dependencies`), so it grants nothing the user does not
already hold, and any user may issue one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal, issue_key
from mailfleet.events import service as events
from mailfleet.exceptions import NotFound
from mailfleet.kit import clock
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import ApiKey, Role, User
from mailfleet.workspaces.service import member_of

# The role a user needs in a workspace to issue a key pinned to it.
PIN_ROLE = Role.ADMIN


def _mine(principal: Principal) -> Select[ApiKey]:
    statement = select(ApiKey).where(ApiKey.user_id == principal.user_id)
    if principal.pinned_workspace_id is not None:
        statement = statement.where(ApiKey.workspace_id == principal.pinned_workspace_id)
    return statement


def create(
    session: Session, principal: Principal, *, name: str, workspace_id: uuid.UUID | None
) -> dict[str, Any]:
    """Issue a key; the token is in the result and nowhere else, ever."""
    workspace_id = workspace_id or principal.pinned_workspace_id
    if workspace_id is not None:
        member_of(session, principal, workspace_id, PIN_ROLE)
    user = session.get_one(User, principal.user_id)
    issued = issue_key(session, user=user, name=name, workspace_id=workspace_id)
    events.record(
        session,
        workspace_id=workspace_id,
        type="api_key.created",
        subject_type="api_key",
        subject_id=issued.key.id,
        actor=principal.actor,
        name=name,
        prefix=issued.key.prefix,
    )
    return {**_fields(issued.key), "key": issued.token}


def _fields(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "workspace_id": key.workspace_id,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def list_keys(
    session: Session, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[Sequence[ApiKey], str | None]:
    rows = session.scalars(paginate(_mine(principal), ApiKey.id, cursor, limit)).all()
    return split_page(rows, limit, lambda k: k.id)


def revoke_key(session: Session, key: ApiKey, *, actor: str) -> None:
    """Revoke `key` and record it, whoever asks (a user through the API, an operator through
    the CLI); a revoked key stays as it is."""
    if key.revoked_at is not None:
        return
    key.revoked_at = clock.now()
    events.record(
        session,
        workspace_id=key.workspace_id,
        type="api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        actor=actor,
        prefix=key.prefix,
    )
    session.flush()


def revoke(session: Session, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of the caller's keys; revoking a revoked key changes nothing."""
    key: ApiKey | None = session.scalars(
        _mine(principal).where(ApiKey.id == key_id).with_for_update()
    ).first()
    if key is None:
        raise NotFound(f"API key {key_id} not found.", code="api_key_not_found")
    revoke_key(session, key, actor=principal.actor)
    return key
