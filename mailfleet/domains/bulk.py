"""Settings changed on many domains in one call (Zapmail's DMARC, web forwarding, email
forwarding, catch-all, auto-renew and client-id calls), all or nothing.

The domains are named by id (every one must be the workspace's and live, else nothing changes)
or picked by a filter. Changes that feed the managed DNS records go through
`service.update_settings` domain by domain, so their rules, events and republishing are the
single-domain ones; plain flags are one set-based UPDATE and one insert of events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailfleet.config import Settings
from mailfleet.dns import delivery as dns_delivery
from mailfleet.domains import service
from mailfleet.domains.pages import DomainFilter, matching_ids
from mailfleet.events import service as events
from mailfleet.events.types import EventType
from mailfleet.exceptions import BadRequest, Conflict, NotFound, Unprocessable
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Domain, DomainSource, DomainStatus, Mailbox, MailboxType, Workspace
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES

# How many named domains one call may carry.
MAX_IDS = 10_000
# Where a workspace keeps its renewal preference for domains bought later.
AUTO_RENEW_SETTING = "domain_auto_renew"


@dataclass(frozen=True)
class Pick:
    """Which domains a bulk call acts on: `ids` when given, else every one `wanted` matches."""

    ids: Sequence[uuid.UUID] | None = None
    wanted: DomainFilter | None = None
    field: str = "domainIds"


def picked(session: Session, workspace_id: uuid.UUID, pick: Pick) -> list[uuid.UUID]:
    """The ids of the picked domains, sorted (rows are locked in one order)."""
    if pick.ids:
        return _named(session, workspace_id, pick.ids, pick.field)
    if pick.wanted is None:
        raise Unprocessable(
            f"Give {pick.field}, or a filter (contains, status, tagIds) to pick domains.",
            code="validation_error",
            field=pick.field,
        )
    return sorted(matching_ids(session, workspace_id, pick.wanted))


def _named(
    session: Session, workspace_id: uuid.UUID, ids: Sequence[uuid.UUID], field: str
) -> list[uuid.UUID]:
    wanted = set(ids)
    if len(wanted) > MAX_IDS:
        raise Unprocessable(
            f"At most {MAX_IDS} domains a call.", code="validation_error", field=field
        )
    found = set(
        session.scalars(
            select(Domain.id).where(
                Domain.id.in_(wanted),
                Domain.workspace_id == workspace_id,
                Domain.status != DomainStatus.REMOVED,
            )
        )
    )
    missing = sorted(str(domain_id) for domain_id in wanted - found)
    if missing:
        raise NotFound(
            f"No such domain: {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more." if len(missing) > 5 else "."),
            code="domain_not_found",
            field=field,
        )
    return sorted(wanted)


def update_each(
    session: Session,
    settings: Settings,
    secrets: SecretBox,
    *,
    workspace_id: uuid.UUID,
    domain_ids: Sequence[uuid.UUID],
    changes: dict[str, Any] | None = None,
    changes_of: dict[uuid.UUID, dict[str, Any]] | None = None,
    actor: str,
) -> list[dns_delivery.Change]:
    """`changes` (or each domain's own, `changes_of`) applied by `update_settings`; the DNS
    changes to deliver after the caller's commit."""
    delivered = []
    for domain_id in domain_ids:
        own = changes_of[domain_id] if changes_of is not None else dict(changes or {})
        _, change = service.update_settings(
            session,
            settings,
            secrets,
            workspace_id=workspace_id,
            domain_id=domain_id,
            changes=own,
            actor=actor,
        )
        if change is not None:
            delivered.append(change)
    return delivered


def forward_all_mail(
    session: Session, domain_ids: Sequence[uuid.UUID], target: str | None
) -> dict[uuid.UUID, dict[str, Any]]:
    """Per domain, the `email_forwards` that send every mailbox's mail to `target` (none when
    `target` is None): the mailboxes the domain holds now."""
    forwards: dict[uuid.UUID, dict[str, str]] = {domain_id: {} for domain_id in domain_ids}
    if target is not None:
        rows = session.execute(
            select(Mailbox.domain_id, Mailbox.username).where(
                Mailbox.domain_id.in_(domain_ids), Mailbox.status.in_(DOMAIN_SLOT_STATUSES)
            )
        )
        for domain_id, username in rows:
            forwards[domain_id][username] = target
    return {domain_id: {"email_forwards": value} for domain_id, value in forwards.items()}


def add_client_id(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    domain_ids: Sequence[uuid.UUID],
    app: str,
    client_id: str,
    actor: str,
) -> int:
    """Link a Google OAuth client id to the domains for one app (a sequencer signing in with
    OAuth). Microsoft domains have no Google client: naming one refuses the call."""
    domains = list(
        session.scalars(select(Domain).where(Domain.id.in_(domain_ids)).with_for_update())
    )
    microsoft = sorted(d.name for d in domains if d.mailbox_type == MailboxType.MICROSOFT)
    if microsoft:
        raise BadRequest(
            f"A Google client id is for Google domains; {', '.join(microsoft[:5])} "
            "are Microsoft domains.",
            code="client_id_google_only",
            field="domainIds",
        )
    for domain in domains:
        domain.google_client_ids = {**(domain.google_client_ids or {}), app: client_id}
        domain.updated_at = clock.now()
    events.record_many(
        session,
        workspace_id=workspace_id,
        type=EventType.DOMAIN_SETTINGS_CHANGED,
        subject_type="domain",
        subject_ids=[d.id for d in domains],
        actor=actor,
        fields=["google_client_ids"],
    )
    return len(domains)


def renewable(session: Session, domain_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Of the domains, those auto-renew applies to: ACTIVE and bought here (a connected
    domain renews at its own registrar)."""
    return sorted(
        session.scalars(
            select(Domain.id).where(
                Domain.id.in_(domain_ids),
                Domain.source == DomainSource.PURCHASED,
                Domain.status == DomainStatus.ACTIVE,
            )
        )
    )


def set_auto_renew(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    domain_ids: Sequence[uuid.UUID],
    auto_renew: bool,
    strict: bool,
    actor: str,
) -> int:
    """Turn auto-renewal on or off. With `strict` (the domains were named), a domain it does
    not apply to refuses the call; otherwise (picked by filter) such domains are left out."""
    applicable = renewable(session, domain_ids)
    if strict and len(applicable) != len(set(domain_ids)):
        others = len(set(domain_ids)) - len(applicable)
        raise Conflict(
            f"Auto-renew applies to active domains bought here; {others} of the named "
            "domains are not.",
            code="auto_renew_not_applicable",
            field="domainIds",
        )
    return _set_flag(session, workspace_id, applicable, auto_renew=auto_renew, actor=actor)


def set_workspace_auto_renew(
    session: Session, *, workspace_id: uuid.UUID, auto_renew: bool, actor: str
) -> int:
    """The workspace's preference, for every domain it bought and those it buys later."""
    workspace = session.scalars(
        select(Workspace).where(Workspace.id == workspace_id).with_for_update()
    ).one()
    workspace.settings = {**(workspace.settings or {}), AUTO_RENEW_SETTING: auto_renew}
    ids = session.scalars(
        select(Domain.id).where(
            Domain.workspace_id == workspace_id,
            Domain.source == DomainSource.PURCHASED,
            Domain.status != DomainStatus.REMOVED,
        )
    )
    return _set_flag(session, workspace_id, sorted(ids), auto_renew=auto_renew, actor=actor)


def _set_flag(
    session: Session,
    workspace_id: uuid.UUID,
    domain_ids: Sequence[uuid.UUID],
    *,
    auto_renew: bool,
    actor: str,
) -> int:
    if not domain_ids:
        return 0
    session.execute(
        update(Domain)
        .where(Domain.id.in_(domain_ids))
        .values(auto_renew=auto_renew, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    events.record_many(
        session,
        workspace_id=workspace_id,
        type=EventType.DOMAIN_SETTINGS_CHANGED,
        subject_type="domain",
        subject_ids=domain_ids,
        actor=actor,
        fields=["auto_renew"],
    )
    return len(domain_ids)


def remove_unused(
    session: Session, *, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID], actor: str
) -> int:
    """Remove connected domains that hold no mailbox (Zapmail's rule R12: a domain bought
    here stays until it expires). All or nothing."""
    bought = _count(session, domain_ids, Domain.source == DomainSource.PURCHASED)
    if bought:
        raise Conflict(
            f"Only connected domains can be removed; {bought} of them were bought here.",
            code="domain_purchased",
            field="ids",
        )
    return _remove(session, workspace_id, domain_ids, actor)


def cancel_connections(
    session: Session, *, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID], actor: str
) -> int:
    """Remove domains still being connected (not ACTIVE yet), all or nothing: an operator
    deletes a stuck request and makes it again."""
    done = _count(session, domain_ids, Domain.status == DomainStatus.ACTIVE)
    if done:
        raise Conflict(
            f"{done} of the domains are connected already; remove them as domains.",
            code="connection_completed",
            field="ids",
        )
    return _remove(session, workspace_id, domain_ids, actor)


def _count(session: Session, domain_ids: Sequence[uuid.UUID], condition: Any) -> int:
    statement = select(func.count()).select_from(Domain).where(Domain.id.in_(domain_ids))
    return int(session.scalar(statement.where(condition)) or 0)


def _remove(
    session: Session, workspace_id: uuid.UUID, domain_ids: Sequence[uuid.UUID], actor: str
) -> int:
    """Each through the single-domain removal (its rule: no live mailbox; its event)."""
    for domain_id in domain_ids:
        service.remove_domain(session, workspace_id=workspace_id, domain_id=domain_id, actor=actor)
    return len(domain_ids)
