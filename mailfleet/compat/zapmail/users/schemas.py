"""Zapmail's user shape (GET /v2/users)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from mailfleet.account.service import UserDetails
from mailfleet.compat.shapes import CamelOut, Timestamp


class User(CamelOut):
    id: uuid.UUID
    email: str = Field(examples=["example@domain.com"])
    first_name: str = Field(examples=["John"])
    last_name: str = Field(examples=["Doe"])
    active_plan: str | None = Field(
        examples=["Starter"], description="The plan of the newest active subscription, or null."
    )
    plan_ends_on: Timestamp | None = Field(description="That subscription's period end.")
    purchased_mailboxes: int = Field(examples=[120], description="Slots owned, every type.")
    assigned_mailboxes: int = Field(examples=[85], description="Slots in use, every type.")
    user_created_at: Timestamp
    wallet_balance: float = Field(examples=[100.5], description="USD (cents / 100).")


def first_and_last(name: str) -> tuple[str, str]:
    """A full name as Zapmail's two fields: the first word, and the rest."""
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def user(details: UserDetails) -> dict[str, Any]:
    first, last = first_and_last(details.user.name or "")
    return {
        "id": details.user.id,
        "email": details.user.email,
        "firstName": first,
        "lastName": last,
        "activePlan": details.active_plan,
        "planEndsOn": details.plan_ends_on,
        "purchasedMailboxes": details.purchased_mailboxes,
        "assignedMailboxes": details.assigned_mailboxes,
        "userCreatedAt": details.user.created_at,
        "walletBalance": details.wallet_balance_cents / 100,
    }
