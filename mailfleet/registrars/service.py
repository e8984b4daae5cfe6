"""Availability and prices: names checked, the registrar asked, Mailfleet's price added.

Nothing here touches the database: a check is a network call, made with no transaction open.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from mailfleet.auth.ratelimit import RateLimits
from mailfleet.config import Settings
from mailfleet.domains.names import NameError_, normalise
from mailfleet.exceptions import FieldError
from mailfleet.registrars import rdap
from mailfleet.registrars.errors import (
    DuplicateNames,
    RegistrarFailed,
    RegistrarNotConfiguredError,
    TooManyNames,
)
from mailfleet.registrars.protocol import (
    Availability,
    Registrar,
    RegistrarError,
    RegistrarNotConfigured,
    Verdict,
)


@dataclass(frozen=True)
class Offer:
    """One name's answer as customers see it."""

    name: str
    verdict: Verdict
    registrar: str
    registrar_price_cents: int | None
    price_cents: int | None
    renewal_price_cents: int | None
    currency: str
    reason: str

    @property
    def available(self) -> bool:
        return self.verdict == Verdict.AVAILABLE


def with_markup(cents: int | None, percent: int) -> int | None:
    """The registrar's price plus `percent`, rounded up to the cent."""
    if cents is None:
        return None
    return math.ceil(cents * (100 + percent) / 100)


def _names(settings: Settings, names: Sequence[object]) -> tuple[list[str], dict[int, NameError_]]:
    if len(names) > settings.domain_search_max_names:
        raise TooManyNames(
            f"Check at most {settings.domain_search_max_names} names at once; got {len(names)}.",
            field="names",
        )
    valid: list[str] = []
    invalid: dict[int, NameError_] = {}
    seen: dict[str, int] = {}
    duplicates: list[FieldError] = []
    for index, raw in enumerate(names):
        result = normalise(raw, local_tlds=settings.local_tlds)
        if isinstance(result, NameError_):
            invalid[index] = result
            continue
        if result.ascii in seen:
            duplicates.append(
                FieldError(
                    f"names[{index}]", "duplicate_name", f"Same as names[{seen[result.ascii]}]."
                )
            )
            continue
        seen[result.ascii] = index
        valid.append(result.ascii)
    if duplicates:
        raise DuplicateNames(
            "A name appears more than once.", field=duplicates[0].field, errors=duplicates
        )
    return valid, invalid


def check(
    settings: Settings,
    registrar: Registrar,
    searches: RateLimits | None,
    *,
    workspace_id: uuid.UUID,
    names: Sequence[object],
) -> list[Offer]:
    """Each name's offer, in the order given. Names that are no domain are UNSUPPORTED with
    why; the rest are asked of the registrar. Counts one search of the workspace's quota
    (`searches`; None for a purchase's own pricing)."""
    valid, invalid = _names(settings, names)
    if searches is not None:
        searches.hit(f"domain-search:{workspace_id}")
    taken = _registered_by_rdap(settings, registrar, valid)
    asked = [name for name in valid if name not in taken]
    try:
        answers = iter(registrar.check(asked) if asked else [])
    except RegistrarNotConfigured as exc:
        raise RegistrarNotConfiguredError(exc.message) from exc
    except RegistrarError as exc:
        headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after else None
        raise RegistrarFailed(exc.message, headers=headers) from exc
    offers = []
    checked = iter(valid)
    for index, raw in enumerate(names):
        if index in invalid:
            offers.append(_refused(str(raw), registrar.name, invalid[index].detail))
            continue
        name = next(checked)
        answer = (
            Availability(name, Verdict.TAKEN, reason=rdap.REASON)
            if name in taken
            else next(answers)
        )
        offers.append(_offer(answer, registrar.name, settings))
    return offers


def _registered_by_rdap(settings: Settings, registrar: Registrar, names: list[str]) -> set[str]:
    """Names the registry's RDAP already knows: TAKEN without a registrar call. Not asked for
    a deployment without a registrar, which answers 409 whatever the names."""
    if registrar.name == "none":
        return set()
    return rdap.registered(settings, names)


def _refused(name: str, registrar: str, reason: str) -> Offer:
    return Offer(name, Verdict.UNSUPPORTED, registrar, None, None, None, "USD", reason)


def _offer(answer: Availability, registrar: str, settings: Settings) -> Offer:
    percent = settings.domain_price_markup_percent
    return Offer(
        name=answer.name,
        verdict=answer.verdict,
        registrar=registrar,
        registrar_price_cents=answer.price_cents,
        price_cents=with_markup(answer.price_cents, percent),
        renewal_price_cents=with_markup(answer.renewal_cents, percent),
        currency=answer.currency,
        reason=answer.reason,
    )
