"""Delegation checks per second: DelegationChecker.check_many against plain dnspython queries.

Two private PowerDNS servers on loopback: a parent hosting `com.` with N delegations (most to
the expected pair, every 50th to other servers) and a child hosting the N zones. The baseline
sends the same non-recursive queries (NS to the parent, SOA to each assigned server) with
dns.asyncquery.udp from the same number of workers; both run in this process, in the same run.

Run: .venv/bin/python -m bench.delegation [--domains N] [--concurrency C] [--repeat R] [--no-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.flags
import dns.message

from mailfleet.config import Settings
from mailfleet.dns.delegation import DEFAULT_CONCURRENCY, DelegationChecker, parse_server
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


def settings_for(parent: PowerDNS, child: PowerDNS) -> Settings:
    return Settings(
        dns_parent_servers={"com": [parent.address]},
        dns_nameserver_addresses={host: [child.address] for host in PAIR},
        dns_query_timeout=2.0,
    )


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
    wrong = sum(1 for i in range(len(domains)) if i % WRONG_EVERY == 0)
    if delegated != len(domains) - wrong:
        failures = [d.reason for d in diagnoses if not d.delegated][:3]
        raise SystemExit(f"expected {len(domains) - wrong} delegated, got {delegated}: {failures}")
    queries = sum(len(d.parents) + len(d.nameservers) for d in diagnoses)
    return Figures(seconds, queries, len(domains))


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
    report(args, baseline, ours)


def best(run: Callable[[], Figures], repeat: int) -> Figures:
    results = [run() for _ in range(repeat)]
    return min(results, key=lambda figures: figures.seconds)


def report(args: argparse.Namespace, baseline: Figures, ours: Figures) -> None:
    print(
        f"{args.domains} domains, {args.concurrency} concurrent, best of {args.repeat}, "
        f"PowerDNS caches {'off' if args.no_cache else 'on'}; "
        f"every {WRONG_EVERY}th delegated elsewhere (no SOA queries for those)"
    )
    print(f"{'':<34} {'seconds':>8} {'queries':>8} {'queries/s':>10} {'domains/s':>10}")
    for label, figures in (
        ("raw dnspython (asyncquery.udp)", baseline),
        ("DelegationChecker.check_many", ours),
    ):
        print(
            f"{label:<34} {figures.seconds:>8.2f} {figures.queries:>8} "
            f"{figures.queries_per_second:>10.0f} {figures.domains_per_second:>10.0f}"
        )
    ratio = ours.seconds / baseline.seconds
    print(f"time ratio checker/raw: {ratio:.2f} (target <= 3); checker domains/s target >= 1000")


if __name__ == "__main__":
    main()
