"""The DNS health check of a domain: ask its authoritative servers, store the result, flag drift."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import dns.exception
import dns.nameserver
import dns.resolver
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.dns import health, schedule, service
from mailfleet.dns.addresses import NameserverAddresses, parse_server, server_label
from mailfleet.events import service as events
from mailfleet.exceptions import NotFound
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.models import DnsRecord, Domain, DomainStatus

log = logging.getLogger(__name__)


def server_addresses(settings: Settings, domain: Domain) -> list[str]:
    """Where to ask about this zone: "ip:port" of each assigned nameserver, de-duplicated."""
    known = NameserverAddresses(settings)
    addresses: list[str] = []
    for name in domain.nameservers:
        servers = known.configured(domain.dns_provider, name)
        if servers is not None:
            addresses.extend(server_label(server) for server in servers)
        else:
            addresses.extend(f"{ip}:53" for ip in _resolve(settings, name))
    return list(dict.fromkeys(addresses))


def _resolve(settings: Settings, name: str) -> list[str]:
    # MAILFLEET_DNS_RESOLVERS ("ip[:port]") when set; the system's resolvers only when not.
    resolver = dns.resolver.Resolver(configure=not settings.dns_resolvers)
    if settings.dns_resolvers:
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(*parse_server(address))
            for address in settings.dns_resolvers
        ]
    resolver.lifetime = settings.dns_query_timeout
    try:
        return [rdata.address for rdata in resolver.resolve(name, "A")]
    except dns.exception.DNSException:
        return []


def run_and_store(runtime: Runtime, domain_id: uuid.UUID, *, actor: str) -> dict[str, Any]:
    settings, database = runtime.settings, runtime.database
    with database.transaction(write=False) as session:
        domain = session.get(Domain, domain_id)
        if domain is None or domain.zone_id is None:
            raise NotFound("The domain has no zone yet.", code="zone_not_created")
        expected = [
            service.as_record(row)
            for row in session.scalars(
                select(DnsRecord).where(DnsRecord.domain_id == domain_id, DnsRecord.managed)
            )
        ]
        name, dkim_public_key = domain.name, domain.dkim_public_key
        servers = server_addresses(settings, domain)
    report = health.check_zone(
        name, expected, servers, dkim_public_key=dkim_public_key, timeout=settings.dns_query_timeout
    ).to_dict()
    with database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == domain_id).with_for_update()
        ).one()
        store(session, settings, domain, report, actor=actor)
    log.info("health check of %s: %s", name, summary(report))
    return report


def summary(report: dict[str, Any]) -> str:
    """One line for the log: healthy, or what is wrong."""
    if report.get("ok"):
        return f"healthy ({len(report.get('records', []))} records present)"
    problems = [
        f"{item.get('type')} {item.get('name')} {item.get('status')}"
        for item in report.get("records", [])
        if item.get("status") != "present"
    ]
    problems += [
        f"{part.upper()}: {check.get('error') or 'not valid'}"
        for part in ("spf", "dmarc", "dkim")
        if (check := report.get(part)) and (check.get("error") or check.get("valid") is False)
    ]
    unreachable = [s.get("server") for s in report.get("servers", []) if not s.get("reachable")]
    if unreachable:
        problems.append(f"unreachable: {', '.join(map(str, unreachable))}")
    drift = "drift, " if report.get("drift") else ""
    return f"{drift}problems: {'; '.join(problems) or 'see the report'}"


def store(
    session: Any, settings: Settings, domain: Domain, report: dict[str, Any], *, actor: str
) -> None:
    was_drifting = domain.dns_drift
    drift = bool(report.get("drift"))
    domain.health_report = report
    domain.health_checked_at = clock.now()
    domain.dns_drift = drift
    if domain.status == DomainStatus.ACTIVE:
        domain.next_check_at = schedule.health_due(settings)
    if drift != was_drifting:
        events.record(
            session,
            workspace_id=domain.workspace_id,
            type="domain.dns_drift" if drift else "domain.dns_drift_resolved",
            subject_type="domain",
            subject_id=domain.id,
            actor=actor,
            records=[
                {"name": item.get("name"), "type": item.get("type"), "status": item.get("status")}
                for item in report.get("records", [])
                if item.get("status") != "present"
            ],
        )
