"""The Zapmail surface's two benchmarks (issue 15), each against a baseline of the same run.

1. Assign: one `POST /zapmail/api/v2/mailboxes` of N domains x 5 Google mailboxes (the seed's
   "Assign New Mailboxes" body, every rule checked, all or nothing) against one `executemany` of
   the same mailbox rows. Target: within 10x, 1,000 domains under 1 s.
2. List: `GET /zapmail/api/v2/mailboxes/list` against `GET /v1/mailboxes` over 100,000
   mailboxes, in the same server, taking turns. Zapmail pages by domain: `limit=10` domains of
   5 mailboxes renders the same 50 mailboxes as the native `limit=50` (the fair pair; the
   target is within 1.2x); `limit=50` (250 mailboxes) is printed too. The page cache is off,
   so every request queries and renders.

Run: .venv/bin/python -m bench.zapmail [domains ...]   (default: 200 1000; SQLite, then
PostgreSQL in a throwaway cluster; MAILFLEET_BENCH_BACKENDS=sqlite or =postgresql runs one)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx

from bench.common import Env, fresh_environment, server, tenant
from bench.mailbox_list import populate
from bench.mailbox_orders import PER_DOMAIN, active_domains, baseline
from mailfleet.models import Domain, MailboxType
from tests.factories import Caller, give_slots
from tests.support.servers import postgres_server

ROUNDS = 5
REQUESTS = 100


def assign_body(env: Env, workspace_id: uuid.UUID, names: list[str]) -> dict[str, object]:
    with env.database.transaction(write=False) as session:
        ids = dict(
            session.execute(
                Domain.__table__.select()
                .with_only_columns(Domain.name, Domain.id)
                .where(Domain.workspace_id == workspace_id)
            ).all()
        )
    return {
        str(ids[name]): [
            {
                "firstName": "First",
                "lastName": "Last",
                "mailboxUsername": f"user{j}",
                "domainName": name,
            }
            for j in range(PER_DOMAIN)
        ]
        for name in names
    }


def zapmail_headers(caller: Caller) -> dict[str, str]:
    return {
        "x-auth-zapmail": caller.token,
        "x-workspace-key": str(caller.workspace_id),
        "x-service-provider": "GOOGLE",
    }


def bench_assign(env: Env, sizes: list[int]) -> None:
    print(f"\nassign (backend {env.database.engine.dialect.name}; {PER_DOMAIN} mailboxes a domain)")
    print(f"{'domains':>8} {'mailboxes':>10} {'api s':>8} {'baseline s':>11} {'ratio':>6}")
    with server(env) as base, httpx.Client(base_url=base, timeout=300) as client:
        for size in sizes:
            caller, reference = tenant(env), tenant(env)
            give_slots(env.database, caller.workspace_id, MailboxType.GOOGLE, size * PER_DOMAIN)
            names = active_domains(env, caller.workspace_id, f"z{size}-", size)
            body = assign_body(env, caller.workspace_id, names)
            start = time.perf_counter()
            response = client.post(
                "/zapmail/api/v2/mailboxes", json=body, headers=zapmail_headers(caller)
            )
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.text[:500]
            floor = baseline(env, reference.workspace_id, size)
            print(
                f"{size:>8} {size * PER_DOMAIN:>10} {elapsed:>8.3f} {floor:>11.3f} "
                f"{elapsed / floor:>6.1f}"
            )


def _time(client: httpx.Client, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    for _ in range(REQUESTS):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text[:300]
    return (time.perf_counter() - start) / REQUESTS


def bench_list(env: Env) -> None:
    caller = tenant(env)
    populate(env, caller.workspace_id)
    sides = {
        "native /v1/mailboxes?limit=50": ("/v1/mailboxes?limit=50", caller.headers),
        "zapmail list?limit=10 (50 mailboxes)": (
            "/zapmail/api/v2/mailboxes/list?limit=10",
            zapmail_headers(caller),
        ),
        "zapmail list?limit=50 (250 mailboxes)": (
            "/zapmail/api/v2/mailboxes/list?limit=50",
            zapmail_headers(caller),
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    with (
        server(env, MAILFLEET_PAGE_CACHE_BYTES="0") as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        for path, headers in sides.values():  # warm up
            _time(client, path, headers)
        for number in range(ROUNDS):
            order = list(sides.items())
            for name, (path, headers) in order if number % 2 == 0 else order[::-1]:
                times[name].append(_time(client, path, headers))
    native = statistics.median(times["native /v1/mailboxes?limit=50"])
    backend = env.database.engine.dialect.name
    print(f"\nlist (backend {backend}; 100,000 mailboxes; median of {ROUNDS}x{REQUESTS} requests)")
    print(f"{'request':<40} {'ms':>7} {'ratio':>6}")
    for name, values in times.items():
        value = statistics.median(values)
        print(f"{name:<40} {value * 1000:>7.2f} {value / native:>6.2f}")


@contextmanager
def postgres_environment() -> Iterator[Env]:
    with postgres_server() as url, fresh_environment(MAILFLEET_DATABASE_URL=url) as env:
        yield env


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [200, 1000]
    environments: dict[str, Callable[[], AbstractContextManager[Env]]] = {
        "sqlite": fresh_environment,
        "postgresql": postgres_environment,
    }
    for backend in os.environ.get("MAILFLEET_BENCH_BACKENDS", "sqlite,postgresql").split(","):
        with environments[backend]() as env:
            bench_assign(env, sizes)
        with environments[backend]() as env:
            bench_list(env)


if __name__ == "__main__":
    main()
