"""An order applies the policy profile of the surface it came through, not the settings.

Two surfaces mount the same order routes over the same keys: the native one (the deployment's
limits) and a stricter one whose profile allows one mailbox per domain. The same order passes
on the first and is refused on the second, so the rules read the caller's profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.models import MailboxType
from mailfleet.policy import PolicyProfile
from mailfleet.surfaces.native import native_surface
from tests.factories import make_domain, order_body
from tests.orders.helpers import ORDERS, assert_refused, tenant

STRICT = "/strict"


def _strict(settings: Any) -> PolicyProfile:
    return PolicyProfile.from_settings(settings).with_changes(
        "strict", domain_limits={t: 1 for t in MailboxType}
    )


@pytest.fixture
def both(db: Database, make_settings: Callable[..., Settings]) -> TestClient:
    strict = replace(native_surface(), name="strict", prefix=STRICT, profile=_strict)
    app = create_app(make_settings(recent_creation_rule="off"), db, [native_surface(), strict])
    return TestClient(app)


def test_the_order_follows_the_surfaces_profile(db: Database, both: TestClient) -> None:
    owner = tenant(db)
    native_domain = make_domain(db, owner.workspace_id)
    strict_domain = make_domain(db, owner.workspace_id)

    body = order_body(native_domain, ["ada", "bob"], "GOOGLE")
    assert both.post(ORDERS, json=body, headers=owner.headers).status_code == 201

    body = order_body(strict_domain, ["ada", "bob"], "GOOGLE")
    response = both.post(STRICT + "/mailbox-orders", json=body, headers=owner.headers)
    assert_refused(db, response, 409, "domain_mailbox_limit", "mailboxes")
    body = order_body(strict_domain, ["ada"], "GOOGLE")
    response = both.post(STRICT + "/mailbox-orders", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
