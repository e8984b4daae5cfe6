"""Tenant scoping, in one place: every read of a tenant-owned table goes through here.

A row of another workspace is indistinguishable from a row that does not exist (404).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from mailfleet.exceptions import NotFound
from mailfleet.models.base import TenantMixin

M = TypeVar("M", bound=TenantMixin)

# The bind parameter of `scoped_template`: every execution must supply it.
WORKSPACE = "scope_workspace_id"


def scoped(model: type[M], workspace_id: uuid.UUID) -> Select[Any]:
    return select(model).where(model.workspace_id == workspace_id)


def scoped_columns(model: type[TenantMixin], workspace_id: uuid.UUID, *columns: Any) -> Select[Any]:
    return select(*columns).where(model.workspace_id == workspace_id)


def scoped_template(model: type[TenantMixin], *columns: Any) -> Select[Any]:
    """`scoped_columns` for a statement built once and run many times.

    The workspace is the bind parameter WORKSPACE; SQLAlchemy refuses to run the statement
    without a value for it, so a caller cannot forget the scope.
    """
    return select(*columns).where(model.workspace_id == bindparam(WORKSPACE))


def get_scoped(
    session: Session,
    model: type[M],
    workspace_id: uuid.UUID,
    resource_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> M:
    statement = scoped(model, workspace_id).where(model.id == resource_id)  # type: ignore[attr-defined]
    if for_update:
        statement = statement.with_for_update()
    found: M | None = session.scalars(statement).first()
    if found is None:
        raise NotFound(
            f"{model.__name__} {resource_id} not found.",
            code=f"{_snake(model.__name__)}_not_found",
        )
    return found


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
