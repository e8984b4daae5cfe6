"""A DNS provider the test holds: the DNS, domain and mailbox tests that prove no provider call
runs under a write transaction or a row lock.

The zone with id "slow" does not answer until the test sets `release`; `crash` makes the next
record change die the way a killed process would (a BaseException nothing in Mailfleet catches),
after the change it carries was committed. No clock is read anywhere.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from mailfleet.db import Database
from mailfleet.dns import delivery
from mailfleet.dns import service as dns_service
from mailfleet.dns.providers.base import DnsProviderError, RRset, Zone
from mailfleet.jobs.queue import Runtime
from mailfleet.models import Domain, MailboxType
from tests.factories import make_domain

HOLD_SECONDS = 90.0
ENTER_SECONDS = 60.0
SLOW = "slow"
Call = tuple[str, list[tuple[str, str]]]


class Crash(BaseException):
    """The process dying between a commit and the provider's answer."""


class HeldProvider:
    """Answers every change; the zone "slow" only once `release` is set."""

    name = "fake"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        # Every change asked for, and those the provider took.
        self.calls: list[Call] = []
        self.taken: list[Call] = []
        self.refuse = False
        self.crash = False
        # Zone ids by zone name for `ensure_zone` (default: the name itself).
        self.zone_ids: dict[str, str] = {}
        # When set, asked at every call whether a lock is held on the zone's domain right then;
        # the calls that found one are listed.
        self.probe: Callable[[str], bool] | None = None
        self.under_lock: list[str] = []

    def _check(self, call: str, zone_name: str) -> None:
        if self.probe is not None and self.probe(zone_name):
            self.under_lock.append(f"{call} {zone_name}")

    def wait_entered(self, thread: threading.Thread, outcome: object = None) -> None:
        """Wait until the slow zone's call is being held. Generous: a loaded CI machine can take
        many seconds to get the request there; a request that ended without reaching the
        provider fails at once, with what it returned."""
        for _ in range(int(ENTER_SECONDS * 10)):
            if self.entered.wait(0.1):
                return
            if not thread.is_alive():
                break
        raise AssertionError(f"the slow provider was never called: {outcome!r}")

    def rearm(self) -> None:
        """Hold the slow zone again (after a set-up that had to go through)."""
        for event in (self.entered, self.release, self.returned):
            event.clear()

    def ensure_zone(self, zone: str, nameservers: Sequence[str], *, serial: int) -> Zone:
        self._check("ensure_zone", zone)
        return Zone(self.zone_ids.get(zone, zone), tuple(nameservers))

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        call = (zone.zone_id, [(r.name, r.type) for r in rrsets])
        self.calls.append(call)
        self._check("replace_rrsets", zone_name)
        if zone.zone_id == SLOW:
            self.entered.set()
            self.release.wait(HOLD_SECONDS)
            self.returned.set()
        if self.crash:
            self.crash = False
            raise Crash()
        if self.refuse:
            raise DnsProviderError("refused", retryable=False)
        self.taken.append(call)
        return {}

    def delete_zone(self, zone: Zone, zone_name: str) -> None:
        return None


def install(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    """The held provider for every DNS call: record changes, zone creation and deletion."""
    provider = HeldProvider()

    def new_zones(
        session: Any, settings: Any, domain_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, delivery.ZoneAccount]:
        return {domain_id: delivery.ZoneAccount(provider, None) for domain_id in domain_ids}

    monkeypatch.setattr(delivery, "provider_of", lambda session, settings, domain: provider)
    monkeypatch.setattr(delivery, "zone_accounts", new_zones)
    return provider


def lock_probe(db: Database) -> Callable[[str], bool]:
    """Whether, at this moment, another transaction holds what a provider call must never wait
    under: SQLite's write lock (taken by every write transaction), or a row lock on the zone's
    domain (PostgreSQL's SELECT ... FOR UPDATE). Asks without waiting: no clock involved."""
    if db.engine.dialect.name == "sqlite":
        path = db.engine.url.database
        assert path

        def sqlite_locked(zone_name: str) -> bool:
            connection = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                connection.close()

        return sqlite_locked

    def row_locked(zone_name: str) -> bool:
        with db.engine.connect() as connection:
            try:
                connection.execute(
                    text("SELECT id FROM domains WHERE name = :name FOR UPDATE NOWAIT"),
                    {"name": zone_name},
                )
                return False
            except OperationalError:
                return True
            finally:
                connection.rollback()

    return row_locked


def hosted(
    db: Database, workspace_id: Any, zone_id: str, mailbox_type: MailboxType | None = None
) -> str:
    """An ACTIVE domain whose zone exists at the fake provider (no records stored yet)."""
    domain = make_domain(db, workspace_id, mailbox_type=mailbox_type)
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == domain.id)
            .values(zone_id=zone_id, dns_provider="fake")
        )
    return str(domain.id)


def name_of(db: Database, domain_id: str) -> str:
    with db.transaction(write=False) as session:
        return session.get_one(Domain, uuid.UUID(domain_id)).name


def managed(db: Database, domain_id: str) -> set[tuple[str, str, str]]:
    """The domain's stored managed records."""
    with db.transaction(write=False) as session:
        rows = dns_service.records_of(session, uuid.UUID(domain_id))
        return {(row.name, row.type, row.content) for row in rows if row.managed}


def pushed(db: Database, domain_id: str) -> list[tuple[str, str]]:
    """The RRsets of the domain's managed records a provider gets: all but the apex NS set."""
    name = name_of(db, domain_id)
    keys = {(owner, kind) for owner, kind, _ in managed(db, domain_id)}
    return sorted(keys - {(name, "NS")})


def run_scheduled(runtime: Runtime) -> list[str]:
    """Run the jobs scheduled for later (the resends) as if their time had come; returns their
    names. Jobs queued to run now stay queued."""
    later = datetime(9999, 1, 1)
    queued = []
    while (task := runtime.huey.dequeue()) is not None:
        queued.append(task)
    due = [task for task in queued if task.eta is not None] + runtime.huey.read_schedule(later)
    for task in queued:
        if task.eta is None:
            runtime.huey.enqueue(task)
    for task in due:
        runtime.huey.execute(task, later)
    return [task.name for task in due]


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Start `work` in a thread; its result (or exception) lands in the dict."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test to assert on
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome
