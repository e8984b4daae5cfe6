from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mailfleet.kit.schemas import Name, ResponseSchema, Schema


class ApiKeyCreate(Schema):
    name: Name
    workspace_id: uuid.UUID | None = Field(
        default=None, description="Pin the key to one of your workspaces; it can act on no other."
    )


class ApiKey(ResponseSchema):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it by.")
    workspace_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedApiKey(ApiKey):
    key: str = Field(description="The secret token. Shown this once; store it now.")
