"""Signing in and out of the console: the session cookie, CSRF on every form, the throttle,
expiry and fixation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.auth.ratelimit import RateLimiter
from mailfleet.console.service import SESSION_LIFETIME, LoginLimits
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import ConsoleSession
from tests.console.conftest import PASSWORD, csrf_of, sign_in
from tests.factories import Caller, count_rows


def _login(client: TestClient, email: str, password: str, **extra: str) -> object:
    form = client.get("/console/login")
    data = {"csrf_token": csrf_of(form.text), "email": email, "password": password, **extra}
    return client.post("/console/login", data=data, follow_redirects=False)


def test_a_page_without_a_session_redirects_to_the_sign_in_form(client: TestClient) -> None:
    answer = client.get("/console/domains", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/domains"
    form = client.get(answer.headers["location"])
    assert form.status_code == 200
    assert 'name="next" value="/console/domains"' in form.text
    assert '<label for="email">' in form.text
    assert '<label for="password">' in form.text


def test_sign_in_sets_a_http_only_lax_cookie_and_lands_on_next(
    client: TestClient, owner: Caller, db: Database
) -> None:
    answer = _login(client, owner.email.upper(), PASSWORD, next="/console/domains")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/console/domains"  # type: ignore[attr-defined]
    cookie = next(
        v
        for k, v in answer.headers.multi_items()
        if k == "set-cookie" and "mf_console=" in v  # type: ignore[attr-defined]
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console/" in cookie
    # Plain http here: Secure would make the browser drop it.
    assert "Secure" not in cookie
    assert count_rows(db, ConsoleSession) == 1
    page = client.get("/console/")
    assert page.status_code == 200
    assert owner.email in page.text


def test_the_cookie_is_secure_over_https(make_client, owner: Caller) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.base_url = "https://testserver"
    answer = _login(client, owner.email, PASSWORD)
    cookies = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]  # type: ignore[attr-defined]
    assert any("mf_console=" in c and "Secure" in c for c in cookies)


def test_a_wrong_password_or_unknown_email_is_refused_alike(
    client: TestClient, owner: Caller, db: Database
) -> None:
    for email in (owner.email, "nobody@example.com"):
        answer = _login(client, email, "wrong password")
        assert answer.status_code == 401  # type: ignore[attr-defined]
        assert "Wrong email or password." in answer.text  # type: ignore[attr-defined]
    assert count_rows(db, ConsoleSession) == 0
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_sign_in_without_the_forms_csrf_token_is_403(
    client: TestClient, owner: Caller, db: Database
) -> None:
    client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"email": owner.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]
    forged = client.post(
        "/console/login",
        data={"csrf_token": "forged", "email": owner.email, "password": PASSWORD},
    )
    assert forged.status_code == 403
    assert count_rows(db, ConsoleSession) == 0


def test_a_signed_in_form_without_its_csrf_token_is_403_and_changes_nothing(
    console: TestClient, db: Database
) -> None:
    for data in ({}, {"csrf_token": "not-the-sessions"}):
        answer = console.post("/console/logout", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "csrf_failed" in answer.text
    # Still signed in: the forged sign-out did nothing.
    assert console.get("/console/", follow_redirects=False).status_code == 200
    with db.transaction() as session:
        assert (
            session.query(ConsoleSession).filter(ConsoleSession.revoked_at.isnot(None)).count() == 0
        )


def test_a_json_body_is_no_form_and_is_refused(console: TestClient) -> None:
    answer = console.post("/console/domains", json={"domains": ["a.com"]})
    assert answer.status_code == 403


def test_sign_out_revokes_the_session_row(client: TestClient, owner: Caller, db: Database) -> None:
    token = sign_in(client, owner.email)
    stolen = client.cookies.get("mf_console")
    answer = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"
    assert client.get("/console/", follow_redirects=False).status_code == 303
    # A copy of the cookie taken before signing out no longer works either.
    replay = TestClient(client.app, cookies={"mf_console": stolen or ""})
    assert replay.get("/console/", follow_redirects=False).status_code == 303
    with db.transaction() as session:
        row = session.query(ConsoleSession).one()
        assert row.revoked_at is not None


def test_a_session_expires(console: TestClient) -> None:
    assert console.get("/console/", follow_redirects=False).status_code == 200
    clock.advance(SESSION_LIFETIME.total_seconds() + 1)
    answer = console.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


def test_signing_in_replaces_a_planted_session(
    client: TestClient, owner: Caller, db: Database
) -> None:
    sign_in(client, owner.email)
    first = client.cookies.get("mf_console")
    sign_in(client, owner.email)
    second = client.cookies.get("mf_console")
    assert first != second
    replay = TestClient(client.app, cookies={"mf_console": first or ""})
    assert replay.get("/console/", follow_redirects=False).status_code == 303
    # A made-up cookie sent before signing in is never the signed-in one.
    planted = TestClient(client.app, cookies={"mf_console": "attacker-chosen"})
    answer = _login(planted, owner.email, PASSWORD)
    set_cookies = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]  # type: ignore[attr-defined]
    issued = [c for c in set_cookies if c.startswith("mf_console=")]
    assert len(issued) == 1
    assert not issued[0].startswith("mf_console=attacker-chosen")


def test_sign_in_is_throttled_per_email(client: TestClient, owner: Caller, db: Database) -> None:
    client.app.state.console_login_limits = LoginLimits(
        per_email=RateLimiter(0, 0, [(900, 3)]), per_address=RateLimiter(0, 0, [(900, 100)])
    )
    for _ in range(3):
        assert _login(client, owner.email, "wrong").status_code == 401  # type: ignore[attr-defined]
    # Even the right password waits now.
    refused = _login(client, owner.email, PASSWORD)
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert int(refused.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert "Too many sign-in attempts" in refused.text  # type: ignore[attr-defined]
    assert count_rows(db, ConsoleSession) == 0


def test_sign_in_is_throttled_per_address(client: TestClient, db: Database) -> None:
    client.app.state.console_login_limits = LoginLimits(
        per_email=RateLimiter(0, 0, [(900, 100)]), per_address=RateLimiter(0, 0, [(900, 2)])
    )
    assert _login(client, "a@example.com", "x").status_code == 401  # type: ignore[attr-defined]
    assert _login(client, "b@example.com", "x").status_code == 401  # type: ignore[attr-defined]
    assert _login(client, "c@example.com", "x").status_code == 429  # type: ignore[attr-defined]


def test_next_never_leaves_the_console(client: TestClient, owner: Caller) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/v1/account"):
        answer = _login(client, owner.email, PASSWORD, next=target)
        assert answer.headers["location"] == "/console/"  # type: ignore[attr-defined]


def test_pages_send_no_store_and_a_strict_content_security_policy(console: TestClient) -> None:
    page = console.get("/console/")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_static_files_are_served_locally(client: TestClient) -> None:
    css = client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = client.get("/console/static/console.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert client.get("/console/static/../service.py").status_code == 404


def test_an_unknown_console_page_is_an_html_404(console: TestClient) -> None:
    answer = console.get("/console/no-such-page")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]
    assert "404" in answer.text


def test_the_console_without_its_slash_redirects_there(client: TestClient) -> None:
    answer = client.get("/console", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/console/"
