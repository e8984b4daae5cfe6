"""First start: an empty database gets an owner, a workspace and a one-time API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailfleet.account.service import count_users, create_user
from mailfleet.auth.service import issue_key
from mailfleet.billing.plans.seed import seed as seed_plans
from mailfleet.config import Settings
from mailfleet.workspaces.service import create_workspace


@dataclass(frozen=True)
class Bootstrapped:
    email: str
    workspace_id: uuid.UUID
    workspace_name: str
    token: str


def bootstrap_if_empty(session: Session, settings: Settings) -> Bootstrapped | None:
    if count_users(session):
        return None
    # The first user runs the deployment, so it is also the first operator.
    user = create_user(
        session, email=settings.bootstrap_owner_email, name="Owner", is_operator=True
    )
    workspace = create_workspace(session, owner=user, name="Default")
    issued = issue_key(session, user=user, name="bootstrap")
    # A fresh deployment sells the default plan table (`mailfleet plans seed` adds it later).
    seed_plans(session, settings)
    return Bootstrapped(user.email, workspace.id, workspace.name, issued.token)
