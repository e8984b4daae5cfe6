"""Property-based fuzzing of /inboxedup from its own OpenAPI document: no 5xx, every status
documented, every body (success or the Error envelope) matching its documented schema."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from mailfleet.app import create_app
from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType
from tests.conftest import base_settings
from tests.factories import give_slots, make_domain, make_tenant
from tests.test_openapi_fuzz import CHECKS, EXAMPLES_PER_OPERATION


@pytest.mark.slow
def test_no_operation_answers_5xx_or_breaks_its_schema(db: Database, tmp_path: Path) -> None:
    warnings.simplefilter("ignore")
    app = create_app(
        base_settings(tmp_path, db.engine.url.render_as_string(hide_password=False)), db
    )
    caller = make_tenant(db)
    make_domain(db, caller.workspace_id, name="yourdomain.com", status=DomainStatus.ACTIVE)
    give_slots(db, caller.workspace_id, MailboxType.SMTP, 20)
    schema = schemathesis.openapi.from_asgi("/inboxedup/openapi.json", app)
    failures: list[str] = []
    seen: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {caller.token}"})
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}"[:2000])
    assert not failures, "\n\n".join(failures)
    assert len(seen) >= 5 * len(operations)
