"""Cloudflare DNS through the official `cloudflare` client (API v4).

Cloudflare differs from the other providers in three ways this module absorbs:
- it assigns each zone its own nameserver pair (returned by `ensure_zone`) and manages SOA and
  apex NS itself, so the pair Mailfleet asked for, the serial and apex NS RRsets are not sent;
- it stores records one by one, not as RRsets: replacing an RRset lists the zone, diffs, and sends
  one batch (deletes, patches, posts: one database transaction at Cloudflare) so records that
  did not change keep their ids and are not touched;
- values are structured: MX priority is a field, SRV and CAA go in `data`, TXT is one string that
  Cloudflare cuts into 255-byte character-strings itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import cloudflare
from cloudflare.types.zones import Zone as CloudflareZone

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProviderError, Zone
from mailfleet.dns.records import Record, RRset

# Cloudflare accepts 1 ("automatic") or 60..86400 seconds on non-Enterprise zones.
MIN_TTL = 60
MAX_TTL = 86400
LIST_PAGE_SIZE = 1000
ZONE_EXISTS = 1061
# 408 is a timeout, 429 a rate limit, 5xx Cloudflare's own trouble: a later try can succeed.
RETRYABLE_STATUSES = frozenset({408, 429})

RecordKey = tuple[str, str]
Fingerprint = tuple[Any, ...]
Payload = dict[str, Any]


class CloudflareProvider:
    name = "cloudflare"

    def __init__(
        self,
        settings: Settings,
        *,
        max_retries: int = 2,
        timeout: float = 30.0,
        client: cloudflare.Cloudflare | None = None,
    ) -> None:
        """`max_retries` are the client's own retries of 429/5xx/timeouts (it honours Retry-After)
        before an error reaches the caller, whose job retries later. `timeout` is per HTTP call;
        not `dns_query_timeout`, which is sized for DNS answers, not for API writes."""
        token = settings.cloudflare_api_token.get_secret_value()
        if not token and client is None:
            raise DnsProviderError("MAILFLEET_CLOUDFLARE_API_TOKEN is not set", retryable=False)
        self._account_id = settings.cloudflare_account_id
        self._client = client or cloudflare.Cloudflare(
            api_token=token,
            base_url=settings.cloudflare_base_url or None,
            max_retries=max_retries,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    # --- zones

    def ensure_zone(self, zone: str, nameservers: Sequence[str], *, serial: int) -> Zone:
        """Find the zone by name, else create it; `nameservers` and `serial` are Cloudflare's
        own to choose (custom nameservers are a paid feature Mailfleet does not use)."""
        zone_name = _zone_name(zone)
        found = self._find_zone(zone_name) or self._create_zone(zone_name)
        return Zone(zone_id=found.id, nameservers=tuple(found.name_servers))

    def delete_zone(self, zone: Zone, zone_name: str) -> None:
        try:
            with _translated(f"deleting zone {zone_name}"):
                self._client.zones.delete(zone_id=zone.zone_id)
        except DnsProviderError as exc:
            if exc.retryable or not self._zone_gone(zone, zone_name, exc):
                raise

    def _zone_gone(self, zone: Zone, zone_name: str, error: DnsProviderError) -> bool:
        """Whether a refused delete means the zone is already gone. Cloudflare answers an unknown
        zone id with 404 or 400 (code 7003, 'could not route'), so ask by name to be sure."""
        if isinstance(error.__cause__, cloudflare.NotFoundError):
            return True
        found = self._find_zone(_zone_name(zone_name))
        return found is None or found.id != zone.zone_id

    def _find_zone(self, zone_name: str) -> CloudflareZone | None:
        with _translated(f"looking up zone {zone_name}"):
            if self._account_id:
                page = self._client.zones.list(name=zone_name, account={"id": self._account_id})
            else:
                page = self._client.zones.list(name=zone_name)
        return next((z for z in page.result if z.name.lower() == zone_name), None)

    def _create_zone(self, zone_name: str) -> CloudflareZone:
        if not self._account_id:
            raise DnsProviderError("MAILFLEET_CLOUDFLARE_ACCOUNT_ID is not set", retryable=False)
        try:
            with _translated(f"creating zone {zone_name}"):
                created = self._client.zones.create(
                    account={"id": self._account_id}, name=zone_name, type="full"
                )
        except DnsProviderError as exc:
            # Another worker (or a retried request) created it first: take that one.
            if ZONE_EXISTS in _error_codes(exc.__cause__):
                found = self._find_zone(zone_name)
                if found is not None:
                    return found
            raise
        if created is None:
            raise DnsProviderError(
                f"Cloudflare: creating zone {zone_name}: no zone in the answer", retryable=True
            )
        return created

    # --- records

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        zone_name = _zone_name(zone_name)
        existing = self._existing_records(zone, zone_name)
        plan = _Plan()
        for rrset in rrsets:
            if _managed(rrset.name, rrset.type, zone_name):
                current = existing.pop(_key(rrset.name, rrset.type), [])
                try:
                    plan.replace(rrset, current)
                except ValueError as exc:  # SRV/CAA content that does not split into its fields
                    raise DnsProviderError(
                        f"Cloudflare: {rrset.name} {rrset.type}: malformed content: {exc}",
                        retryable=False,
                    ) from exc
        for name, rtype in delete:
            if _managed(name, rtype, zone_name):
                plan.remove(existing.pop(_key(name, rtype), []))
        if plan.changes:
            self._apply(zone, zone_name, plan)
        return plan.ids

    def _existing_records(self, zone: Zone, zone_name: str) -> dict[RecordKey, list[Payload]]:
        """Every record of the zone grouped by (name, type): one call for a mail domain's zone."""
        grouped: dict[RecordKey, list[Payload]] = {}
        page_number = 1
        while True:
            with _translated(f"listing records of {zone_name}"):
                page = self._client.dns.records.list(
                    zone_id=zone.zone_id, page=page_number, per_page=LIST_PAGE_SIZE
                )
            for item in page.result:
                record: Payload = item.to_dict()
                grouped.setdefault(_key(record["name"], record["type"]), []).append(record)
            # Shorter than a full page is the last one; saves the empty page the iterator asks for.
            if len(page.result) < LIST_PAGE_SIZE:
                return grouped
            page_number += 1

    def _apply(self, zone: Zone, zone_name: str, plan: _Plan) -> None:
        with _translated(f"updating records of {zone_name}"):
            # The client types each entry as a union of per-type TypedDicts; ours are built per
            # type by `_payload`, so the cast only hides that union from mypy.
            result = self._client.dns.records.batch(
                zone_id=zone.zone_id,
                deletes=cast(Any, [{"id": record_id} for record_id in plan.deletes]),
                patches=cast(Any, plan.patches),
                posts=cast(Any, [payload for payload, _ in plan.posts]),
            )
        posted = result.posts if result is not None and result.posts else []
        if len(posted) != len(plan.posts):
            raise DnsProviderError(
                f"Cloudflare: updating records of {zone_name}: batch answered "
                f"{len(posted)} created records for {len(plan.posts)} sent",
                retryable=True,
            )
        # Cloudflare answers each list in the order it was sent.
        for (_, record), created in zip(plan.posts, posted, strict=True):
            plan.ids[(record.name, record.type, record.content)] = created.id


@dataclass
class _Plan:
    """The batch that makes Cloudflare's records match, and the ids the caller gets back."""

    deletes: list[str] = field(default_factory=list)
    patches: list[Payload] = field(default_factory=list)
    posts: list[tuple[Payload, Record]] = field(default_factory=list)
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return bool(self.deletes or self.patches or self.posts)

    def replace(self, rrset: RRset, current: list[Payload]) -> None:
        ttl = cloudflare_ttl(rrset.ttl)
        unmatched = list(current)
        missing: list[Record] = []
        for record in _unique(rrset.records):
            wanted = desired_fingerprint(record)
            same = next((c for c in unmatched if current_fingerprint(c) == wanted), None)
            if same is None:
                missing.append(record)
                continue
            unmatched.remove(same)
            self.ids[(record.name, record.type, record.content)] = same["id"]
            if same.get("ttl") != ttl or same.get("proxied"):
                self.patches.append({"id": same["id"], **_payload(record, ttl)})
        # A changed value reuses a stale record's id (one patch, not a delete and a post).
        for record, stale in zip(missing, unmatched, strict=False):
            self.patches.append({"id": stale["id"], **_payload(record, ttl)})
            self.ids[(record.name, record.type, record.content)] = stale["id"]
        self.posts.extend((_payload(r, ttl), r) for r in missing[len(unmatched) :])
        self.remove(unmatched[len(missing) :])

    def remove(self, records: list[Payload]) -> None:
        self.deletes.extend(record["id"] for record in records)


# --- Mapping between Mailfleet's records and Cloudflare's


def cloudflare_ttl(ttl: int) -> int:
    """Cloudflare's range; 1 would mean 'automatic' (300 s), which Mailfleet never asks for."""
    return max(MIN_TTL, min(MAX_TTL, ttl))


def _payload(record: Record, ttl: int) -> Payload:
    """The body Cloudflare takes for one record. Mail records are never proxied."""
    payload: Payload = {"name": record.name, "type": record.type, "ttl": ttl, "proxied": False}
    if record.type == "SRV":
        weight, port, target = record.content.split()
        payload["data"] = {
            "priority": _priority(record, default=0),
            "weight": int(weight),
            "port": int(port),
            "target": target.rstrip("."),
        }
    elif record.type == "CAA":
        flags, tag, value = record.content.split(maxsplit=2)
        payload["data"] = {"flags": int(flags), "tag": tag, "value": value.strip('"')}
    elif record.type == "TXT":
        payload["content"] = quote_txt(record.content)
    else:
        payload["content"] = record.content.rstrip(".") if _is_host(record.type) else record.content
    if record.type == "MX":
        payload["priority"] = _priority(record, default=10)
    return payload


def quote_txt(text: str) -> str:
    """One quoted character-string, unsplit: Cloudflare's API asks for quoted strings and cuts
    any longer than 255 bytes itself. Unquoted content would be stored verbatim and flagged."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def txt_text(content: str) -> str:
    """A TXT record's whole text as Cloudflare returns it, quoted and split or verbatim."""
    if not content.startswith('"'):
        return content
    strings: list[str] = []
    index = 0
    while index < len(content):
        if content[index] != '"':
            index += 1
            continue
        index += 1
        chars: list[str] = []
        while index < len(content) and content[index] != '"':
            if content[index] == "\\" and index + 1 < len(content):
                index += 1
            chars.append(content[index])
            index += 1
        strings.append("".join(chars))
        index += 1
    return "".join(strings)


def desired_fingerprint(record: Record) -> Fingerprint:
    """What makes a record the same at Cloudflare: type, normalised value and priority."""
    if record.type == "SRV":
        weight, port, target = record.content.split()
        return ("SRV", _priority(record, 0), int(weight), int(port), _host(target))
    if record.type == "CAA":
        flags, tag, value = record.content.split(maxsplit=2)
        return ("CAA", int(flags), tag.lower(), value.strip('"'))
    priority = _priority(record, 10) if record.type == "MX" else None
    return (record.type, _normal_content(record.type, record.content), priority)


def current_fingerprint(current: Mapping[str, Any]) -> Fingerprint:
    rtype = str(current["type"])
    data = current.get("data") or {}
    if rtype == "SRV":
        ports = (int(data.get("weight", 0)), int(data.get("port", 0)))
        return ("SRV", int(data.get("priority", 0)), *ports, _host(str(data.get("target", ""))))
    if rtype == "CAA":
        return (
            "CAA",
            int(data.get("flags", 0)),
            str(data.get("tag", "")).lower(),
            data.get("value"),
        )
    content = str(current.get("content", ""))
    if rtype == "TXT":
        content = txt_text(content)
    priority = int(current.get("priority") or 0) if rtype == "MX" else None
    return (rtype, _normal_content(rtype, content), priority)


def _normal_content(rtype: str, content: str) -> str:
    if _is_host(rtype):
        return _host(content)
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(content.strip()))
        except ValueError:
            return content.strip()
    return content


def _priority(record: Record, default: int) -> int:
    return record.priority if record.priority is not None else default


def _is_host(rtype: str) -> bool:
    return rtype in ("CNAME", "MX", "NS")


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _zone_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _key(name: str, rtype: str) -> RecordKey:
    return (_zone_name(name), rtype.upper())


def _managed(name: str, rtype: str, zone_name: str) -> bool:
    """Cloudflare serves the zone's SOA and apex NS itself; records there are not ours to set."""
    return rtype.upper() != "SOA" and not (rtype.upper() == "NS" and _zone_name(name) == zone_name)


def _unique(records: Sequence[Record]) -> list[Record]:
    seen: set[Fingerprint] = set()
    unique = []
    for record in records:
        fingerprint = desired_fingerprint(record)
        if fingerprint not in seen:
            seen.add(fingerprint)
            unique.append(record)
    return unique


# --- Errors


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Client exceptions as DnsProviderError: timeouts, lost connections, 429 and 5xx (after
    the client's own retries) are retryable; other 4xx are permanent, with Cloudflare's text."""
    try:
        yield
    except cloudflare.APIStatusError as exc:
        status = exc.status_code
        raise DnsProviderError(
            f"Cloudflare: {action}: HTTP {status}: {_error_text(exc)}",
            retryable=status in RETRYABLE_STATUSES or status >= 500,
        ) from exc
    except cloudflare.APIConnectionError as exc:  # APITimeoutError included
        raise DnsProviderError(f"Cloudflare: {action}: {exc.message}", retryable=True) from exc


def _errors(exc: BaseException | None) -> list[Mapping[str, Any]]:
    body = getattr(exc, "body", None)
    errors = body.get("errors") if isinstance(body, Mapping) else None
    return [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []


def _error_codes(exc: BaseException | None) -> set[int]:
    return {int(e["code"]) for e in _errors(exc) if isinstance(e.get("code"), int)}


def _error_text(exc: cloudflare.APIStatusError) -> str:
    """Cloudflare's messages with their codes, the validation detail (error_chain) included."""
    parts = []
    for error in _errors(exc):
        text = f"{error.get('message')} ({error.get('code')})"
        chain = error.get("error_chain") or []
        details = [f"{c.get('message')} ({c.get('code')})" for c in chain if isinstance(c, Mapping)]
        parts.append(f"{text}: {'; '.join(details)}" if details else text)
    return "; ".join(parts) or exc.message
