"""What Mailfleet asks of a registrar, whatever its API looks like."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Verdict(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    TAKEN = "TAKEN"
    # Registrable, but at the registry's premium price: never bought without the customer
    # seeing that price.
    PREMIUM = "PREMIUM"
    # The registrar cannot sell it through its API (TLD not offered, name refused).
    UNSUPPORTED = "UNSUPPORTED"


@dataclass(frozen=True)
class Availability:
    name: str
    verdict: Verdict
    # The registrar's first-year price in integer cents of `currency`; None when not for sale.
    price_cents: int | None = None
    renewal_cents: int | None = None
    currency: str = "USD"
    reason: str = ""


class RegistrarError(Exception):
    """The registrar failed or refused a call; `message` is its own words."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Set when the registrar said to slow down (its rate limit).
        self.retry_after = retry_after


class TransientRegistrarError(RegistrarError):
    """The call may have failed for a passing reason (no answer, a rate limit, a 5xx): try
    again later, with the same idempotency key."""


class RegistrarNotConfigured(RegistrarError):
    """The deployment sells no domains (MAILFLEET_REGISTRAR=none)."""


class RenewalNotSupported(RegistrarError):
    """The registrar's API cannot renew a domain (Porkbun's v3 documents no renew call): the
    renewal is recorded FAILED with this reason, to be renewed at the registrar by hand."""

    code = "renewal_not_supported"


@dataclass(frozen=True)
class RenewalResult:
    name: str
    # The registration's end after the renewal, as the registrar says it.
    expires_at: datetime
    # What the registrar charged, in cents (None when its answer does not say).
    charged_cents: int | None
    order_id: str


@dataclass(frozen=True)
class Registration:
    name: str
    # The registrar's reference for the order (shown to operators, used for support).
    order_id: str


@dataclass(frozen=True)
class Contact:
    """The registrant (and admin, tech, billing) contact: the workspace's billing details.
    Registrars that register with the account's own default contact (Porkbun) ignore it."""

    organization: str
    email: str
    address1: str
    city: str
    postal_code: str
    # ISO 3166-1 alpha-2.
    country: str
    address2: str = ""
    state_province: str = ""
    # "+1.5555555555".
    phone: str = ""
    first_name: str = ""
    last_name: str = ""


class Registrar(Protocol):
    name: str
    # The longest registration one call can make, in years.
    max_years: int

    def check(self, names: Sequence[str]) -> list[Availability]:
        """Each name's availability and price, in the order given. Raises RegistrarError when
        the registrar cannot answer at all (a name it refuses is an UNSUPPORTED answer)."""
        ...

    def register(
        self,
        name: str,
        *,
        years: int,
        cost_cents: int,
        nameservers: Sequence[str],
        idempotency_key: str,
        contact: Contact | None = None,
        attempt: int = 1,
    ) -> Registration:
        """Register `name` at the quoted `cost_cents` (refused if the price changed) with
        `nameservers` set. A retry with the same `idempotency_key` never registers twice.
        `contact` is the registrant (None: the workspace has no billing details); `attempt`
        counts this purchase's calls, so a registrar without idempotency keys can look for an
        earlier attempt's registration first.
        Raises TransientRegistrarError when trying again may work, RegistrarError when not."""
        ...

    def renew(self, name: str, years: int) -> RenewalResult:
        """Extend `name`'s registration by `years`. There is no idempotency key: before
        retrying a renewal whose answer was lost, ask `expiry` whether it happened.
        Raises TransientRegistrarError when the outcome is unknown or trying again may work,
        RenewalNotSupported when the registrar cannot renew, RegistrarError when it refused."""
        ...

    def expiry(self, name: str) -> datetime | None:
        """When `name`'s registration in the account ends; None when it is not in the account."""
        ...
