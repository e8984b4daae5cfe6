"""The optional TOTP second factor: set up on the security page, then asked for at sign-in."""

from __future__ import annotations

import re
import time

import pyotp
from fastapi.testclient import TestClient

from mailfleet.auth.ratelimit import RateLimiter
from mailfleet.console.second_factor import PENDING_LIFETIME
from mailfleet.console.service import LoginLimits
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import User
from tests.console.conftest import PASSWORD, csrf_of
from tests.factories import Caller


def next_code(secret: str) -> str:
    """The code of the step after this one: accepted (clocks a little apart), and not the one
    that was just used (each code works once)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


CONFIRMED: dict[str, str] = {}  # secret -> the code that confirmed it


def _turn_on(console: TestClient) -> str:
    page = console.get("/console/security")
    assert 'id="totp-state">Off.' in page.text
    token = csrf_of(page.text)
    console.post("/console/security/totp/setup", data={"csrf_token": token})
    shown = console.get("/console/security").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', shown)
    assert secret, shown
    assert "otpauth://totp/" in shown
    code = CONFIRMED[secret.group(1)] = pyotp.TOTP(secret.group(1)).now()
    answer = console.post(
        "/console/security/totp/confirm",
        data={"csrf_token": token, "code": code},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert 'id="totp-state">On' in console.get("/console/security").text
    return secret.group(1)


def _password_step(client: TestClient, email: str) -> object:
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(form.text),
            "email": email,
            "password": PASSWORD,
            "next": "/console/domains",
        },
        follow_redirects=False,
    )


def test_turning_it_on_needs_a_right_code_and_stores_the_secret_encrypted(
    console: TestClient, owner: Caller, db: Database
) -> None:
    token = csrf_of(console.get("/console/security").text)
    console.post("/console/security/totp/setup", data={"csrf_token": token})
    wrong = console.post(
        "/console/security/totp/confirm", data={"csrf_token": token, "code": "000000"}
    )
    assert wrong.status_code == 422
    with db.transaction() as session:
        user = session.get_one(User, owner.user_id)
        assert user.totp_enabled_at is None
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', wrong.text)
        assert secret
        assert user.totp_secret_enc
        assert secret.group(1) not in user.totp_secret_enc


def test_sign_in_asks_for_the_code_before_any_page_opens(
    console: TestClient,
    make_client,
    owner: Caller,  # type: ignore[no-untyped-def]
) -> None:
    secret = _turn_on(console)
    browser = make_client()
    answer = _password_step(browser, owner.email)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    step = answer.headers["location"]  # type: ignore[attr-defined]
    assert step == "/console/login/second-factor?next=/console/domains"
    # The password alone opens nothing.
    assert browser.get("/console/", follow_redirects=False).status_code == 303
    form = browser.get(step)
    assert form.status_code == 200
    token = csrf_of(form.text)
    wrong = browser.post(
        "/console/login/second-factor",
        data={"csrf_token": token, "code": "123456", "next": "/console/domains"},
    )
    assert wrong.status_code == 401
    assert (
        browser.post(
            "/console/login/second-factor", data={"code": pyotp.TOTP(secret).now()}
        ).status_code
        == 403
    )
    # The code that confirmed the setup was used: it does not sign in.
    reused = browser.post(
        "/console/login/second-factor",
        data={"csrf_token": token, "code": CONFIRMED[secret], "next": "/console/domains"},
    )
    assert reused.status_code == 401
    code = next_code(secret)
    right = browser.post(
        "/console/login/second-factor",
        data={"csrf_token": token, "code": code, "next": "/console/domains"},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/console/domains"
    assert browser.get("/console/domains").status_code == 200
    # Nor does a code used once open a second session.
    other = make_client()
    token = csrf_of(other.get(_password_step(other, owner.email).headers["location"]).text)  # type: ignore[attr-defined]
    again = other.post("/console/login/second-factor", data={"csrf_token": token, "code": code})
    assert again.status_code == 401


def test_the_second_step_expires(console: TestClient, make_client, owner: Caller) -> None:  # type: ignore[no-untyped-def]
    secret = _turn_on(console)
    browser = make_client()
    step = _password_step(browser, owner.email).headers["location"]  # type: ignore[attr-defined]
    token = csrf_of(browser.get(step).text)
    clock.advance(PENDING_LIFETIME.total_seconds() + 1)
    late = browser.post(
        "/console/login/second-factor",
        data={"csrf_token": token, "code": next_code(secret)},
        follow_redirects=False,
    )
    assert late.status_code == 303
    assert late.headers["location"] == "/console/login"
    assert browser.get("/console/", follow_redirects=False).status_code == 303


def test_codes_are_throttled(console: TestClient, make_client, owner: Caller) -> None:  # type: ignore[no-untyped-def]
    _turn_on(console)
    browser = make_client()
    browser.app.state.console_login_limits = LoginLimits(
        per_email=RateLimiter(0, 0, [(900, 2)]), per_address=RateLimiter(0, 0, [(900, 100)])
    )
    step = _password_step(browser, owner.email).headers["location"]  # type: ignore[attr-defined]
    token = csrf_of(browser.get(step).text)
    statuses = [
        browser.post(
            "/console/login/second-factor", data={"csrf_token": token, "code": "000000"}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_turning_it_off_takes_a_current_code(
    console: TestClient, owner: Caller, db: Database
) -> None:
    secret = _turn_on(console)
    token = csrf_of(console.get("/console/security").text)
    refused = console.post(
        "/console/security/totp/disable", data={"csrf_token": token, "code": "000000"}
    )
    assert refused.status_code == 422
    console.post(
        "/console/security/totp/disable", data={"csrf_token": token, "code": next_code(secret)}
    )
    with db.transaction() as session:
        user = session.get_one(User, owner.user_id)
        assert user.totp_enabled_at is None
        assert user.totp_secret_enc is None
