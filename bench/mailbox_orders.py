"""Mailbox orders of 5 SMTP mailboxes on each of N domains, one order per domain over HTTP,
against one executemany of the same mailbox rows.

Run: .venv/bin/python -m bench.mailbox_orders [N ...]   (default: 1000 2000)
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import delete, insert

from bench.common import Env, fresh_environment, server, tenant
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType
from tests.factories import give_slots

PER_DOMAIN = 5


def active_domains(env: Env, workspace_id: uuid.UUID, prefix: str, count: int) -> list[str]:
    now = clock.now()
    rows = [
        {
            "id": uuid7(),
            "workspace_id": workspace_id,
            "name": f"{prefix}{i}.com",
            "unicode_name": f"{prefix}{i}.com",
            "status": DomainStatus.ACTIVE,
            "mailbox_type": None,
            "nameserver_1": "ns1.x",
            "nameserver_2": "ns2.x",
            "tags": [],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with env.database.transaction() as session:
        session.execute(insert(Domain), rows)
    return [str(row["name"]) for row in rows]


def baseline(env: Env, workspace_id: uuid.UUID, count: int) -> float:
    """The same number of mailbox rows in one executemany."""
    names = active_domains(env, workspace_id, f"base{count}-", count)
    with env.database.transaction(write=False) as session:
        ids = dict(
            session.execute(
                Domain.__table__.select()
                .with_only_columns(Domain.name, Domain.id)
                .where(Domain.workspace_id == workspace_id)
            ).all()
        )
    now = clock.now()
    rows = [
        {
            "id": uuid7(),
            "workspace_id": workspace_id,
            "domain_id": ids[name],
            "username": f"user{j}",
            "address": f"user{j}@{name}",
            "first_name": "First",
            "last_name": "Last",
            "mailbox_type": MailboxType.SMTP,
            "backend": "manual",
            "status": MailboxStatus.PENDING,
            "expires_at": now + timedelta(days=30),
            "created_at": now,
            "updated_at": now,
        }
        for name in names
        for j in range(PER_DOMAIN)
    ]
    start = time.perf_counter()
    with env.database.transaction() as session:
        session.execute(insert(Mailbox), rows)
    elapsed = time.perf_counter() - start
    with env.database.transaction() as session:
        session.execute(delete(Mailbox).where(Mailbox.workspace_id == workspace_id))
        session.execute(delete(Domain).where(Domain.workspace_id == workspace_id))
    return elapsed


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1000, 2000]
    with fresh_environment() as env:
        caller = tenant(env)
        reference = tenant(env)
        give_slots(env.database, caller.workspace_id, MailboxType.SMTP, sum(sizes) * PER_DOMAIN)
        print(f"backend: {env.database.engine.dialect.name}; {PER_DOMAIN} SMTP mailboxes per order")
        print(
            f"{'domains':>8} {'mailboxes':>10} {'api s':>8} {'orders/s':>9} {'baseline s':>11} "
            f"{'ratio':>6}"
        )
        results = []
        with server(env) as base, httpx.Client(base_url=base, timeout=60) as client:
            for size in sizes:
                names = active_domains(env, caller.workspace_id, f"o{size}-", size)
                start = time.perf_counter()
                for name in names:
                    body = {
                        "domain": name,
                        "type": "SMTP",
                        "mailboxes": [
                            {"first_name": "First", "last_name": "Last", "username": f"user{j}"}
                            for j in range(PER_DOMAIN)
                        ],
                    }
                    response = client.post("/v1/mailbox-orders", json=body, headers=caller.headers)
                    assert response.status_code == 201, response.text
                elapsed = time.perf_counter() - start
                floor = baseline(env, reference.workspace_id, size)
                results.append((size, elapsed))
                print(
                    f"{size:>8} {size * PER_DOMAIN:>10} {elapsed:>8.2f} {size / elapsed:>9.0f} "
                    f"{floor:>11.3f} {elapsed / floor:>6.0f}"
                )
        (small, t_small), (large, t_large) = results[0], results[-1]
        if large != small:
            print(
                f"growth {small}->{large} domains: x{t_large / t_small:.1f} time "
                f"for x{large / small:.1f} orders"
            )


if __name__ == "__main__":
    main()
