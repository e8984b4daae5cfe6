"""A killed `mailfleet worker` loses nothing and repeats nothing when restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, Event
from tests.conftest import TEST_KEY
from tests.factories import make_tenant
from tests.support.dns_fixtures import API_KEY, PARENT_ZONE, TEST_PAIR
from tests.support.powerdns import PowerDNS

DOMAINS = 200


def _worker_env(
    db: Database, data_dir: Path, pdns_parent: PowerDNS, pdns_child: PowerDNS
) -> dict[str, str]:
    pair = " ".join(TEST_PAIR)
    return {
        **os.environ,
        "MAILFLEET_DATA_DIR": str(data_dir),
        "MAILFLEET_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "MAILFLEET_ENCRYPTION_KEYS": TEST_KEY,
        "MAILFLEET_JOB_QUEUE": "sqlite",
        "MAILFLEET_DNS_PROVIDER": "powerdns",
        "MAILFLEET_POWERDNS_API_URL": pdns_child.url,
        "MAILFLEET_POWERDNS_API_KEY": API_KEY,
        "MAILFLEET_DNS_PARENT_SERVERS": f"{PARENT_ZONE}={pdns_parent.address}",
        "MAILFLEET_DNS_NAMESERVER_ADDRESSES": ",".join(
            f"{name}={pdns_child.address}" for name in TEST_PAIR
        ),
        "MAILFLEET_NAMESERVER_PAIRS": pair,
        "MAILFLEET_DNS_QUERY_TIMEOUT": "1",
        # A lost job's domains come back to the sweep after this lease.
        "MAILFLEET_JOB_LEASE_SECONDS": "3",
        "MAILFLEET_SWEEP_INTERVAL": "1",
        "MAILFLEET_NS_CHECK_BACKOFF": "1",
        "MAILFLEET_LOG_LEVEL": "WARNING",
    }


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _our_zones(pdns_child: PowerDNS, names: set[str]) -> int:
    return sum(1 for zone in pdns_child.zones() if zone.rstrip(".") in names)


def test_killed_worker_resumes_the_batch_without_repeating_work(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
    start_worker: Callable[[dict[str, str]], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    names = [unique_domain("kill") for _ in range(DOMAINS)]
    delegated = set(names[::2])
    pdns_parent.bulk_delegations(PARENT_ZONE, [(name, TEST_PAIR) for name in delegated])
    # The API enqueues into the same SQLite job queue the worker process reads.
    client = make_client(**dns_overrides, job_queue="sqlite", job_lease_seconds=3)
    caller = make_tenant(db)
    env = _worker_env(db, tmp_path, pdns_parent, pdns_child)
    wanted = set(names)

    first = start_worker(env)
    response = client.post("/v1/domains", json={"domains": names}, headers=caller.headers)
    assert response.status_code == 201, response.text
    _wait(lambda: _our_zones(pdns_child, wanted) >= 40, 60, "the first zones")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert _our_zones(pdns_child, wanted) < DOMAINS, "killed too late to prove anything"

    start_worker(env)

    def settled() -> bool:
        with db.transaction(write=False) as session:
            rows = session.execute(
                select(Domain.status, func.count())
                .where(Domain.name.in_(names))
                .group_by(Domain.status)
            ).all()
        counts = {status: count for status, count in rows}
        return counts.get(DomainStatus.ACTIVE, 0) == len(delegated) and counts.get(
            DomainStatus.PENDING_NS, 0
        ) == DOMAINS - len(delegated)

    _wait(settled, 120, "every domain to settle")

    with db.transaction(write=False) as session:
        statuses = dict(
            session.execute(select(Domain.name, Domain.status).where(Domain.name.in_(names))).all()
        )
        created = session.execute(
            select(Domain.name, func.count(Event.id))
            .join(Event, Event.subject_id == Domain.id)
            .where(Domain.name.in_(names), Event.type == "domain.status_changed")
            .where(Event.data["status"].as_string() == "PENDING_NS")
            .group_by(Domain.name)
        ).all()
    for name in names:
        expected = DomainStatus.ACTIVE if name in delegated else DomainStatus.PENDING_NS
        assert statuses[name] == expected, name
    # Each zone exists once at the provider and was recorded as created exactly once.
    assert _our_zones(pdns_child, wanted) == DOMAINS
    assert {name: count for name, count in created} == {name: 1 for name in names}
