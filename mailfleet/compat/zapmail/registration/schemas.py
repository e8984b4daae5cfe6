"""Zapmail's domain search and purchase shapes (reference 4.8, 5.9 "Domain search and purchase").

The document gives the purchase body only; the availability bodies are `domainName` (+ `tlds`,
`years`) and `domainNames` (typed string in the spec: a comma-separated string is taken too).
Answers are Mailfleet's decisions (docs/zapmail/registration.md). Prices are USD numbers.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from mailfleet.compat.shapes import CamelIn, CamelOut, Timestamp
from mailfleet.compat.zapmail.statuses import domain_status
from mailfleet.models.enums import DomainStatus

MAX_NAMES = 20
MAX_YEARS = 10
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
Tld = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=63, pattern=r"^\.?[^.\s]+(\.[^.\s]+)*$"
    ),
]
Years = Annotated[int, Field(ge=1, le=MAX_YEARS, description="Registration years (default 1).")]


class Available(CamelIn):
    domain_name: Name = Field(examples=["acme-mail.com"])
    tlds: list[Tld] | None = Field(
        default=None,
        max_length=10,
        examples=[["com", "io"]],
        description="Also try the name's label in these TLDs.",
    )
    years: Years = 1


class AvailableBulk(CamelIn):
    domain_names: list[Name] = Field(
        min_length=1,
        max_length=MAX_NAMES,
        examples=[["example.com", "example.io"]],
        description='Up to 20 names: an array, or one comma-separated string ("a.com,b.io").',
    )
    years: Years = 1

    @field_validator("domain_names", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # The spec types it string: "a.com, b.io" is the same request as ["a.com", "b.io"].
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return value


class DomainOrder(CamelIn):
    domain_name: Name = Field(examples=["example.com"])
    years: Years = 1


class Buy(CamelIn):
    domains: list[DomainOrder] = Field(min_length=1, max_length=MAX_NAMES)
    use_wallet: bool = Field(
        default=False, description="true: pay from the wallet; false: answer a payment link."
    )
    enable_dns_shield: bool = Field(default=False, description="Accepted; no effect.")


class MailboxIn(CamelIn):
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    mailbox_username: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class QuickSetup(Buy):
    mailboxes: dict[Name, list[MailboxIn]] = Field(
        default_factory=dict,
        description="Per bought domain name, the mailboxes placed on it once it is ACTIVE.",
    )
    apps: list[str] | None = Field(default=None, max_length=20)
    third_party_account_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _mailboxes_on_bought_domains(self) -> QuickSetup:
        bought = {item.domain_name.lower() for item in self.domains}
        strangers = [name for name in self.mailboxes if name.lower() not in bought]
        if strangers:
            raise ValueError(f"mailboxes names domains not in `domains`: {', '.join(strangers)}")
        return self


class MailboxesWanted(CamelOut):
    domain_name: str
    requested: int
    placed: int = Field(description="Placed so far: 0 at the start (placed once ACTIVE).")


class Offer(CamelOut):
    domain_name: str
    available: bool
    premium: bool
    verdict: str = Field(
        examples=["AVAILABLE"], description="AVAILABLE, TAKEN, PREMIUM, UNSUPPORTED."
    )
    years: int
    price: float | None = Field(description="Mailfleet's price for `years`, USD.")
    renewal_price: float | None = Field(description="Per year after the first term, USD.")
    currency: str
    reason: str


class Search(CamelOut):
    domain_name: str
    available: bool
    premium: bool
    years: int
    price: float | None
    currency: str
    alternatives: list[Offer] = Field(description="The same label in other TLDs.")
    suggestions: list[Offer] = Field(description="Similar names.")


class Purchased(CamelOut):
    id: uuid.UUID
    domain_name: str
    years: int
    status: str = Field(examples=["PENDING"], description="PENDING, IN_PROGRESS, ACTIVE, FAILED.")
    price: float
    currency: str


class WalletMove(CamelOut):
    previous_balance: float
    amount_deducted: float
    current_balance: float


class BuyAnswer(CamelOut):
    domains: list[Purchased] | list[Offer]
    total_amount: float
    currency: str
    paid_from_wallet: bool
    payment_link: str | None
    wallet_balance: WalletMove | None


class QuickSetupAnswer(BuyAnswer):
    quick_setup_id: uuid.UUID = Field(description="Follow it at GET /v2/quick-setup/status.")
    addon_mailboxes: int = Field(description="Slots bought for the mailboxes lacking one (R16).")
    addon_amount: float = Field(description="What those slots cost, USD (in totalAmount).")
    mailboxes: list[MailboxesWanted]


class SetupDomain(CamelOut):
    domain_name: str
    purchase_status: str = Field(
        examples=["ACTIVE"], description="PENDING, IN_PROGRESS, ACTIVE, FAILED."
    )
    domain_status: str | None = Field(examples=["ACTIVE"])
    requested: int
    placed: int
    skipped: str | None = Field(description="Why its mailboxes were not placed, if so.")


class QuickSetupStatus(CamelOut):
    id: uuid.UUID
    status: str = Field(
        examples=["WAITING_FOR_DOMAINS"],
        description="AWAITING_PAYMENT, WAITING_FOR_DOMAINS, WAITING_FOR_MAILBOXES, DONE, FAILED.",
    )
    service_provider: str
    total_amount: float
    addon_mailboxes: int
    domains: list[SetupDomain]
    export_ids: list[str] = Field(description="Mailfleet's export job ids, once exported.")
    failure_reason: str | None
    created_at: Timestamp
    completed_at: Timestamp | None


def setup_status(view: Any) -> dict[str, Any]:
    """A `setups.views.SetupView` in Zapmail's casing and vocabulary."""
    return {
        "id": view.id,
        "status": view.status,
        "serviceProvider": view.mailbox_type,
        "totalAmount": view.total_cents / 100,
        "addonMailboxes": view.addon_slots,
        "domains": [
            {
                "domainName": d.name,
                "purchaseStatus": PURCHASE_STATUS.get(d.purchase_status, d.purchase_status),
                "domainStatus": None
                if d.domain_status is None
                else domain_status(DomainStatus(d.domain_status)),
                "requested": d.requested,
                "placed": d.placed,
                "skipped": d.skipped,
            }
            for d in view.domains
        ],
        "exportIds": view.export_ids,
        "failureReason": view.failure_reason,
        "createdAt": view.created_at,
        "completedAt": view.completed_at,
    }


def dollars(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def offer(item: Any, years: int) -> dict[str, Any]:
    """A native offer for `years`: the first-year price times the years, as bought."""
    price = None if item.price_cents is None else item.price_cents * years
    return {
        "domainName": item.name,
        "available": item.available,
        "premium": item.verdict.value == "PREMIUM",
        "verdict": item.verdict.value,
        "years": years,
        "price": dollars(price),
        "renewalPrice": dollars(item.renewal_price_cents),
        "currency": item.currency,
        "reason": item.reason,
    }


PURCHASE_STATUS = {
    "PENDING": "PENDING",
    "REGISTERING": "IN_PROGRESS",
    "REGISTERED": "ACTIVE",
    "FAILED": "FAILED",
}


def purchased(row: Any) -> dict[str, Any]:
    status = str(getattr(row.status, "value", row.status))
    return {
        "id": row.id,
        "domainName": row.name,
        "years": row.years,
        "status": PURCHASE_STATUS.get(status, status),
        "price": (row.price_cents * row.years) / 100,
        "currency": row.currency,
    }
