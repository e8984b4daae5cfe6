"""Authenticator codes (RFC 6238) and retrying failed mailboxes."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes.actions.service import authenticator_code
from mailfleet.models import Mailbox, MailboxStatus, MailboxType
from tests.factories import (
    SMTP_ENDPOINTS,
    give_slots,
    make_domain,
    make_mailbox,
    make_tenant,
    order_body,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_codes_follow_the_rfc_6238_test_vectors(timestamp: int, expected: str) -> None:
    # RFC 6238 appendix B (SHA-1 secret "12345678901234567890"), last six of the eight digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    code = authenticator_code(secret, datetime.fromtimestamp(timestamp, UTC))
    assert code.code == expected
    assert code.expires_in == 30 - timestamp % 30


def _with_secret(db: Database, client: TestClient, mailbox_id: object, secret: str | None) -> None:
    box: SecretBox = client.app.state.secrets  # type: ignore[attr-defined]
    with db.transaction() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        mailbox.totp_secret_enc = box.encrypt_optional(secret)


def test_the_current_code_and_its_remaining_seconds(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, tenant.workspace_id))
    _with_secret(db, client, mailbox_id, SECRET)

    response = client.get(f"/v1/mailboxes/{mailbox_id}/totp", headers=tenant.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    now = int(clock.now().timestamp())
    assert pyotp.TOTP(SECRET).verify(body["code"], for_time=now, valid_window=1)
    assert 1 <= body["expires_in"] <= 30
    assert response.headers["cache-control"] == "no-store"


def test_no_secret_is_a_clear_conflict(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, tenant.workspace_id))
    response = client.get(f"/v1/mailboxes/{mailbox_id}/totp", headers=tenant.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "no_totp_secret"


SHORT_SECRET = "JBSWY3DPEHPK3PXP"  # 80 bits: the example of many authenticator guides


def _reference_code(secret: str, timestamp: int) -> str:
    # HMAC pads a short key with zero bytes, so the same key padded to pyotp's minimum of
    # 16 bytes gives the same codes: an independent oracle for secrets pyotp refuses.
    key = base64.b32decode(_padded(secret))
    return pyotp.TOTP(base64.b32encode(key.ljust(16, b"\0")).decode()).at(timestamp)


def _padded(secret: str) -> str:
    cleaned = "".join(secret.split()).upper().rstrip("=")
    return cleaned + "=" * (-len(cleaned) % 8)


@pytest.mark.parametrize(
    "secret",
    [SHORT_SECRET, "jbsw y3dp ehpk 3pxp", "JBSWY3DPEHPK3PXP====", "ME======", "MFRGG"],
)
@pytest.mark.parametrize("timestamp", [59, 1111111109, 2000000000])
def test_codes_for_secrets_shorter_than_pyotp_takes(secret: str, timestamp: int) -> None:
    code = authenticator_code(secret, datetime.fromtimestamp(timestamp, UTC))
    assert code.code == _reference_code(secret, timestamp)


def test_the_common_80_bit_secret_gives_a_code_over_http(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, tenant.workspace_id))
    _with_secret(db, client, mailbox_id, SHORT_SECRET)

    response = client.get(f"/v1/mailboxes/{mailbox_id}/totp", headers=tenant.headers)

    assert response.status_code == 200, response.text
    now = int(clock.now().timestamp())
    accepted = {_reference_code(SHORT_SECRET, now + step * 30) for step in (-1, 0, 1)}
    assert response.json()["code"] in accepted


def test_a_stored_secret_that_is_not_base32_is_a_conflict_not_a_500(
    db: Database, client: TestClient
) -> None:
    tenant = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, tenant.workspace_id))
    _with_secret(db, client, mailbox_id, "not base32!")

    response = client.get(f"/v1/mailboxes/{mailbox_id}/totp", headers=tenant.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "unusable_totp_secret"


def _failed_mailbox(db: Database, slots: int) -> tuple[dict[str, str], object]:
    tenant = make_tenant(db)
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, slots)
    return tenant.headers, make_mailbox(db, domain, status=MailboxStatus.FAILED)


def test_a_failed_mailbox_can_be_retried(db: Database, client: TestClient) -> None:
    headers, mailbox_id = _failed_mailbox(db, slots=1)
    response = client.post(f"/v1/mailboxes/{mailbox_id}/retry", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "PENDING"


def test_retry_needs_a_free_slot(db: Database, client: TestClient) -> None:
    headers, mailbox_id = _failed_mailbox(db, slots=0)
    response = client.post(f"/v1/mailboxes/{mailbox_id}/retry", headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "quota_exceeded"
    with db.transaction(write=False) as session:
        assert session.scalar(select(Mailbox.status)) == MailboxStatus.FAILED


def test_only_failed_mailboxes_are_retried(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    mailbox_id = make_mailbox(db, make_domain(db, tenant.workspace_id))
    response = client.post(f"/v1/mailboxes/{mailbox_id}/retry", headers=tenant.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "mailbox_not_failed"


def test_retry_respects_the_domain_limit(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(domain_limit_google=1)
    tenant = make_tenant(db)
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 5)
    make_mailbox(db, domain)  # the one place on the domain is taken again
    failed = make_mailbox(db, domain, status=MailboxStatus.FAILED)
    response = client.post(f"/v1/mailboxes/{failed}/retry", headers=tenant.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "domain_mailbox_limit"


def _completed_by_operator(db: Database, off: TestClient, totp_secret: str) -> Response:
    operator = make_tenant(db, operator=True)
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 1)
    domain = make_domain(db, owner.workspace_id)
    order = off.post("/v1/mailbox-orders", json=order_body(domain, ["ann"]), headers=owner.headers)
    assert order.status_code == 201, order.text
    order_id, mailbox_id = order.json()["id"], order.json()["mailboxes"][0]["id"]
    off.post(f"/v1/operator/mailbox-orders/{order_id}/start", headers=operator.headers)
    body = {"password": "S3cret-pass", "totp_secret": totp_secret, **SMTP_ENDPOINTS}
    done = off.post(
        f"/v1/operator/mailboxes/{mailbox_id}/complete", json=body, headers=operator.headers
    )
    if done.status_code != 200:
        return done
    return off.get(f"/v1/mailboxes/{mailbox_id}/totp", headers=owner.headers)


def test_a_mailbox_completed_with_the_80_bit_secret_gives_its_code(
    db: Database, off: TestClient
) -> None:
    response = _completed_by_operator(db, off, "jbsw y3dp ehpk 3pxp")

    assert response.status_code == 200, response.text
    now = int(clock.now().timestamp())
    accepted = {_reference_code(SHORT_SECRET, now + step * 30) for step in (-1, 0, 1)}
    assert response.json()["code"] in accepted


@pytest.mark.parametrize("secret", ["====", "    ", "not base32!", "A"])
def test_an_operator_cannot_store_a_secret_that_gives_no_code(
    db: Database, off: TestClient, secret: str
) -> None:
    response = _completed_by_operator(db, off, secret)

    assert response.status_code == 422
    assert response.json()["field"] == "totp_secret"
