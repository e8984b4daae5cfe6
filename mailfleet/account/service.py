"""Users and the account overview."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailfleet.exceptions import Conflict
from mailfleet.kit.passwords import hash_password
from mailfleet.models import User


def create_user(
    session: Session,
    *,
    email: str,
    name: str = "",
    password: str | None = None,
    is_operator: bool = False,
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            f"A user with email {email} already exists.", code="user_exists", field="email"
        )
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        is_operator=is_operator,
    )
    session.add(user)
    session.flush()
    return user


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)
