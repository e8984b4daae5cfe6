from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from mailfleet.billing.subscriptions.schemas import QuoteLine
from mailfleet.kit.schemas import ResponseSchema
from mailfleet.models import LedgerKind


class Invoice(ResponseSchema):
    id: uuid.UUID
    number: str
    kind: LedgerKind
    subscription_id: uuid.UUID | None
    wallet_entry_id: uuid.UUID | None = Field(description="The ledger entry it documents.")
    currency: str
    lines: list[QuoteLine]
    subtotal_cents: int
    credit_cents: int
    total_cents: int
    billing_details: dict[str, Any] | None = Field(
        description="The workspace's billing details when it was issued."
    )
    issued_at: datetime
