"""Request and response bodies of the invitation routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from mailfleet.kit.schemas import Email, ResponseSchema, Schema
from mailfleet.models import InvitationStatus, Role


class InvitationCreate(Schema):
    email: Email
    role: Role = Role.VIEWER


class Invitation(ResponseSchema):
    id: uuid.UUID
    workspace_id: uuid.UUID
    workspace_name: str
    email: str
    role: Role
    status: InvitationStatus
    invited_by_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None
