"""The health check a user asks for now (POST dns/check), run through the same job code.

The delegation check asked for now (POST verify) is the lifecycle's: `domains.verification`.
"""

from __future__ import annotations

import uuid
from typing import Any

from mailfleet.dns import checks
from mailfleet.jobs.queue import Runtime
from mailfleet.models import Domain


def check_now(runtime: Runtime, domain_id: uuid.UUID, *, actor: str) -> dict[str, Any]:
    report = checks.run_and_store(runtime, domain_id, actor=actor)
    with runtime.database.transaction(write=False) as session:
        domain = session.get(Domain, domain_id)
        assert domain is not None
        return {
            "checked_at": domain.health_checked_at,
            "drift": domain.dns_drift,
            "report": report,
        }
