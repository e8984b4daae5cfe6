"""Wallet API bodies: the balance and its auto-recharge, the ledger, operator adjustments.
Money is integer cents (`*_cents`) with its `currency`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from mailfleet.kit.schemas import ResponseSchema, Schema, no_control
from mailfleet.models import LedgerKind

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(no_control),
]


class AutoRecharge(ResponseSchema):
    enabled: bool
    threshold_cents: int
    amount_cents: int


class Wallet(ResponseSchema):
    balance_cents: int
    currency: str
    auto_recharge: AutoRecharge
    has_payment_method: bool


class WalletEntry(ResponseSchema):
    id: uuid.UUID
    created_at: datetime
    kind: LedgerKind
    amount_cents: int = Field(description="Signed: credits positive, debits negative.")
    balance_after_cents: int
    currency: str
    reason: str
    actor: str
    reference_type: str | None
    reference_id: str | None


class AdjustmentCreate(Schema):
    amount_cents: int = Field(
        description="Signed cents: positive credits the wallet, negative takes money out "
        "(never below zero).",
        ge=-100_000_000,
        le=100_000_000,
    )
    reason: Reason = Field(description="Why (shown in the ledger), e.g. 'bank transfer 2026-03'.")
