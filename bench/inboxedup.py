"""The InboxedUp surface's overhead: its domain submit and mailbox request paths against the
native ones, in the same server and the same run, taking turns.

Domain submit: rounds of one `POST /domains` of B names through each surface. Mailbox requests:
blocks of orders of 5 SMTP mailboxes (one per ACTIVE domain), a block through one surface, then
a block through the other (which goes first changes every block), so drift (the database
growing, the machine's load) hits both alike.
Each surface acts in a workspace of its own. Prints each side's time and the ratio
(InboxedUp / native; the target is within 1.2x).

Run: .venv/bin/python -m bench.inboxedup [orders] [rounds] [names per round]
     (default: 1000 orders, 10 rounds of 500 names)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from bench.common import fresh_environment, server, tenant
from bench.mailbox_orders import PER_DOMAIN, active_domains
from mailfleet.models import MailboxType
from tests.factories import Caller, give_slots

BLOCK = 50
T = TypeVar("T")


def native_order(domain: str) -> tuple[str, dict[str, object]]:
    mailboxes = [
        {"first_name": "First", "last_name": "Last", "username": f"user{j}"}
        for j in range(PER_DOMAIN)
    ]
    return "/v1/mailbox-orders", {"domain": domain, "type": "SMTP", "mailboxes": mailboxes}


def inboxedup_order(domain: str) -> tuple[str, dict[str, object]]:
    mailboxes = [
        {"firstName": "First", "lastName": "Last", "mailboxUsername": f"user{j}"}
        for j in range(PER_DOMAIN)
    ]
    return "/inboxedup/mailboxes", {"domain": domain, "type": "smtp", "mailboxes": mailboxes}


Request = Callable[[str], tuple[str, dict[str, object]]]


def post_all(client: httpx.Client, caller: Caller, requests: list[tuple[str, object]]) -> float:
    start = time.perf_counter()
    for path, body in requests:
        response = client.post(path, json=body, headers=caller.headers)
        assert response.status_code == 201, response.text
    return time.perf_counter() - start


def turns(sides: dict[str, T], number: int) -> list[tuple[str, T]]:
    """The sides in turn, the first one changing every round: neither always goes first."""
    order = list(sides.items())
    return order if number % 2 == 0 else order[::-1]


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    per_round = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    with fresh_environment() as env:
        sides: dict[str, tuple[Caller, Request, str]] = {}
        for name, make in (("native", native_order), ("inboxedup", inboxedup_order)):
            caller = tenant(env)
            give_slots(env.database, caller.workspace_id, MailboxType.SMTP, orders * PER_DOMAIN)
            prefix = "/v1" if name == "native" else "/inboxedup"
            sides[name] = (caller, make, prefix)
        domains = {
            name: active_domains(env, caller.workspace_id, f"{name}-", orders)
            for name, (caller, _, _) in sides.items()
        }
        print(f"backend: {env.database.engine.dialect.name}")
        submit = dict.fromkeys(sides, 0.0)
        order = dict.fromkeys(sides, 0.0)
        with server(env) as base, httpx.Client(base_url=base, timeout=120) as client:
            for number in range(rounds):
                for name, (caller, _, prefix) in turns(sides, number):
                    names = [f"{name}-r{number}-{i}.com" for i in range(per_round)]
                    submit[name] += post_all(
                        client, caller, [(f"{prefix}/domains", {"domains": names})]
                    )
            for start in range(0, orders, BLOCK):
                for name, (caller, make, _) in turns(sides, start // BLOCK):
                    block = [make(d) for d in domains[name][start : start + BLOCK]]
                    order[name] += post_all(client, caller, list(block))
        print(f"{'path':<34} {'native s':>9} {'inboxedup s':>12} {'ratio':>6}")
        rows = (
            (f"submit {rounds} x {per_round} domains", submit),
            (f"{orders} orders of {PER_DOMAIN} mailboxes", order),
        )
        for label, figures in rows:
            ratio = figures["inboxedup"] / figures["native"]
            print(
                f"{label:<34} {figures['native']:>9.2f} {figures['inboxedup']:>12.2f} {ratio:>6.2f}"
            )


if __name__ == "__main__":
    main()
