"""Delegation checks per second: DelegationChecker.check_many against plain dnspython queries.

Two private PowerDNS servers on loopback: a parent hosting `com.` with N delegations (most to
the expected pair, every 50th to other servers) and a child hosting the N zones. The baseline
sends the same non-recursive queries (NS to the parent, SOA to each assigned server) with
dns.asyncquery.udp from the same number of workers; both run in this process, in the same run.

A third phase times the whole job the product runs: the same N domains as PENDING_NS rows of a
fresh Mailfleet database, through `domains.tasks.verify_now` (read the domains, check them, apply
the results and enqueue the publish jobs), in chunks of the job's size and all at once.

Run: .venv/bin/python -m bench.delegation [--domains N] [--concurrency C] [--repeat R] [--no-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import dns.asyncquery
import dns.flags
import dns.message
from sqlalchemy import delete, func, insert, select, update

from bench.common import Env, fresh_environment, tenant
from mailfleet.config import Settings
from mailfleet.dns.delegation import DEFAULT_CONCURRENCY, DelegationChecker, parse_server
from mailfleet.domains import tasks
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainStatus, Event
from tests.support.powerdns import PowerDNS

PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")
WRONG = ("ns1.other.com", "ns2.other.com")
WRONG_EVERY = 50
# PowerDNS's caches as in production (the test harness turns them off so changes show at once):
# both sides are measured against the same warm servers.
CACHES = {"cache-ttl": "60", "query-cache-ttl": "60", "negquery-cache-ttl": "60"}


@dataclass
class Figures:
    seconds: float
    queries: int
    domains: int

    @property
    def domains_per_second(self) -> float:
        return self.domains / self.seconds

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.seconds


def names(count: int) -> list[str]:
    return [f"bench{i:06d}.com" for i in range(count)]


def populate(parent: PowerDNS, child: PowerDNS, domains: Sequence[str]) -> None:
    started = time.perf_counter()
    child.bulk_zones(domains, PAIR)
    parent.create_zone("com", ["a.gtld.test", "b.gtld.test"])
    delegations = [
        (name, WRONG if i % WRONG_EVERY == 0 else PAIR) for i, name in enumerate(domains)
    ]
    parent.bulk_delegations("com", delegations)
    print(f"loaded {len(domains)} zones and delegations in {time.perf_counter() - started:.1f} s")


def dns_settings(parent: PowerDNS, child: PowerDNS) -> dict[str, object]:
    """As tests/support/dns_fixtures.py wires Mailfleet to the two servers."""
    return {
        "dns_provider": "powerdns",
        "dns_parent_servers": {"com": [parent.address]},
        "dns_nameserver_addresses": {host: [child.address] for host in PAIR},
        "nameserver_pairs": [PAIR],
        "dns_query_timeout": 2.0,
    }


def settings_for(parent: PowerDNS, child: PowerDNS) -> Settings:
    return Settings(**dns_settings(parent, child))  # type: ignore[arg-type]


async def raw(settings: Settings, domains: Sequence[str], concurrency: int) -> Figures:
    """The checker's queries sent the plain way: one dns.asyncquery.udp call per query."""
    parents = [parse_server(a) for a in settings.dns_parent_servers["com"]]
    assigned = [parse_server(a) for host in PAIR for a in settings.dns_nameserver_addresses[host]]
    work = iter(domains)
    sent = 0

    async def ask(name: str, rdtype: str, server: tuple[str, int]) -> dns.message.Message:
        nonlocal sent
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        query.flags &= ~dns.flags.RD
        sent += 1
        return await dns.asyncquery.udp(query, server[0], timeout=2.0, port=server[1])

    async def worker() -> None:
        for name in work:
            for server in parents:
                await ask(name, "NS", server)
            for server in assigned:
                await ask(name, "SOA", server)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(domains)))))
    return Figures(time.perf_counter() - started, sent, len(domains))


def checked(settings: Settings, domains: Sequence[str], concurrency: int) -> Figures:
    checker = DelegationChecker(settings, concurrency=concurrency)
    items = [(name, PAIR) for name in domains]
    started = time.perf_counter()
    diagnoses = asyncio.run(checker.check_many(items))
    seconds = time.perf_counter() - started
    delegated = sum(diagnosis.delegated for diagnosis in diagnoses)
    if delegated != expected_delegated(len(domains)):
        failures = [d.reason for d in diagnoses if not d.delegated][:3]
        wanted = expected_delegated(len(domains))
        raise SystemExit(f"expected {wanted} delegated, got {delegated}: {failures}")
    queries = sum(len(d.parents) + len(d.nameservers) for d in diagnoses)
    return Figures(seconds, queries, len(domains))


def expected_delegated(count: int) -> int:
    return count - sum(1 for i in range(count) if i % WRONG_EVERY == 0)


def job_runtime(environment: Env, parent: PowerDNS, child: PowerDNS) -> Runtime:
    changes = {**dns_settings(parent, child), "job_queue": "memory"}
    settings = environment.settings.model_copy(update=changes)
    return Runtime(settings, environment.database)


def insert_pending(environment: Env, domains: Sequence[str]) -> list[uuid.UUID]:
    """The domains as the zone job leaves them: PENDING_NS with a zone at PowerDNS."""
    workspace_id = tenant(environment).workspace_id
    now = clock.now()
    ids = [uuid7() for _ in domains]
    rows = [
        {
            "id": domain_id,
            "workspace_id": workspace_id,
            "name": name,
            "unicode_name": name,
            "status": DomainStatus.PENDING_NS,
            "nameserver_1": PAIR[0],
            "nameserver_2": PAIR[1],
            "dns_provider": "powerdns",
            "zone_id": f"{name}.",
            "tags": [],
            "pending_since": now,
            "next_check_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for domain_id, name in zip(ids, domains, strict=True)
    ]
    with environment.database.transaction() as session:
        session.execute(insert(Domain), rows)
    return ids


def reset_pending(runtime: Runtime, ids: Sequence[uuid.UUID]) -> None:
    """Back to PENDING_NS before each run; the publish jobs the last run queued are dropped."""
    now = clock.now()
    with runtime.database.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id.in_(ids))
            .values(
                status=DomainStatus.PENDING_NS,
                activated_at=None,
                failure_reason=None,
                delegation_report=None,
                check_attempts=0,
                pending_since=now,
                next_check_at=now,
            )
        )
        session.execute(delete(Event))
    runtime.huey.flush()


def queries_of(report: dict[str, object]) -> int:
    """Queries a diagnosis stands for: one per parent and per assigned server asked."""
    return len(cast(list[object], report["parents"])) + len(
        cast(list[object], report["nameservers"])
    )


def verify_job(runtime: Runtime, ids: Sequence[uuid.UUID], chunk: int) -> Figures:
    reset_pending(runtime, ids)
    queries = 0
    started = time.perf_counter()
    for start in range(0, len(ids), chunk):
        _, reports = tasks.verify_now(
            runtime, ids[start : start + chunk], actor="bench", revive_failed=False
        )
        queries += sum(queries_of(report) for report in reports.values())
    seconds = time.perf_counter() - started
    with runtime.database.transaction(write=False) as session:
        counts = dict(
            session.execute(
                select(Domain.status, func.count())
                .where(Domain.id.in_(ids))
                .group_by(Domain.status)
            ).all()
        )
    delegated = expected_delegated(len(ids))
    wanted = {DomainStatus.ACTIVE: delegated, DomainStatus.PENDING_NS: len(ids) - delegated}
    if counts != wanted:
        raise SystemExit(f"chunks of {chunk}: expected {wanted}, got {counts}")
    return Figures(seconds, queries, len(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--no-cache", action="store_true", help="PowerDNS caches off")
    args = parser.parse_args()
    domains = names(args.domains)
    caches = {} if args.no_cache else CACHES
    with PowerDNS(extra_config=caches) as parent, PowerDNS(extra_config=caches) as child:
        populate(parent, child, domains)
        settings = settings_for(parent, child)
        asyncio.run(raw(settings, domains[:500], args.concurrency))  # warm up both servers
        baseline = best(lambda: asyncio.run(raw(settings, domains, args.concurrency)), args.repeat)
        ours = best(lambda: checked(settings, domains, args.concurrency), args.repeat)
        with fresh_environment() as environment:
            runtime = job_runtime(environment, parent, child)
            ids = insert_pending(environment, domains)
            jobs = {
                chunk: best(partial(verify_job, runtime, ids, chunk), args.repeat)
                for chunk in (tasks.CHUNK, len(ids))
            }
            backend = environment.database.engine.dialect.name
    report(args, baseline, ours, jobs, backend)


def best(run: Callable[[], Figures], repeat: int) -> Figures:
    results = [run() for _ in range(repeat)]
    return min(results, key=lambda figures: figures.seconds)


def report(
    args: argparse.Namespace,
    baseline: Figures,
    ours: Figures,
    jobs: dict[int, Figures],
    backend: str,
) -> None:
    print(
        f"{args.domains} domains, {args.concurrency} concurrent, best of {args.repeat}, "
        f"PowerDNS caches {'off' if args.no_cache else 'on'}; "
        f"every {WRONG_EVERY}th delegated elsewhere (no SOA queries for those)"
    )
    rows = [("raw dnspython (asyncquery.udp)", baseline), ("DelegationChecker.check_many", ours)]
    for chunk, figures in jobs.items():
        size = f"chunks of {chunk}" if chunk < figures.domains else "one call"
        rows.append((f"verify_now job, {size}", figures))
    print(
        f"{'':<34} {'seconds':>8} {'queries':>8} {'queries/s':>10} {'domains/s':>10} {'x raw':>6}"
    )
    for label, figures in rows:
        print(
            f"{label:<34} {figures.seconds:>8.2f} {figures.queries:>8} "
            f"{figures.queries_per_second:>10.0f} {figures.domains_per_second:>10.0f} "
            f"{figures.seconds / baseline.seconds:>6.2f}"
        )
    print(
        f"job on {backend}: every delegated domain ACTIVE, the others PENDING_NS (checked). "
        "Targets: >= 1000 domains/s and <= 3x the raw time"
    )


if __name__ == "__main__":
    main()
