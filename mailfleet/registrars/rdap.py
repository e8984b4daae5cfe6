"""The RDAP pre-filter: names the registry says are registered are TAKEN without asking the
registrar (whose checks are rate-limited and slower).

`GET {base}domain/{name}` on the TLD's RDAP server answers 200 for a registered name and 404 for
one it does not know. Only the 200 decides: "not found" is no promise of availability
(reserved, premium, registry-blocked names), so a 404, an error, a timeout or a TLD without
RDAP leaves the name to the registrar's own check.

The TLD -> server map is IANA's bootstrap (dns.json format), shipped with the package for the
common TLDs (rdap_bootstrap.json) or read from `rdap_bootstrap_file`, loaded with
whoisit.load_bootstrap_data and never downloaded. whoisit builds the query URL; the GET is made
here with httpx so that each lookup has the short `rdap_timeout_seconds`, and the names are
looked up in parallel on a small thread pool (`rdap_concurrency`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import httpx
import whoisit
from whoisit.errors import WhoisItError

from mailfleet.config import Settings

log = logging.getLogger(__name__)
REASON = "Registered (RDAP)"
# whoisit's saved-bootstrap format also wants the IP, ASN and object-tag registries; Mailfleet
# asks only about domains, so these placeholders (documentation ranges) fill them in.
_UNUSED = {
    "asn": {"services": [[["0-0"], ["https://rdap.invalid/"]]]},
    "ipv4": {"services": [[["192.0.2.0/24"], ["https://rdap.invalid/"]]]},
    "ipv6": {"services": [[["2001:db8::/32"], ["https://rdap.invalid/"]]]},
    "object": {"services": [[["nobody@invalid"], ["X"], ["https://rdap.invalid/"]]]},
}
# whoisit keeps one bootstrap per process: loads (and reloads for another file) are serialised.
_lock = threading.Lock()
_loaded: str | None = None


def _bootstrap_text(settings: Settings) -> tuple[str, bool]:
    """The bootstrap's JSON and whether plain-http servers are allowed (a file the operator
    chose may point at one; the shipped one never does)."""
    if settings.rdap_bootstrap_file:
        with open(settings.rdap_bootstrap_file, encoding="utf-8") as handle:
            return handle.read(), True
    shipped = resources.files("mailfleet.registrars").joinpath("rdap_bootstrap.json")
    return shipped.read_text(encoding="utf-8"), False


def _ensure_loaded(settings: Settings) -> None:
    global _loaded
    text, insecure = _bootstrap_text(settings)
    with _lock:
        if _loaded == text:
            return
        data = {"timestamp": 0, "dns": json.loads(text), **_UNUSED}
        whoisit.clear_bootstrapping()
        whoisit.load_bootstrap_data(json.dumps(data), allow_insecure=insecure)
        _loaded = text


def registered(settings: Settings, names: Sequence[str]) -> set[str]:
    """The names RDAP says are registered; empty when the pre-filter is off or cannot run."""
    if not settings.rdap_enabled or not names:
        return set()
    try:
        _ensure_loaded(settings)
    except (OSError, ValueError, WhoisItError) as exc:
        log.warning("RDAP pre-filter off: its bootstrap could not be loaded (%s)", exc)
        return set()
    urls = {name: url for name in names if (url := _url(name)) is not None}
    if not urls:
        return set()
    workers = min(settings.rdap_concurrency, len(urls))
    with (
        httpx.Client(timeout=settings.rdap_timeout_seconds) as client,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rdap") as pool,
    ):
        found = pool.map(lambda item: (item[0], _is_registered(client, item[1])), urls.items())
        return {name for name, yes in found if yes}


def _url(name: str) -> str | None:
    """The RDAP query URL for `name`, or None when its TLD has no server in the bootstrap."""
    try:
        _, url, exact = whoisit.build_query(query_type="domain", query_value=name)
    except WhoisItError:
        return None
    return str(url) if exact else None


def _is_registered(client: httpx.Client, url: str) -> bool:
    try:
        response = client.get(url, headers={"Accept": "application/rdap+json"})
    except httpx.HTTPError as exc:
        log.info("RDAP lookup failed (%s): the registrar decides", type(exc).__name__)
        return False
    return response.status_code == 200
