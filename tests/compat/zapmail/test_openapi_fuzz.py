"""Property-based fuzzing of /zapmail from its own OpenAPI document: no 5xx, every status
documented, every body (success or the error envelope) matching its documented schema."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mailfleet.app import create_app
from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType
from tests.conftest import base_settings
from tests.factories import give_slots, make_domain, make_mailbox, make_tenant
from tests.test_openapi_fuzz import fuzz


@pytest.mark.slow
def test_no_operation_answers_5xx_or_breaks_its_schema(db: Database, tmp_path: Path) -> None:
    warnings.simplefilter("ignore")
    app = create_app(
        base_settings(tmp_path, db.engine.url.render_as_string(hide_password=False)), db
    )
    caller = make_tenant(db)
    domain = make_domain(db, caller.workspace_id, name="azhaz.com", status=DomainStatus.ACTIVE)
    make_mailbox(db, domain)
    give_slots(db, caller.workspace_id, MailboxType.GOOGLE, 20)
    operations = fuzz(app, "/zapmail/openapi.json", caller.zapmail_headers)
    assert operations >= 30
