"""Read throughput of GET /v1/mailboxes (page of 50, 100,000 mailboxes) against GET /health.

Both are served by the same server process in the same run and loaded by wrk (a C load generator
in another process), so the ratio shows what authentication, the query and rendering cost.
The endpoints take turns for ROUNDS rounds so that a burst of load from elsewhere on the machine
shows up as one odd round rather than skewing one endpoint; the summary is the median round.

wrk runs one thread: on a 2-core machine that leaves one core to the server, whose Python code
runs on one core at a time anyway (a second wrk thread only competes with it). Eight
connections keep the server saturated (throughput is the same with 4 or 16); more would only
add queueing to the latencies.

It runs twice, on two server processes: with the page cache (the default), which serves an
unchanged page again without querying, and without it, where every request queries and renders
as the first request after any write does.

Run: .venv/bin/python -m bench.mailbox_list
"""

from __future__ import annotations

import re
import statistics
import subprocess
import uuid
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import insert

from bench.common import Env, fresh_environment, server, tenant
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType

MAILBOXES = 100_000
PER_DOMAIN = 5
DURATION = "5s"
ROUNDS = 3
THREADS = 1
CONNECTIONS = 8
LIST_PATH = "/v1/mailboxes?limit=50"
CACHE_OFF = "MAILFLEET_PAGE_CACHE_BYTES"


class Load(NamedTuple):
    rps: float
    p50: str
    p99: str


def populate(env: Env, workspace_id: uuid.UUID) -> None:
    now = clock.now()
    domains = [
        {
            "id": uuid7(),
            "workspace_id": workspace_id,
            "name": f"list{i}.com",
            "unicode_name": f"list{i}.com",
            "status": DomainStatus.ACTIVE,
            "mailbox_type": MailboxType.SMTP,
            "nameserver_1": "ns1.x",
            "nameserver_2": "ns2.x",
            "tags": [],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(MAILBOXES // PER_DOMAIN)
    ]
    mailboxes = [
        {
            "id": uuid7(),
            "workspace_id": workspace_id,
            "domain_id": domain["id"],
            "username": f"user{j}",
            "address": f"user{j}@{domain['name']}",
            "first_name": "First",
            "last_name": "Last",
            "mailbox_type": MailboxType.SMTP,
            "backend": "manual",
            "status": MailboxStatus.ACTIVE,
            "expires_at": now + timedelta(days=30),
            "created_at": now,
            "updated_at": now,
        }
        for domain in domains
        for j in range(PER_DOMAIN)
    ]
    with env.database.transaction() as session:
        session.execute(insert(Domain), domains)
        session.execute(insert(Mailbox), mailboxes)


def wrk(url: str, token: str | None) -> Load:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} failed responses for {url}:\n{output}")
    return Load(rps, p50, p99)


def row(name: str, load: Load) -> str:
    return f"{name:<28} {load.rps:>8.0f} {load.p50:>9} {load.p99:>9}"


def measure(base: str, token: str) -> list[tuple[Load, Load]]:
    wrk(f"{base}/health", None)  # warm up
    wrk(f"{base}{LIST_PATH}", token)
    rounds: list[tuple[Load, Load]] = []
    for _ in range(ROUNDS):
        health = wrk(f"{base}/health", None)
        rounds.append((health, wrk(f"{base}{LIST_PATH}", token)))
    return rounds


def report(title: str, rounds: list[tuple[Load, Load]]) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':<28} {'req/s':>8} {'p50':>9} {'p99':>9}  ratio")
    for health, listing in rounds:
        print(row("GET /health", health))
        print(f"{row(f'GET {LIST_PATH}', listing)}  {listing.rps / health.rps:.2f}")
    ratios = [listing.rps / health.rps for health, listing in rounds]
    print(f"median ratio list/health: {statistics.median(ratios):.2f} (target >= 0.5)")


def main() -> None:
    with fresh_environment() as env:
        caller = tenant(env)
        populate(env, caller.workspace_id)
        print(
            f"backend: {env.database.engine.dialect.name}; {MAILBOXES} mailboxes; wrk "
            f"{THREADS} thread, {CONNECTIONS} connections, {ROUNDS} rounds of {DURATION} each"
        )
        # The page cache serves a page again while nothing has committed (kit.pagecache);
        # without it every request queries and renders, as after any write.
        for title, settings in (
            ("page cache on (the default)", {}),
            ("page cache off (every request queries and renders)", {CACHE_OFF: "0"}),
        ):
            with server(env, **settings) as base:
                report(title, measure(base, caller.token))


if __name__ == "__main__":
    main()
