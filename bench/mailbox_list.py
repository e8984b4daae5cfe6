"""Read throughput of GET /v1/mailboxes (page of 50, 100,000 mailboxes) against GET /health.

Both are served by the same server process in the same run and loaded by wrk (a C load generator
in another process), so the ratio shows what authentication, the query and rendering cost.

Run: .venv/bin/python -m bench.mailbox_list
"""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import timedelta

from sqlalchemy import insert

from bench.common import Env, fresh_environment, server, tenant
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType

MAILBOXES = 100_000
PER_DOMAIN = 5
DURATION = "10s"
CONNECTIONS = 16


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


def wrk(url: str, token: str | None) -> tuple[float, str, str]:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} failed responses for {url}:\n{output}")
    return rps, p50, p99


def main() -> None:
    with fresh_environment() as env:
        caller = tenant(env)
        populate(env, caller.workspace_id)
        print(
            f"backend: {env.database.engine.dialect.name}; {MAILBOXES} mailboxes; "
            f"wrk {CONNECTIONS} connections for {DURATION} each"
        )
        with server(env) as base:
            wrk(f"{base}/health", None)  # warm up
            health = wrk(f"{base}/health", None)
            listing = wrk(f"{base}/v1/mailboxes?limit=50", caller.token)
        print(f"{'endpoint':<28} {'req/s':>8} {'p50':>9} {'p99':>9}")
        print(f"{'GET /health':<28} {health[0]:>8.0f} {health[1]:>9} {health[2]:>9}")
        print(
            f"{'GET /v1/mailboxes?limit=50':<28} {listing[0]:>8.0f} {listing[1]:>9} {listing[2]:>9}"
        )
        print(f"ratio list/health: {listing[0] / health[0]:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
