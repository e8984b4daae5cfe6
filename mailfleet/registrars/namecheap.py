"""Namecheap's XML API (https://api.namecheap.com/xml.response; sandbox
https://api.sandbox.namecheap.com/xml.response). Every call carries the global parameters
`ApiUser`, `ApiKey`, `UserName`, `ClientIp` (whitelisted in the account) and `Command`; answers
are `<ApiResponse xmlns="http://api.namecheap.com/xml.response" Status="OK|ERROR">` with
`<Errors><Error Number="...">text</Error></Errors>` on failure.

Availability is `namecheap.domains.check` with `DomainList` (comma-separated, sent in batches
of `BATCH`), read from each `<DomainCheckResult Domain Available IsPremiumName
PremiumRegistrationPrice ...>`. The check carries no regular price: it comes from
`namecheap.users.getPricing` (`ProductType=DOMAIN`, `ActionName=REGISTER`, `ProductName=<tld>`),
which Namecheap asks callers to cache; it is kept per TLD for `namecheap_pricing_cache_seconds`,
so a check costs one pricing call per TLD not seen lately. A TLD without a REGISTER price is one
Namecheap does not sell through its API: its names are UNSUPPORTED and never sent to the check.

Registration is `namecheap.domains.create` (POST) with `Years`, the Registrant, Tech, Admin and
AuxBilling contacts (all the workspace's billing details), `Nameservers` (so no separate
nameserver call is needed) and WHOIS privacy on (`AddFreeWhoisguard=yes`, `WGEnabled=yes`).

Namecheap has no idempotency key. A retried purchase (attempt > 1: the earlier call may have
registered the name before its answer was lost) therefore first asks
`namecheap.domains.getInfo` whether the name is already in the account; if it is, that is the
registration (its nameservers are set again with `namecheap.domains.dns.setCustom`) and nothing
is bought twice.

Renewal is `namecheap.domains.renew` (`DomainName`, `Years`), answered by `<DomainRenewResult
DomainName DomainID Renew ChargedAmount OrderID TransactionID>` with
`<DomainDetails><ExpiredDate>` (the new end, "4/30/2021 11:31:13 AM"). It has no idempotency
key either: the renewal sweep asks `getInfo`'s `DomainDetails/ExpiredDate` ("09/05/2016")
before calling it again after a lost answer (`expiry`).

Errors: the documented numbers that no retry can fix (authentication 1xxxxxx, validation,
TLD not supported, domain not available, price mismatch, order creation failed and insufficient
funds) are permanent; provider-side failures ("error from Enom", unknown responses) and the
rate limit are transient, like HTTP 5xx, timeouts and unreachable servers.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from mailfleet.config import Settings
from mailfleet.registrars.gate import Gate
from mailfleet.registrars.porkbun import cents
from mailfleet.registrars.protocol import (
    Availability,
    Contact,
    RegistrarError,
    Registration,
    RenewalResult,
    TransientRegistrarError,
    Verdict,
)

NS = "{http://api.namecheap.com/xml.response}"
BATCH = 20
CONTACT_ROLES = ("Registrant", "Tech", "Admin", "AuxBilling")
# Used when the billing details name no person: the organization is the registrant.
ROLE_NAME = ("Domain", "Administrator")
# Documented numbers a retry may fix: the provider behind Namecheap failed or answered
# something unknown (domains.create, domains.check, getInfo).
TRANSIENT_NUMBERS = {"3031166", "3028166", "3031900", "3031510", "3011511", "3050900", "5050900"}
# Said when the account's API rate limit (per minute, hour and day) is used up.
_LIMIT_WORDS = ("too many requests", "rate limit")
# getInfo's "not in your account" answers.
NOT_FOUND_NUMBERS = {"2019166", "2016166"}
RATE_LIMIT_PAUSE = 60.0


@dataclass(frozen=True)
class NamecheapError:
    number: str
    text: str


class Namecheap:
    name = "namecheap"
    max_years = 10

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        api_key = settings.namecheap_api_key.get_secret_value()
        if not settings.namecheap_api_user or not api_key or not settings.namecheap_client_ip:
            raise ValueError(
                "MAILFLEET_NAMECHEAP_API_USER, MAILFLEET_NAMECHEAP_API_KEY and "
                "MAILFLEET_NAMECHEAP_CLIENT_IP are required"
            )
        self._auth = {
            "ApiUser": settings.namecheap_api_user,
            "ApiKey": api_key,
            "UserName": settings.namecheap_username or settings.namecheap_api_user,
            "ClientIp": settings.namecheap_client_ip,
        }
        self._url = settings.namecheap_api_base
        self._client = httpx.Client(timeout=settings.registrar_timeout_seconds)
        self._gate = Gate(settings)
        self._cache_seconds = settings.namecheap_pricing_cache_seconds
        self._default_phone = settings.registrar_contact_phone
        self._clock = clock
        # tld -> (fetched at, first-year cents or None when not sold, renewal cents, reason)
        self._prices: dict[str, tuple[float, int | None, int | None, str]] = {}
        self._lock = threading.Lock()

    # --- availability -------------------------------------------------------------------

    def check(self, names: Sequence[str]) -> list[Availability]:
        # One price lookup per TLD per check, whatever the cache's age.
        prices = {tld: self._price(tld) for tld in {_tld(name) for name in names}}
        answers: dict[str, Availability] = {}
        sold: list[str] = []
        for name in names:
            price, _, reason = prices[_tld(name)]
            if price is None:
                answers[name] = Availability(name, Verdict.UNSUPPORTED, reason=reason)
            else:
                sold.append(name)
        for start in range(0, len(sold), BATCH):
            answers.update(self._check_batch(sold[start : start + BATCH], prices))
        return [
            answers.get(name)
            or Availability(name, Verdict.UNSUPPORTED, reason="Namecheap gave no answer.")
            for name in names
        ]

    def _check_batch(
        self, names: list[str], prices: dict[str, tuple[int | None, int | None, str]]
    ) -> dict[str, Availability]:
        root = self._call("namecheap.domains.check", DomainList=",".join(names))
        found: dict[str, Availability] = {}
        for result in root.iter(f"{NS}DomainCheckResult"):
            name = (result.get("Domain") or "").lower()
            price, renewal, _ = prices.get(_tld(name), (None, None, ""))
            found[name] = _availability(name, result, price, renewal)
        return found

    def _price(self, tld: str) -> tuple[int | None, int | None, str]:
        """The TLD's one-year REGISTER and RENEW prices (cents), from the cache when fresh."""
        now = self._clock()
        with self._lock:
            cached = self._prices.get(tld)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1], cached[2], cached[3]
        price, renewal, reason = self._fetch_price(tld)
        with self._lock:
            self._prices[tld] = (now, price, renewal, reason)
        return price, renewal, reason

    def _fetch_price(self, tld: str) -> tuple[int | None, int | None, str]:
        unsupported = f"Namecheap does not sell .{tld} through its API."
        try:
            # No ActionName: one call answers every action (REGISTER, RENEW, REACTIVATE,
            # TRANSFER), so the renewal price is quoted with the first year's.
            root = self._call(
                "namecheap.users.getPricing", ProductType="DOMAIN", ProductName=tld.upper()
            )
        except _Refused as refused:
            if refused.error.number.startswith("1"):
                raise  # the account itself is refused: every name would be
            return None, None, f"{unsupported} ({refused.error.text})"
        price = _one_year_price(root, "REGISTER", tld)
        if price is None:
            return None, None, unsupported
        return price, _one_year_price(root, "RENEW", tld), ""

    # --- registration -------------------------------------------------------------------

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
        if not 1 <= years <= self.max_years:
            raise RegistrarError(f"Namecheap registers for 1 to {self.max_years} years.")
        fields = self._contact_fields(contact)
        price, _, reason = self._price(_tld(name))
        if price != cost_cents:
            # Regular names take no price in the create call: the quote is checked here.
            raise RegistrarError(
                reason or f"Namecheap's price for {name} changed since the quote; buy it again."
            )
        if attempt > 1:
            earlier = self._in_account(name)
            if earlier is not None:
                self._set_nameservers(name, nameservers)
                return Registration(name, earlier)
        root = self._call(
            "namecheap.domains.create",
            post=True,
            DomainName=name,
            Years=str(years),
            Nameservers=",".join(nameservers),
            AddFreeWhoisguard="yes",
            WGEnabled="yes",
            **fields,
        )
        result = root.find(f".//{NS}DomainCreateResult")
        if result is None or not _true(result.get("Registered")):
            raise RegistrarError(f"Namecheap did not register {name}.")
        return Registration(name, result.get("OrderID") or result.get("DomainID") or name)

    def _contact_fields(self, contact: Contact | None) -> dict[str, str]:
        if contact is None:
            raise RegistrarError(
                "Namecheap registers domains in the workspace's name: set its billing details "
                "(company name, contact email, address, city, postal code, country) with "
                "PUT /v1/workspaces/{id}/billing, then buy again."
            )
        phone = contact.phone or self._default_phone
        if not phone:
            raise RegistrarError(
                "Namecheap needs a registrant phone number (+1.5555555555): none is in the "
                "workspace's billing details and MAILFLEET_REGISTRAR_CONTACT_PHONE is not set."
            )
        first, last = (contact.first_name, contact.last_name)
        if not first or not last:
            first, last = ROLE_NAME
        values = {
            "OrganizationName": contact.organization,
            "FirstName": first,
            "LastName": last,
            "Address1": contact.address1,
            "Address2": contact.address2,
            "City": contact.city,
            # Namecheap requires one; countries without states use the city.
            "StateProvince": contact.state_province or contact.city,
            "PostalCode": contact.postal_code,
            "Country": contact.country.upper(),
            "Phone": phone,
            "EmailAddress": contact.email,
        }
        return {
            f"{role}{key}": value
            for role in CONTACT_ROLES
            for key, value in values.items()
            if value
        }

    def _in_account(self, name: str) -> str | None:
        """The domain's id when an earlier attempt registered it, else None."""
        try:
            root = self._call("namecheap.domains.getInfo", DomainName=name)
        except _Refused as refused:
            if refused.error.number in NOT_FOUND_NUMBERS:
                return None
            raise
        info = root.find(f".//{NS}DomainGetInfoResult")
        if info is None or info.get("DomainName", "").lower() != name.lower():
            return None
        return info.get("ID") or name

    # --- renewal ------------------------------------------------------------------------

    def renew(self, name: str, years: int) -> RenewalResult:
        if not 1 <= years <= self.max_years:
            raise RegistrarError(f"Namecheap renews for 1 to {self.max_years} years.")
        root = self._call("namecheap.domains.renew", post=True, DomainName=name, Years=str(years))
        result = root.find(f".//{NS}DomainRenewResult")
        if result is None or not _true(result.get("Renew")):
            raise RegistrarError(f"Namecheap did not renew {name}.")
        expires = _date(result.findtext(f"{NS}DomainDetails/{NS}ExpiredDate"))
        if expires is None:
            # Renewed, but the answer lacks the new end: getInfo has it.
            expires = self.expiry(name)
        if expires is None:
            raise TransientRegistrarError(f"Namecheap renewed {name} without saying until when.")
        order = result.get("OrderID") or result.get("TransactionID") or name
        return RenewalResult(name, expires, cents(result.get("ChargedAmount")), order)

    def expiry(self, name: str) -> datetime | None:
        try:
            root = self._call("namecheap.domains.getInfo", DomainName=name)
        except _Refused as refused:
            if refused.error.number in NOT_FOUND_NUMBERS:
                return None
            raise
        info = root.find(f".//{NS}DomainGetInfoResult")
        if info is None or info.get("DomainName", "").lower() != name.lower():
            return None
        return _date(info.findtext(f"{NS}DomainDetails/{NS}ExpiredDate"))

    def _set_nameservers(self, name: str, nameservers: Sequence[str]) -> None:
        sld, _, tld = name.partition(".")
        self._call(
            "namecheap.domains.dns.setCustom",
            post=True,
            SLD=sld,
            TLD=tld,
            Nameservers=",".join(nameservers),
        )

    # --- transport ----------------------------------------------------------------------

    def _call(self, command: str, *, post: bool = False, **params: str) -> ET.Element:
        fields = {**self._auth, "Command": command, **params}
        try:
            with self._gate.place() as placed:
                if not placed:
                    raise TransientRegistrarError("Namecheap: too many calls in flight here.")
                if post:
                    response = self._client.post(self._url, data=fields)
                else:
                    response = self._client.get(self._url, params=fields)
        except httpx.TimeoutException as exc:
            raise TransientRegistrarError("Namecheap did not answer in time.") from exc
        except httpx.TransportError as exc:
            message = f"Namecheap could not be reached: {type(exc).__name__}."
            raise TransientRegistrarError(message) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientRegistrarError(
                f"Namecheap: HTTP {response.status_code}.", retry_after=RATE_LIMIT_PAUSE
            )
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise TransientRegistrarError("Namecheap: an answer that is not XML.") from exc
        if root.get("Status") == "OK":
            return root
        raise _error(_first_error(root))


class _Refused(RegistrarError):
    """Status="ERROR" with a number a retry cannot fix."""

    def __init__(self, error: NamecheapError) -> None:
        super().__init__(f"Namecheap: {error.text} ({error.number})")
        self.error = error


class _Passing(TransientRegistrarError):
    def __init__(self, error: NamecheapError, retry_after: float | None) -> None:
        super().__init__(f"Namecheap: {error.text} ({error.number})", retry_after=retry_after)
        self.error = error


def _error(error: NamecheapError) -> RegistrarError:
    lowered = error.text.lower()
    if any(word in lowered for word in _LIMIT_WORDS):
        return _Passing(error, RATE_LIMIT_PAUSE)
    if error.number in TRANSIENT_NUMBERS:
        return _Passing(error, None)
    return _Refused(error)


def _availability(
    name: str, result: ET.Element, price: int | None, renewal: int | None
) -> Availability:
    if result.get("ErrorNo", "0") not in ("0", ""):
        reason = result.get("Description") or f"Namecheap error {result.get('ErrorNo')}."
        return Availability(name, Verdict.UNSUPPORTED, reason=reason)
    if not _true(result.get("Available")):
        return Availability(name, Verdict.TAKEN, reason="Registered already.")
    if _true(result.get("IsPremiumName")):
        premium = cents(result.get("PremiumRegistrationPrice"))
        premium_renewal = cents(result.get("PremiumRenewalPrice"))
        return Availability(name, Verdict.PREMIUM, premium, premium_renewal, reason="Premium name.")
    return Availability(name, Verdict.AVAILABLE, price, renewal)


def _first_error(root: ET.Element) -> NamecheapError:
    found = root.find(f"{NS}Errors/{NS}Error")
    if found is None:
        return NamecheapError("0", "an error without a description")
    return NamecheapError(found.get("Number", "0"), (found.text or "").strip())


def _one_year_price(root: ET.Element, action: str, tld: str) -> int | None:
    for category in root.iter(f"{NS}ProductCategory"):
        if category.get("Name", "").upper() != action:
            continue
        for product in category.iter(f"{NS}Product"):
            if product.get("Name", "").lower() != tld.lower():
                continue
            for price in product.iter(f"{NS}Price"):
                if price.get("Duration") == "1" and price.get("DurationType", "YEAR") == "YEAR":
                    return cents(price.get("YourPrice") or price.get("Price"))
    return None


def _tld(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _date(value: str | None) -> datetime | None:
    """Namecheap's US dates ("09/05/2016", "4/30/2021 11:31:13 AM") as UTC midnight of the
    day: renewals are decided by the day, and the time of day is the registry's."""
    if not value:
        return None
    try:
        month, day, year = (int(part) for part in value.strip().split(" ", 1)[0].split("/"))
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
