"""Reaching a domain's DNS provider: which account acts for a zone, and record changes sent
after their commit.

A change (a user's record, a template republished by a job or a settings change, a new zone's
records) is stored and committed first (the write lock, SQLite's database-wide one, is held
only for that), then sent to the provider with no transaction open, then its outcome stored in
a short transaction of its own. A request's refusal puts the change back ("a request that fails
changes nothing") and answers 502. A change another request made to the zone while ours was on
its way is caught by the serial and sent again.

The intent travels with the change: its RRsets are added to `domains.dns_unsent` in the same
transaction, and only the provider's answer (at an unchanged serial) takes them off. Should the
process die between the commit and that answer, the `RECONCILE` job enqueued right after the
commit sends them again from the stored rows (idempotent); should that job be lost too (a
memory queue, a crash in between), the sweep finds the domain's `dns_unsent_due_at` passed and
hands the job out again. A resend of RRsets already confirmed calls nothing; one the provider
refuses again backs off (`dns_unsent_tries`), while the health check shows the drift.

The account is the one the zone was created at (`domains.dns_installation_id`, None for the
deployment's own): a DNS installation the workspace adds later serves its new zones only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.providers.base import DnsProvider, DnsProviderError, Zone
from mailfleet.dns.providers.builtin import BuiltinDnsProvider
from mailfleet.dns.providers.registry import DNS_PROVIDERS
from mailfleet.dns.records import RRset, group_rrsets
from mailfleet.dns.rows import as_record, bump_serial, records_of
from mailfleet.exceptions import BadGateway
from mailfleet.integrations import resolve
from mailfleet.jobs.queue import Runtime, job
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Domain, DomainStatus

log = logging.getLogger(__name__)

Key = tuple[str, str]
RECONCILE = "dns.push_records"
RECONCILE_DELAY_SECONDS = 60.0
RESENDS = 3
# Backoff of the sweep's resends the provider refuses: doubling from the delay, up to this.
MAX_RESEND_BACKOFF = timedelta(hours=6)


# --- the account -----------------------------------------------------------------------------


def provider_of(session: Session, settings: Settings, domain: Domain) -> DnsProvider:
    """The provider acting for the domain's zone: at the installation it was created at, else
    the deployment's (its recorded provider, or the settings' for a zone not made yet)."""
    return resolve.provider_by_id(
        session,
        settings,
        DNS_PROVIDERS,
        domain.workspace_id,
        domain.dns_provider or settings.dns_provider,
        domain.dns_installation_id,
    )


@dataclass(frozen=True)
class ZoneAccount:
    """Where a new zone is created: the provider, and the installation to record (or None)."""

    provider: DnsProvider
    installation_id: uuid.UUID | None


def zone_accounts(
    session: Session, settings: Settings, domain_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ZoneAccount]:
    """For domains about to get their zones: each one's account, resolved once per workspace
    (the workspace's DNS installation, the newest if several, else the deployment's)."""
    rows = session.execute(
        select(Domain.id, Domain.workspace_id).where(Domain.id.in_(domain_ids))
    ).all()
    box = SecretBox.from_settings(settings)
    per_workspace: dict[uuid.UUID, ZoneAccount] = {}
    for workspace_id in sorted({row.workspace_id for row in rows}):
        binding = resolve.binding_for(session, settings, DNS_PROVIDERS, workspace_id)
        provider = resolve.provider_of(settings, box, DNS_PROVIDERS, binding)
        per_workspace[workspace_id] = ZoneAccount(provider, binding.installation_id)
    return {row.id: per_workspace[row.workspace_id] for row in rows}


# --- changes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A committed change of a domain's records, still to reach its provider."""

    domain_id: uuid.UUID
    keys: frozenset[Key]
    serial: int
    # The zone's serial and updated_at before the change, restored with the change's undo.
    before: tuple[int, datetime]
    # None for a resend (the reconcile job): nothing of its own to put back.
    undo: Callable[[Session], None] | None
    # The domain's provider when the change was made (None: no zone yet, or not known).
    provider: str | None = None


@dataclass(frozen=True)
class _Push:
    zone: Zone
    name: str
    targets: list[RRset]
    deletes: list[Key]
    serial: int


def serial_of(domain: Domain) -> tuple[int, datetime]:
    return domain.dns_serial, domain.updated_at


def change_of(
    domain: Domain,
    keys: Iterable[Key],
    before: tuple[int, datetime],
    undo: Callable[[Session], None] | None,
) -> Change:
    """The change just made to the domain's rows, in the transaction that made it: its RRsets
    are marked unsent there too, so the intent commits (or rolls back) with the change."""
    keys = frozenset(keys)
    mark_unsent(domain, keys)
    return Change(domain.id, keys, domain.dns_serial, before, undo, domain.dns_provider)


def mark_unsent(domain: Domain, keys: Iterable[Key]) -> None:
    """Record that these RRsets await the provider (nothing to await for the builtin server,
    which answers from the database, or before the zone exists: its creation sends all)."""
    if domain.zone_id is None or domain.dns_provider in (None, BuiltinDnsProvider.name):
        return
    pending = unsent_of(domain) | set(keys)
    domain.dns_unsent = [list(key) for key in sorted(pending)]
    domain.dns_unsent_due_at = clock.now() + timedelta(seconds=RECONCILE_DELAY_SECONDS)
    domain.dns_unsent_tries = 0


def unsent_of(domain: Domain) -> set[Key]:
    return {(name, kind) for name, kind in domain.dns_unsent or ()}


def _settle(domain: Domain, keys: Iterable[Key]) -> None:
    """The provider has these RRsets as stored: take them off the domain's unsent ones."""
    pending = unsent_of(domain)
    if not pending:
        return
    left = pending - set(keys)
    domain.dns_unsent = [list(key) for key in sorted(left)] or None
    if not left:
        domain.dns_unsent_due_at, domain.dns_unsent_tries = None, 0


def send(database: Database, settings: Settings, change: Change) -> None:
    """Push a committed change to the domain's provider; call it with no transaction open."""
    for _ in range(RESENDS):
        with database.transaction(write=False) as session:
            domain = session.get(Domain, change.domain_id)
            if domain is None:
                return
            plan = _plan(session, domain, change.keys)
            provider = provider_of(session, settings, domain) if plan else None
            serial, waiting = domain.dns_serial, bool(unsent_of(domain) & change.keys)
        if plan is None or provider is None:
            if waiting:  # nothing the provider needs of these RRsets (the apex NS set)
                _confirm(database, change.domain_id, {}, change.keys, serial)
            return
        try:
            ids = provider.replace_rrsets(plan.zone, plan.name, plan.targets, delete=plan.deletes)
        except DnsProviderError as exc:
            if change.undo is not None:
                _put_back(database, change)
            raise BadGateway(
                f"The DNS provider did not accept the change: {exc}", code="dns_provider_error"
            ) from exc
        if _confirm(database, change.domain_id, ids, change.keys, plan.serial) == plan.serial:
            return
        # The zone changed while ours was on its way: send the newest rows of our RRsets.


def _plan(session: Session, domain: Domain, keys: Iterable[Key]) -> _Push | None:
    if domain.zone_id is None or domain.dns_provider is None:
        return None  # No zone yet: zone creation pushes everything.
    records = [as_record(row) for row in records_of(session, domain.id)]
    rrsets = group_rrsets(r for r in records if not (r.type == "NS" and r.name == domain.name))
    wanted = {key for key in keys if key != (domain.name, "NS")}
    targets = [rrset for rrset in rrsets if (rrset.name, rrset.type) in wanted]
    deletes = sorted(wanted - {(rrset.name, rrset.type) for rrset in targets})
    if not targets and not deletes:
        return None
    zone = Zone(domain.zone_id, (domain.nameserver_1, domain.nameserver_2))
    return _Push(zone, domain.name, targets, deletes, domain.dns_serial)


def _confirm(
    database: Database,
    domain_id: uuid.UUID,
    ids: dict[tuple[str, str, str], str],
    keys: Iterable[Key],
    sent_serial: int,
) -> int | None:
    """Record the provider's ids for the rows and, if the zone is still at the serial that was
    sent, the RRsets as no longer unsent; returns the zone's serial now."""
    with database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == domain_id).with_for_update()
        ).first()
        if domain is None:
            return None
        if ids:
            for row in records_of(session, domain_id):
                record_id = ids.get((row.name, row.type, row.content))
                if record_id and row.provider_record_id != record_id:
                    row.provider_record_id = record_id
        if domain.dns_serial == sent_serial:
            _settle(domain, keys)
        return domain.dns_serial


def _put_back(database: Database, change: Change) -> None:
    """Undo a change the provider refused; the zone's serial too unless it moved on since."""
    with database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == change.domain_id).with_for_update()
        ).first()
        if domain is None:
            return
        assert change.undo is not None
        change.undo(session)
        if domain.dns_serial == change.serial:
            # Nothing changed the zone since: it is as before, and so is the provider's copy.
            domain.dns_serial, domain.updated_at = change.before
            _settle(domain, change.keys)
        else:
            bump_serial(domain)


@job(RECONCILE)
def push_records(runtime: Runtime, domain_id: str, keys: list[list[str]] | None = None) -> None:
    """Send a domain's RRsets again from the stored rows: those of `keys` (a change's) still
    unsent, or every unsent one (the sweep). RRsets the provider confirmed since cost nothing."""
    database = runtime.database
    with database.transaction(write=False) as session:
        domain = session.get(Domain, uuid.UUID(domain_id))
        unsent = unsent_of(domain) if domain is not None else set()
        removed = domain is not None and domain.status == DomainStatus.REMOVED
    if removed and unsent:
        _forget_unsent(database, uuid.UUID(domain_id))  # its zone is being deleted
        return
    resend = frozenset(unsent if keys is None else unsent & {(n, k) for n, k in keys})
    if not resend:
        return
    change = Change(uuid.UUID(domain_id), resend, 0, (0, clock.now()), None)
    try:
        send(database, runtime.settings, change)
    except BadGateway:
        # Nothing to put back here (the request did): the health check reports the drift.
        log.warning("the DNS provider refused the records of domain %s again", domain_id)
        _back_off(database, change.domain_id)


def _forget_unsent(database: Database, domain_id: uuid.UUID) -> None:
    with database.transaction() as session:
        domain = session.get(Domain, domain_id, with_for_update=True)
        if domain is not None:
            _settle(domain, unsent_of(domain))


def _back_off(database: Database, domain_id: uuid.UUID) -> None:
    """A resend refused: the sweep tries again later, each time twice as late."""
    with database.transaction() as session:
        domain = session.scalars(
            select(Domain).where(Domain.id == domain_id).with_for_update()
        ).first()
        if domain is None or not domain.dns_unsent:
            return
        domain.dns_unsent_tries += 1
        wait = timedelta(seconds=RECONCILE_DELAY_SECONDS) * 2 ** min(domain.dns_unsent_tries, 16)
        domain.dns_unsent_due_at = clock.now() + min(wait, MAX_RESEND_BACKOFF)


def deliver(runtime: Runtime, change: Change, *, put_back: bool = True) -> None:
    """After the commit of `change`: schedule its resend, then send it now (no transaction
    open). A refusal raises BadGateway, having put the change back unless `put_back` is False
    (a job's change stays stored: the resend may yet get it through, and until then the health
    check reports the drift)."""
    if change.provider == BuiltinDnsProvider.name:
        # The database is the zone (dns.server answers from it): nothing to send, nothing that a
        # crash could lose, so no resend either (a batch of zones would queue one per domain).
        return
    reconcile_later(runtime, change)
    send(runtime.database, runtime.settings, change if put_back else replace(change, undo=None))


def also_undo(
    change: Change, undo: Callable[[Session], None], *, before: tuple[int, datetime] | None = None
) -> Change:
    """The change, putting back the caller's own part too (after the records) on a refusal;
    `before` is the zone's serial and updated_at to restore, when the caller changed the domain
    before the records."""
    first = change.undo

    def both(side: Session) -> None:
        if first is not None:
            first(side)
        undo(side)

    return replace(change, undo=both, before=before or change.before)


def reconcile_later(runtime: Runtime, change: Change) -> None:
    """Enqueue the safety net right after the commit, before the provider is called."""
    keys = [list(key) for key in sorted(change.keys)]
    runtime.enqueue_in(RECONCILE, (str(change.domain_id), keys), delay=RECONCILE_DELAY_SECONDS)


def deliver_later(runtime: Runtime, changes: Iterable[Change]) -> None:
    """After the commit of many domains' changes (a bulk call): each one is sent by a job, so
    the request does not wait on one provider call per domain. A refusal is retried by the job
    and shows as drift in the health check; nothing is put back."""
    for change in changes:
        if change.provider != BuiltinDnsProvider.name:
            keys = [list(key) for key in sorted(change.keys)]
            runtime.enqueue(RECONCILE, (str(change.domain_id), keys))
