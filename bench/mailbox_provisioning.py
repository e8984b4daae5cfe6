"""Mailbox provisioning on Mailfleet's own Postfix/Dovecot: from orders to ACTIVE mailboxes.

For each size N, from scratch: a private Postfix + Dovecot pair (tests/support/mailserver.py),
a fresh migrated database (SQLite unless MAILFLEET_BENCH_DATABASE_URL says otherwise), N ACTIVE
domains with SMTP slots, and one `POST /v1/mailbox-orders` of 5 SMTP mailboxes per domain
through the app (in-process TestClient; the provisioning jobs the orders enqueue wait in a
memory queue). Then the in-process `Worker` (its job threads and its sweep) is started and the
clock runs until every mailbox is ACTIVE. Afterwards the bench checks the outcome at the mail
server: one passwd-file line per mailbox and nothing else, and a sample of the stored passwords
log in over IMAP. Postfix's reloads are counted from its log (one per provider round).

"order to ACTIVE" is the sum of the two phases: the order requests (the API's share, measured
on its own by bench/mailbox_orders.py) and provisioning (the job's share, this bench's subject).
With --overlap the worker runs from the start, as in `mailfleet serve`, and provisions while
the orders arrive: "provision s" is then the time from the last order to the last ACTIVE
mailbox, and "order->ACTIVE s" the time from the first order to it.

Run: .venv/bin/python -m bench.mailbox_provisioning [N ...] [--threads T] [--overlap]
     (default: 100 500 1000 domains, 4 threads as `mailfleet serve` runs them)
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass

from sqlalchemy import func, select

from bench.common import Env, fresh_environment, tenant
from bench.mailbox_orders import PER_DOMAIN, active_domains
from mailfleet.app import create_app
from mailfleet.jobs.worker import Worker
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Mailbox, MailboxStatus, MailboxType
from tests.factories import give_slots, order_body
from tests.support.mail_fixtures import mail_settings
from tests.support.mailserver import MailServer

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

USERNAMES = [f"user{j}" for j in range(PER_DOMAIN)]
LOGIN_SAMPLE = 5
# Generous: the per-mailbox path before batching took about 0.1 s per mailbox.
TIMEOUT_PER_MAILBOX = 0.5


@dataclass
class Figures:
    domains: int
    ordering: float
    provisioning: float
    reloads: int

    @property
    def mailboxes(self) -> int:
        return self.domains * PER_DOMAIN

    @property
    def total(self) -> float:
        return self.ordering + self.provisioning


def mail_env(server: MailServer) -> dict[str, str]:
    """The test wiring (mail_settings) as the MAILFLEET_* variables Settings reads."""
    return {f"MAILFLEET_{key.upper()}": str(value) for key, value in mail_settings(server).items()}


def count(env: Env, status: MailboxStatus) -> int:
    with env.database.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).where(Mailbox.status == status)) or 0)


def wait_all_active(env: Env, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (active := count(env, MailboxStatus.ACTIVE)) < expected:
        failed = count(env, MailboxStatus.FAILED)
        if failed:
            raise SystemExit(f"{failed} mailboxes FAILED")
        if time.monotonic() > deadline:
            raise SystemExit(f"only {active} of {expected} ACTIVE after {timeout:.0f} s")
        time.sleep(0.05)


def reloads(server: MailServer) -> int:
    """Postfix's master logs one "reload" line per `postfix reload`."""
    path = server.root / "postfix.log"
    if not path.exists():
        return 0
    return sum(" reload " in line for line in path.read_text(errors="replace").splitlines())


def check_outcome(env: Env, server: MailServer, expected: int) -> None:
    lines = [
        line for line in server.passwd_file.read_text().splitlines() if line and line[0] != "#"
    ]
    addresses = [line.split(":", 1)[0] for line in lines]
    if len(addresses) != expected or len(set(addresses)) != expected:
        raise SystemExit(f"passwd-file: {len(addresses)} lines, {len(set(addresses))} addresses")
    box = SecretBox.from_settings(env.settings)
    with env.database.transaction(write=False) as session:
        rows = session.execute(select(Mailbox.address, Mailbox.password_enc)).all()
    if {address for address, _ in rows} != set(addresses):
        raise SystemExit("passwd-file and database disagree on the addresses")
    for address, password_enc in random.sample(rows, LOGIN_SAMPLE):
        server.wait_for_login(address, box.decrypt(password_enc or ""))


def run(size: int, threads: int, overlap: bool) -> Figures:
    with (
        MailServer() as server,
        fresh_environment(
            **mail_env(server),
            MAILFLEET_JOB_QUEUE="memory",
            MAILFLEET_WORKER_IN_PROCESS="false",
            MAILFLEET_DNS_SERVER_ENABLED="false",
            MAILFLEET_RECENT_CREATION_RULE="off",
        ) as env,
    ):
        caller = tenant(env)
        give_slots(env.database, caller.workspace_id, MailboxType.SMTP, size * PER_DOMAIN)
        names = active_domains(env, caller.workspace_id, f"prov{size}-", size)
        client = TestClient(create_app(env.settings, env.database))
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        expected = size * PER_DOMAIN
        before = reloads(server)
        with ExitStack() as worker:
            if overlap:
                worker.enter_context(Worker(runtime, threads=threads))
            started = time.perf_counter()
            for name in names:
                response = client.post(
                    "/v1/mailbox-orders",
                    json=order_body(name, USERNAMES, "SMTP"),
                    headers=caller.headers,
                )
                assert response.status_code == 201, response.text
            ordering = time.perf_counter() - started
            started = time.perf_counter()
            if not overlap:
                worker.enter_context(Worker(runtime, threads=threads))
            wait_all_active(env, expected, TIMEOUT_PER_MAILBOX * expected + 30)
            provisioning = time.perf_counter() - started
        client.close()
        check_outcome(env, server, expected)
        return Figures(size, ordering, provisioning, reloads(server) - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 500, 1000])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--overlap", action="store_true", help="worker runs while ordering")
    args = parser.parse_args()
    when = "during" if args.overlap else "after"
    print(
        f"{PER_DOMAIN} SMTP mailboxes per domain, worker with {args.threads} threads "
        f"started {when} the orders"
    )
    print(
        f"{'domains':>8} {'mailboxes':>10} {'orders s':>9} {'provision s':>12} "
        f"{'mailboxes/s':>12} {'reloads':>8} {'order->ACTIVE s':>16}"
    )
    results = []
    for size in args.sizes:
        figures = run(size, args.threads, args.overlap)
        results.append(figures)
        print(
            f"{figures.domains:>8} {figures.mailboxes:>10} {figures.ordering:>9.2f} "
            f"{figures.provisioning:>12.2f} {figures.mailboxes / figures.provisioning:>12.0f} "
            f"{figures.reloads:>8} {figures.total:>16.2f}",
            flush=True,
        )
    small, large = results[0], results[-1]
    if large.domains != small.domains:
        factor = large.domains / small.domains
        print(
            f"growth {small.domains}->{large.domains} domains (x{factor:g}): provisioning "
            f"x{large.provisioning / small.provisioning:.1f}, order->ACTIVE "
            f"x{large.total / small.total:.1f} (x{factor:g} = linear)"
        )


if __name__ == "__main__":
    main()
