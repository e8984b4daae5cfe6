"""Getting a domain ready at a mailbox provider: publish its ownership record, then prepare.

Google and Microsoft accept a domain only once a TXT record they issue is in its zone. Mailfleet
hosts the zone, so it stores the value on the domain (`provider_verification`, which the DNS
templates publish), commits, and pushes it to the DNS provider before asking the mailbox
provider to verify. The provider's own check may still lag behind DNS: that surfaces as a
retryable error and the provisioning job backs off.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailfleet.dns import delivery
from mailfleet.dns import service as dns_service
from mailfleet.jobs.queue import Runtime
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes.providers.base import MailboxProvider
from mailfleet.models import Domain, DomainStatus


def verification_record(provider: MailboxProvider, domain: str) -> str | None:
    """The TXT value the provider wants on the apex, if it verifies ownership that way."""
    for method in ("verification_token", "verification_txt"):
        fetch = getattr(provider, method, None)
        if fetch is not None:
            return str(fetch(domain))
    return None


def prepare(runtime: Runtime, provider: MailboxProvider, domain: str) -> None:
    record = verification_record(provider, domain)
    if record:
        publish_verification(runtime, domain, record)
    provider.prepare_domain(domain)


def publish_verification(runtime: Runtime, domain_name: str, record: str) -> None:
    """Store the ownership record and send it to the DNS provider once that commits (no lock
    held across the provider's answer). A refusal puts it back and raises BadGateway, so the
    provisioning round retries the whole step; a crash before the answer leaves the resend
    that `deliver` schedules first."""
    settings = runtime.settings
    with runtime.database.transaction() as session:
        domain = session.scalars(
            select(Domain)
            .where(Domain.name == domain_name, Domain.status != DomainStatus.REMOVED)
            .with_for_update()
        ).first()
        if domain is None or domain.provider_verification == record:
            return
        previous = domain.provider_verification
        domain.provider_verification = record
        if domain.zone_id is None:
            return  # published with the rest of the zone when it is created
        change = dns_service.republish(session, settings, SecretBox.from_settings(settings), domain)
        if change is not None:
            change = delivery.also_undo(change, _put_back(domain.id, record, previous))
    if change is not None:
        delivery.deliver(runtime, change)


def _put_back(domain_id: uuid.UUID, record: str, previous: str | None) -> Callable[[Session], None]:
    def undo(side: Session) -> None:
        # Unless a newer token was stored meanwhile: that one stands.
        side.execute(
            update(Domain)
            .where(Domain.id == domain_id, Domain.provider_verification == record)
            .values(provider_verification=previous)
        )

    return undo
