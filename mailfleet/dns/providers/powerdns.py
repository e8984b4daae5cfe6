"""PowerDNS Authoritative through its HTTP API (shared/reference/integrations.md 3.1).

Zones are `Native` (the database behind PowerDNS is what replicates, not AXFR). PowerDNS owns
the SOA serial: zones are created with `soa_edit_api: DEFAULT`, so every API change moves the
serial forward (date-based, YYYYMMDDnn) even across a delete and re-create, which a serial kept
by Mailfleet could not promise. The serial Mailfleet passes is written into the first SOA and
then rewritten by that policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from mailfleet.config import Settings
from mailfleet.dns.providers.base import DnsProviderError, Zone
from mailfleet.dns.records import RRset, absolute
from mailfleet.dns.soa import zone_soa

# API calls touch the backend database and may wait on its locks: allow more than a DNS query.
API_TIMEOUT_FACTOR = 5.0


class PowerDnsProvider:
    name = "powerdns"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        base = settings.powerdns_api_url.rstrip("/")
        server = quote(settings.powerdns_server_id, safe="")
        timeout = settings.dns_query_timeout
        self._client = httpx.Client(
            base_url=f"{base}/api/v1/servers/{server}",
            headers={
                "X-API-Key": settings.powerdns_api_key.get_secret_value(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout * API_TIMEOUT_FACTOR, connect=timeout),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PowerDnsProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- DnsProvider ---

    def ensure_zone(self, zone: str, nameservers: Sequence[str], *, serial: int) -> Zone:
        existing = self._get_zone(absolute(zone))
        if existing is not None:
            return _zone_from(existing, nameservers)
        response = self._request("POST", "/zones", json=self._zone_body(zone, nameservers, serial))
        if response.status_code in (409, 422) and "conflict" in _error_text(response).lower():
            # Created by a concurrent call between our GET and POST: the zone is what we wanted.
            existing = self._get_zone(absolute(zone))
            if existing is not None:
                return _zone_from(existing, nameservers)
        _raise_for_status(response, f"create zone {zone}")
        return _zone_from(response.json(), nameservers)

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        changes = [_replace(rrset) for rrset in rrsets]
        replaced = {(absolute(rrset.name).lower(), rrset.type.upper()) for rrset in rrsets}
        for name, rtype in delete:
            key = (absolute(name).lower(), rtype.upper())
            # A set both replaced and deleted would be deleted after its replacement is written.
            if key not in replaced:
                changes.append({"name": key[0], "type": key[1], "changetype": "DELETE"})
        if changes:
            path = f"/zones/{_zone_path(zone, zone_name)}"
            response = self._request("PATCH", path, json={"rrsets": changes})
            _raise_for_status(response, f"update zone {zone_name}")
        # PowerDNS has no per-record ids: an RRset is addressed by name and type.
        return {}

    def delete_zone(self, zone: Zone, zone_name: str) -> None:
        response = self._request("DELETE", f"/zones/{_zone_path(zone, zone_name)}")
        if response.status_code == 404:
            return
        _raise_for_status(response, f"delete zone {zone_name}")

    # --- helpers ---

    def _zone_body(self, zone: str, nameservers: Sequence[str], serial: int) -> dict[str, Any]:
        name = absolute(zone).lower()
        hosts = [absolute(ns).lower() for ns in nameservers]
        if not hosts:
            raise DnsProviderError(f"zone {zone} needs nameservers", retryable=False)
        # The same SOA as the builtin server and the zone file (`dns.soa`).
        soa = zone_soa(hosts[0], self._settings.dns_soa_hostmaster, serial).rdata()
        return {
            "name": name,
            "kind": "Native",
            "nameservers": hosts,
            "soa_edit_api": "DEFAULT",
            "rrsets": [
                {
                    "name": name,
                    "type": "SOA",
                    "ttl": self._settings.dns_default_ttl,
                    "changetype": "REPLACE",
                    "records": [{"content": soa, "disabled": False}],
                }
            ],
        }

    def _get_zone(self, zone_id: str) -> dict[str, Any] | None:
        response = self._request("GET", f"/zones/{zone_id}")
        if response.status_code == 404:
            return None
        _raise_for_status(response, f"read zone {zone_id}")
        return dict(response.json())

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise DnsProviderError(f"PowerDNS timed out: {method} {path}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DnsProviderError(
                f"PowerDNS unreachable at {self._settings.powerdns_api_url}: {exc}", retryable=True
            ) from exc


def _replace(rrset: RRset) -> dict[str, Any]:
    return {
        "name": absolute(rrset.name).lower(),
        "type": rrset.type.upper(),
        "ttl": rrset.ttl,
        "changetype": "REPLACE",
        # rdata_text quotes TXT and splits it into 255-byte strings, as PowerDNS requires.
        "records": [{"content": content, "disabled": False} for content in rrset.rdata],
    }


def _zone_path(zone: Zone, zone_name: str) -> str:
    # PowerDNS's zone id is the absolute name made URL-safe by PowerDNS itself.
    return zone.zone_id or absolute(zone_name)


def _zone_from(data: dict[str, Any], requested: Sequence[str]) -> Zone:
    apex = data.get("name", "")
    served: list[str] = []
    for rrset in data.get("rrsets") or []:
        if rrset.get("type") == "NS" and rrset.get("name") == apex:
            served = [record["content"].rstrip(".").lower() for record in rrset["records"]]
    nameservers = tuple(served) or tuple(ns.rstrip(".").lower() for ns in requested)
    return Zone(zone_id=str(data["id"]), nameservers=nameservers)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return response.text.strip()[:500]


def _raise_for_status(response: httpx.Response, action: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"PowerDNS could not {action}: HTTP {status}: {_error_text(response)}"
    # Overload and server faults pass; anything else is the request's fault and will repeat.
    raise DnsProviderError(message, retryable=status >= 500 or status == 429)
