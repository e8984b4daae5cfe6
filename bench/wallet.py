"""Wallet debit throughput under 20 concurrent clients, against raw single-row UPDATEs of the
same table at the same concurrency (the floor: one conditional UPDATE per transaction, no ledger
entry, no event).

Two shapes: every client on its own workspace's wallet (workspaces buying at once), and every
client on one wallet (one workspace's renewals and purchases racing). Each debit is its own
transaction, as a request or a job makes it: a check that the key is new, the conditional
UPDATE ... RETURNING, the ledger entry and the wallet.debited event.

Run: .venv/bin/python -m bench.wallet [DEBITS]   (default 4000; SQLite, then PostgreSQL)
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import update

from bench.common import Env, fresh_environment, tenant
from mailfleet.billing.wallet import service as wallet
from mailfleet.db import Database
from mailfleet.models import LedgerKind, Wallet
from tests.support.servers import postgres_server

CLIENTS = 20
FUNDS = 10**8  # the most one movement may credit


def in_parallel(count: int, work: Callable[[int, int], None]) -> float:
    """`count` calls of work(client, n) spread over CLIENTS threads; wall seconds."""
    per_client = count // CLIENTS
    errors: list[BaseException] = []

    def run(client: int) -> None:
        try:
            for n in range(per_client):
                work(client, n)
        except BaseException as error:  # noqa: BLE001 - re-raised after the join
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def funded_wallets(database: Database, workspaces: list[uuid.UUID]) -> list[uuid.UUID]:
    ids = []
    with database.transaction() as session:
        for workspace_id in workspaces:
            wallet.credit(
                session, workspace_id, FUNDS, kind=LedgerKind.TOPUP, reason="bench", actor="bench"
            )
            ids.append(wallet.wallet_for(session, workspace_id).id)
    return ids


def debits(database: Database, workspaces: list[uuid.UUID], count: int, tag: str) -> float:
    def work(client: int, n: int) -> None:
        with database.transaction() as session:
            wallet.debit(
                session,
                workspaces[client % len(workspaces)],
                1,
                kind=LedgerKind.PURCHASE,
                reason="bench",
                actor="bench",
                dedupe_key=f"{tag}-{client}-{n}",
            )

    return in_parallel(count, work)


def raw_updates(database: Database, wallets: list[uuid.UUID], count: int) -> float:
    def work(client: int, n: int) -> None:
        wallet_id = wallets[client % len(wallets)]
        with database.transaction() as session:
            session.execute(
                update(Wallet)
                .where(Wallet.id == wallet_id, Wallet.balance_cents - 1 >= 0)
                .values(balance_cents=Wallet.balance_cents - 1)
                .returning(Wallet.balance_cents)
            ).scalar_one()

    return in_parallel(count, work)


def measure(env: Env, count: int) -> None:
    database = env.database
    own = [tenant(env).workspace_id for _ in range(CLIENTS)]
    shared = [tenant(env).workspace_id]
    floors = {"own": funded_wallets(database, own), "one": funded_wallets(database, shared)}
    print(f"backend: {database.engine.dialect.name}; {count} debits from {CLIENTS} clients")
    print(f"{'wallets':>16} {'debits/s':>9} {'raw/s':>9} {'ratio':>6}")
    for label, workspaces in (("one per client", own), ("one for all", shared)):
        key = "own" if workspaces is own else "one"
        raw = raw_updates(database, floors[key], count)
        spent = debits(database, workspaces, count, key)
        print(f"{label:>16} {count / spent:>9.0f} {count / raw:>9.0f} {spent / raw:>6.1f}")


@contextmanager
def postgres_environment() -> Iterator[Env]:
    with (
        postgres_server() as url,
        fresh_environment(
            MAILFLEET_DATABASE_URL=url, MAILFLEET_DATABASE_POOL_SIZE=str(CLIENTS)
        ) as env,
    ):
        yield env


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    with fresh_environment(MAILFLEET_DATABASE_POOL_SIZE=str(CLIENTS)) as env:
        measure(env, count)
    with postgres_environment() as env:
        measure(env, count)


if __name__ == "__main__":
    main()
