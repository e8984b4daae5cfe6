"""API export of N mailboxes to the local Instantly fake with a rate limit: mailboxes/s
against the limit the fake allows (issue 13's target: at least 90% of it, zero duplicates).

The export job runs inline (the worker's own function) on a fresh SQLite database; the fake
answers 429 with Retry-After past its per-second limit, as a rate-limited app does.

Run: .venv/bin/python -m bench.exports_api [MAILBOXES] [RATE]   (default 2000, 100/s)
"""

from __future__ import annotations

import sys
import time

from fastapi.testclient import TestClient

from bench.common import fresh_environment, tenant
from mailfleet.app import create_app
from mailfleet.jobs.queue import Runtime
from tests.conftest import TEST_KEY
from tests.exports.conftest import ready_mailboxes
from tests.fakes.sequencers.instantly import InstantlyFake


def main(count: int, rate: int) -> None:
    with (
        InstantlyFake(rate_per_second=rate) as fake,
        fresh_environment(
            MAILFLEET_JOB_QUEUE="memory",
            MAILFLEET_WORKER_IN_PROCESS="false",
            MAILFLEET_DNS_SERVER_ENABLED="false",
            MAILFLEET_EXPORT_INSTANTLY_BASE_URL=fake.base_url,
            MAILFLEET_EXPORT_CONCURRENCY="8",
            # The key tests.exports.conftest encrypts the mailboxes' passwords with.
            MAILFLEET_ENCRYPTION_KEYS=TEST_KEY,
        ) as env,
    ):
        owner = tenant(env)
        ids = [str(i) for i in ready_mailboxes(env.database, owner.workspace_id, count)]
        client = TestClient(create_app(env.settings, env.database))
        account = {"app": "INSTANTLY", "label": "bench", "credentials": {"api_key": "good-key"}}
        client.post("/v1/export-accounts", json=account, headers=owner.headers)
        job = client.post(
            "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=owner.headers
        ).json()
        runtime = Runtime(env.settings, env.database)
        start = time.perf_counter()
        runtime.run_now("exports.run", job["id"])
        elapsed = time.perf_counter() - start
        counts = client.get(f"/v1/exports/{job['id']}", headers=owner.headers).json()["counts"]
        refused = sum(1 for r in fake.log if r.status == 429)
        per_second = count / elapsed
        print(f"{count} mailboxes in {elapsed:.1f} s: {per_second:.1f}/s against {rate}/s allowed")
        print(f"ratio {per_second / rate:.2f} (target >= 0.90); 429s answered: {refused}")
        print(
            f"created {counts['created']}, failed {counts['failed']}, "
            f"duplicates at the fake {len(fake.created) - len(set(fake.created))}"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 100,
    )
