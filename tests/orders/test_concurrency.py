"""Races: parallel orders over real HTTP must never exceed a per-domain limit or a quota.

The app runs under uvicorn in a background thread; 50 threads fire at once. The 24-hour rule
is off so that the limits are what is tested.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.models import Mailbox, MailboxStatus, MailboxType
from tests.factories import (
    count_rows,
    give_slots,
    make_domain,
    make_mailbox,
    make_tenant,
    order_body,
)
from tests.support.servers import free_port

RACERS = 50


@pytest.fixture
def live_url(db: Database, make_settings: Callable[..., Settings]) -> Iterator[str]:
    settings = make_settings(recent_creation_rule="off")
    app = create_app(settings, db)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    # Default worker threads (40) and fewer than the 50 racers: the app's concurrency gate is
    # what keeps a lock holder from starving for a thread.
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def race(url: str, requests: list[tuple[dict[str, str], dict[str, object]]]) -> Counter[int]:
    barrier = threading.Barrier(len(requests))

    def fire(item: tuple[dict[str, str], dict[str, object]]) -> int:
        headers, body = item
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            return client.post("/v1/mailbox-orders", json=body, headers=headers).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return Counter(pool.map(fire, requests))


def test_last_places_on_a_domain(db: Database, live_url: str) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 1000)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, domain, status=MailboxStatus.ACTIVE)  # 2 of 3 places left
    requests = [(owner.headers, order_body(domain, [f"racer{i}"])) for i in range(RACERS)]
    statuses = race(live_url, requests)
    assert statuses == {201: 2, 409: RACERS - 2}
    assert count_rows(db, Mailbox, domain_id=domain.id) == 3


def test_last_quota_slots_of_a_workspace(db: Database, live_url: str) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 7)
    used = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.SMTP)
    make_mailbox(db, used, mailbox_type=MailboxType.SMTP)
    make_mailbox(db, used, mailbox_type=MailboxType.SMTP)  # 5 of 7 slots left
    domains = [make_domain(db, owner.workspace_id) for _ in range(RACERS)]
    requests = [(owner.headers, order_body(d, ["racer"], "SMTP")) for d in domains]
    statuses = race(live_url, requests)
    assert statuses == {201: 5, 409: RACERS - 5}
    assert count_rows(db, Mailbox, workspace_id=owner.workspace_id) == 7
