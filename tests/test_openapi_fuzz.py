"""Property-based fuzzing of the whole native API from its own OpenAPI document.

For every operation, Schemathesis generates requests (valid and invalid) and checks that the
answer is never a 5xx, that its status code is documented, and that its body matches the
documented schema. The caller is an operator owning a workspace with data in it, so requests
reach the services rather than stopping at authentication.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mailfleet.app import create_app
from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType
from tests.conftest import base_settings
from tests.factories import give_slots, make_domain, make_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 15


@pytest.mark.slow
def test_no_operation_answers_5xx_or_breaks_its_schema(db: Database, tmp_path: Path) -> None:
    warnings.simplefilter("ignore")
    app = create_app(
        base_settings(tmp_path, db.engine.url.render_as_string(hide_password=False)), db
    )
    caller = make_tenant(db, operator=True)
    make_domain(db, caller.workspace_id, status=DomainStatus.ACTIVE)
    give_slots(db, caller.workspace_id, MailboxType.SMTP, 20)
    operations = fuzz(app, "/openapi.json", caller.headers)
    assert operations > 20


def fuzz(app: Any, document: str, headers: dict[str, str]) -> int:
    """Every operation of `document` fuzzed with `headers`; fails listing each operation that
    answered a 5xx or broke its documented shape. Returns how many operations there are."""
    schema = schemathesis.openapi.from_asgi(document, app)
    failures: list[str] = []
    seen: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            # The same examples every run: a failure is reproducible, never a CI coin toss.
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}"[:2000])
    assert not failures, "\n\n".join(failures)
    # The fuzzer must really have exercised the API, not stopped at generation.
    assert len(seen) >= 5 * len(operations)
    return len(operations)
