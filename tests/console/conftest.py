"""Signing in to the console as a browser does: the form's CSRF token, then the cookie."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.kit.passwords import hash_password
from mailfleet.models import User
from tests.cli.conftest import cli, run_cli  # noqa: F401 (fixtures for test_reset)
from tests.factories import Caller, make_tenant

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def set_password(db: Database, user_id: uuid.UUID, password: str = PASSWORD) -> None:
    """As `mailfleet user create ... --password` stores it (argon2)."""
    with db.transaction() as session:
        session.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(password))
        )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Signs in through the form; returns the CSRF token of the page it lands on."""
    form = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    landed = client.get(answer.headers["location"])
    assert landed.status_code == 200
    return csrf_of(landed.text)


@pytest.fixture
def owner(db: Database) -> Caller:
    """A user with a password, owning a workspace."""
    tenant = make_tenant(db)
    set_password(db, tenant.user_id)
    return tenant


@pytest.fixture
def console(client: TestClient, owner: Caller) -> TestClient:
    """The owner signed in."""
    sign_in(client, owner.email)
    return client


SignIn = Callable[[TestClient, str], str]
