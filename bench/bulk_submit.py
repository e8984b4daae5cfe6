"""Bulk domain submission: one request of N domains, against one executemany of the same rows.

Run: .venv/bin/python -m bench.bulk_submit
"""

from __future__ import annotations

import sys
import time
import uuid

import httpx
from sqlalchemy import delete, insert

from bench.common import fresh_environment, server, tenant
from mailfleet.domains.names import nameserver_pair
from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models import Domain, DomainBatch, DomainStatus

SIZES = [1_000, 2_000, 5_000, 10_000]


def baseline_executemany(database, workspace_id: uuid.UUID, names: list[str], pairs) -> float:  # type: ignore[no-untyped-def]
    """The physical floor: the same rows in one executemany, in one transaction."""
    now = clock.now()
    rows = []
    for name in names:
        ns1, ns2 = nameserver_pair(name, pairs)
        rows.append(
            {
                "id": uuid7(),
                "workspace_id": workspace_id,
                "batch_id": None,
                "name": name,
                "unicode_name": name,
                "status": DomainStatus.QUEUED,
                "mailbox_type": None,
                "nameserver_1": ns1,
                "nameserver_2": ns2,
                "tags": [],
                "next_check_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    start = time.perf_counter()
    with database.transaction() as session:
        session.execute(insert(Domain), rows)
    elapsed = time.perf_counter() - start
    with database.transaction() as session:
        session.execute(delete(Domain).where(Domain.workspace_id == workspace_id))
    return elapsed


def main() -> None:
    # Sizes from the command line (`python -m bench.bulk_submit 100 200`), else the recorded ones.
    sizes = [int(arg) for arg in sys.argv[1:]] or SIZES
    with fresh_environment() as env:
        api_caller = tenant(env)
        baseline_caller = tenant(env)
        print(f"backend: {env.database.engine.dialect.name}")
        print(f"{'domains':>8} {'api s':>8} {'baseline s':>11} {'ratio':>6} {'domains/s':>10}")
        results = []
        with server(env) as base, httpx.Client(base_url=base, timeout=120) as client:
            for round_number, size in enumerate(sizes):
                names = [f"r{round_number}-d{i}.com" for i in range(size)]
                baseline = baseline_executemany(
                    env.database, baseline_caller.workspace_id, names, env.settings.nameserver_pairs
                )
                start = time.perf_counter()
                response = client.post(
                    "/v1/domains", json={"domains": names}, headers=api_caller.headers
                )
                elapsed = time.perf_counter() - start
                assert response.status_code == 201, response.text
                assert len(response.json()["accepted"]) == size
                results.append((size, elapsed))
                print(
                    f"{size:>8} {elapsed:>8.3f} {baseline:>11.3f} {elapsed / baseline:>6.1f} "
                    f"{size / elapsed:>10.0f}"
                )
        (small, t_small), (large, t_large) = results[0], results[-1]
        print(
            f"growth {small}->{large}: x{t_large / t_small:.1f} time for x{large / small:.0f} rows"
        )
        with env.database.transaction() as session:
            session.execute(delete(Domain))
            session.execute(delete(DomainBatch))


if __name__ == "__main__":
    main()
