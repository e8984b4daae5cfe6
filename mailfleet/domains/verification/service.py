"""The delegation check a user asks for now (POST verify), run through the same job code."""

from __future__ import annotations

import uuid
from typing import Any

from mailfleet.domains import tasks
from mailfleet.jobs.queue import Runtime
from mailfleet.models import Domain, DomainStatus


def verify_now(runtime: Runtime, domain_id: uuid.UUID, *, actor: str) -> dict[str, Any]:
    """Delegation check of one domain, applied like the periodic one.

    A QUEUED domain gets its zone first. A FAILED one whose delegation is now right comes
    back to ACTIVE: the user fixed the registrar after the deadline.
    """
    status = _status(runtime, domain_id)
    if status == DomainStatus.QUEUED:
        tasks.create_zones(runtime, [str(domain_id)])
    _, reports = tasks.verify_now(runtime, [domain_id], actor=actor, revive_failed=True)
    diagnosis = reports.get(domain_id)
    status = _status(runtime, domain_id)
    return {
        "status": status,
        "delegated": bool(diagnosis and diagnosis.get("delegated")),
        "diagnosis": diagnosis or {"reason": f"The domain is {status.value}; nothing to check."},
    }


def _status(runtime: Runtime, domain_id: uuid.UUID) -> DomainStatus:
    with runtime.database.transaction(write=False) as session:
        domain = session.get(Domain, domain_id)
        assert domain is not None
        return domain.status
