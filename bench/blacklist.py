"""Blacklist sweep: domains/s of the product's sweep against raw dnspython queries, same run.

A loopback DNSBL (tests/reputation/dnsbl_server.py) serves two domain zones with 1% of the
domains listed (A 127.0.1.2 and a TXT reason). The baseline sends the same queries (an A per
domain and zone, a TXT per listing) with dns.asyncquery.udp at the same concurrency as the
checks. The sweep is the whole product path on N ACTIVE domains of a fresh database: create the
check rows, claim them chunk by chunk, ask every zone (under a budget set high enough not to
bind), store listings and events. The budget is off the table here on purpose: with the
default 20 queries a second, 10,000 domains take 1,000 s whatever the code does.

Run: .venv/bin/python -m bench.blacklist [--domains N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid

import dns.asyncquery
import dns.message
from sqlalchemy import func, insert, select

from bench.common import Env, fresh_environment, tenant
from mailfleet.dns.addresses import parse_server
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import BlacklistListing, Domain, DomainStatus, ReputationCheck
from mailfleet.reputation import checks, tasks
from tests.reputation.dnsbl_server import DnsblServer, dnsbl_server

ZONES = ("dbl.test", "surbl.test")
LISTED_EVERY = 100


def _domains(environment: Env, workspace_id: uuid.UUID, count: int) -> list[str]:
    names = [f"bench-{i}.com" for i in range(count)]
    now = clock.now()
    rows = [
        {
            "id": uuid7(),
            "created_at": now,
            "updated_at": now,
            "workspace_id": workspace_id,
            "name": name,
            "unicode_name": name,
            "status": DomainStatus.ACTIVE,
            "nameserver_1": "ns1.mailfleet.test",
            "nameserver_2": "ns2.mailfleet.test",
            "tags": [],
            "activated_at": now,
        }
        for name in names
    ]
    with environment.database.transaction() as session:
        session.execute(insert(Domain), rows)
    return names


async def _raw(names: list[str], server: DnsblServer) -> int:
    host, port = parse_server(server.address)
    gate = asyncio.Semaphore(checks.CONCURRENCY)
    questions = [(f"{name}.{zone}", "A") for name in names for zone in ZONES]
    questions += [(f"{name}.{ZONES[0]}", "TXT") for name in names[::LISTED_EVERY]]

    async def ask(qname: str, rdtype: str) -> None:
        async with gate:
            await dns.asyncquery.udp(
                dns.message.make_query(qname, rdtype), host, port=port, timeout=5
            )

    await asyncio.gather(*(ask(qname, rdtype) for qname, rdtype in questions))
    return len(questions)


def _sweep(runtime: Runtime) -> int:
    checked = 0
    for chunk in tasks.claim_all(runtime, enqueue=False):
        checked += tasks.check_now(runtime, chunk)
    return checked


def run(count: int, repeat: int) -> None:
    # One WARNING line per new listing is for operators, not for a benchmark's output.
    logging.getLogger("mailfleet.reputation").setLevel(logging.ERROR)
    with dnsbl_server() as server:
        env = {
            "MAILFLEET_JOB_QUEUE": "memory",
            "MAILFLEET_DNSBL_RESOLVERS": server.address,
            "MAILFLEET_DNSBL_DOMAIN_ZONES": ",".join(ZONES),
            "MAILFLEET_DNSBL_IP_ZONES": "",
            "MAILFLEET_DNSBL_QUERIES_PER_SECOND": "1000000",
        }
        with fresh_environment(**env) as environment:
            owner = tenant(environment)
            names = _domains(environment, owner.workspace_id, count)
            for name in names[::LISTED_EVERY]:
                server.list(f"{name}.{ZONES[0]}", "127.0.1.2", "bench listing")
            runtime = Runtime(environment.settings, environment.database)
            print(f"{count} ACTIVE domains, zones {', '.join(ZONES)}, 1 in {LISTED_EVERY} listed")
            for attempt in range(1, repeat + 1):
                started = time.perf_counter()
                queries = asyncio.run(_raw(names, server))
                raw_seconds = time.perf_counter() - started
                _reset(environment)
                started = time.perf_counter()
                swept = _sweep(runtime)
                sweep_seconds = time.perf_counter() - started
                listed = _count(environment)
                raw_rate, sweep_rate = count / raw_seconds, swept / sweep_seconds
                print(
                    f"run {attempt}: raw dnspython {queries} queries in {raw_seconds:.2f} s "
                    f"({queries / raw_seconds:.0f} q/s, {raw_rate:.0f} domains/s); "
                    f"sweep {swept} domains in {sweep_seconds:.2f} s ({sweep_rate:.0f} domains/s); "
                    f"ratio {raw_rate / sweep_rate:.2f}x (target within 3x); {listed} listings"
                )


def _reset(environment: Env) -> None:
    # Every domain due again, listings gone: each run sweeps the same work from scratch.
    with environment.database.transaction() as session:
        session.execute(BlacklistListing.__table__.delete())
        session.execute(ReputationCheck.__table__.delete())


def _count(environment: Env) -> int:
    with environment.database.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(BlacklistListing)) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    run(args.domains, args.repeat)


if __name__ == "__main__":
    main()
