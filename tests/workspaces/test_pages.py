"""`workspaces.pages`: the numbered pages of workspaces, members and invitations the compat
surfaces list, with their totals: edges (past the end, limit 1), order, counts, and the same
membership checks as the native reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from mailfleet.auth.service import Principal, authenticate
from mailfleet.db import Database
from mailfleet.exceptions import Forbidden, NotFound
from mailfleet.kit import clock
from mailfleet.models import (
    DomainStatus,
    Invitation,
    InvitationStatus,
    MailboxStatus,
    Role,
    Workspace,
)
from mailfleet.workspaces import pages
from mailfleet.workspaces.service import create_for
from tests.factories import (
    Caller,
    make_domain,
    make_key,
    make_mailbox,
    make_member,
    make_tenant,
    make_user,
)


@contextmanager
def acting(db: Database, token: str) -> Iterator[tuple[Session, Principal]]:
    with db.transaction() as session:
        principal = authenticate(session, token)
        assert principal is not None
        yield session, principal


def add_workspaces(db: Database, owner: Caller, *names: str) -> list[uuid.UUID]:
    with acting(db, owner.token) as (session, principal):
        return [create_for(session, principal, name=name).id for name in names]


def names(found: list[pages.WorkspaceSummary]) -> list[str]:
    return [summary.workspace.name for summary in found]


# --- summaries ----------------------------------------------------------------------------


def test_summaries_page_in_membership_order(db: Database) -> None:
    owner = make_tenant(db)
    add_workspaces(db, owner, "Alpha", "Beta", "Gamma")
    with acting(db, owner.token) as (session, principal):
        every, total = pages.summaries(session, principal)
        first, first_total = pages.summaries(session, principal, page=1, limit=1)
        third, _ = pages.summaries(session, principal, page=3, limit=1)
        last, _ = pages.summaries(session, principal, page=2, limit=3)
        past, past_total = pages.summaries(session, principal, page=9, limit=3)

    assert names(every)[1:] == ["Alpha", "Beta", "Gamma"]
    assert total == first_total == past_total == 4
    assert names(first) == names(every)[:1]
    assert names(third) == ["Beta"]
    assert names(last) == ["Gamma"]
    assert past == []


def test_contains_is_trimmed_and_case_blind_and_counts_only_matches(db: Database) -> None:
    owner = make_tenant(db)
    add_workspaces(db, owner, "Sales EU", "sales US", "Support")
    with acting(db, owner.token) as (session, principal):
        found, total = pages.summaries(session, principal, contains="  SALES ")
        paged, paged_total = pages.summaries(session, principal, contains="sales", page=2, limit=1)
        none, none_total = pages.summaries(session, principal, contains="nothing")

    assert names(found) == ["Sales EU", "sales US"]
    assert total == paged_total == 2
    assert names(paged) == ["sales US"]
    assert (none, none_total) == ([], 0)


def test_counts_leave_out_removed_domains_and_removed_or_failed_mailboxes(db: Database) -> None:
    owner = make_tenant(db)
    (empty,) = add_workspaces(db, owner, "Empty")
    domain = make_domain(db, owner.workspace_id)
    make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    make_domain(db, owner.workspace_id, status=DomainStatus.REMOVED)
    for status in (MailboxStatus.ACTIVE, MailboxStatus.PENDING, MailboxStatus.REMOVED):
        make_mailbox(db, domain, status=status)
    make_mailbox(db, domain, status=MailboxStatus.FAILED)

    with acting(db, owner.token) as (session, principal):
        found, _ = pages.summaries(session, principal)

    by_id = {summary.workspace.id: summary for summary in found}
    assert (by_id[owner.workspace_id].domain_count, by_id[owner.workspace_id].mailbox_count) == (
        2,
        2,
    )
    assert (by_id[empty].domain_count, by_id[empty].mailbox_count) == (0, 0)
    assert all(isinstance(s.domain_count, int) for s in found)


def test_billing_details_only_for_admins_and_above(db: Database) -> None:
    owner = make_tenant(db)
    with db.transaction() as session:
        session.get_one(Workspace, owner.workspace_id).billing_details = {"company_name": "Acme"}
    by_role = {role: make_member(db, owner, role) for role in Role}
    by_role.pop(Role.OWNER)

    with acting(db, owner.token) as (session, principal):
        mine, _ = pages.summaries(session, principal)
    assert mine[0].billing_details == {"company_name": "Acme"}
    for role, member in by_role.items():
        with acting(db, member.token) as (session, principal):
            (summary,), _ = pages.summaries(session, principal)
        expected = {"company_name": "Acme"} if role == Role.ADMIN else None
        assert summary.billing_details == expected, role
        assert summary.workspace.role == role


def test_a_pinned_key_sees_its_workspace_only(db: Database) -> None:
    owner = make_tenant(db)
    add_workspaces(db, owner, "Other")
    pinned = make_key(db, owner.user_id, workspace_id=owner.workspace_id)
    with acting(db, pinned) as (session, principal):
        found, total = pages.summaries(session, principal)
    assert [s.workspace.id for s in found] == [owner.workspace_id]
    assert total == 1


def test_a_user_without_workspaces_gets_an_empty_page(db: Database) -> None:
    make_tenant(db)  # someone else's workspace stays out
    loner = make_user(db)
    with acting(db, make_key(db, loner.id)) as (session, principal):
        assert pages.summaries(session, principal) == ([], 0)
        assert pages.summaries(session, principal, page=2, limit=1) == ([], 0)


# --- members ------------------------------------------------------------------------------


def test_member_page_oldest_first_with_limit_one(db: Database) -> None:
    owner = make_tenant(db)
    added = [make_member(db, owner, role) for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER)]
    expected = [owner.user_id, *(m.user_id for m in added)]

    with acting(db, owner.token) as (session, principal):
        one_by_one = [
            pages.member_page(session, principal, owner.workspace_id, page=n, limit=1)
            for n in (1, 2, 3, 4, 5)
        ]
        whole, whole_total = pages.member_page(
            session, principal, owner.workspace_id, page=1, limit=10
        )

    assert [[v.user_id for v in views] for views, _ in one_by_one] == [
        [user_id] for user_id in expected
    ] + [[]]
    assert {total for _, total in one_by_one} == {4}
    assert [v.user_id for v in whole] == expected
    assert whole_total == 4
    assert [v.role for v in whole] == [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER]
    assert whole[0].email == owner.email


def test_member_page_is_the_owners_and_the_members_only(db: Database) -> None:
    owner = make_tenant(db)
    admin = make_member(db, owner, Role.ADMIN)
    stranger = make_tenant(db)
    with acting(db, admin.token) as (session, principal), pytest.raises(Forbidden):
        pages.member_page(session, principal, owner.workspace_id, page=1, limit=10)
    with acting(db, stranger.token) as (session, principal), pytest.raises(NotFound):
        pages.member_page(session, principal, owner.workspace_id, page=1, limit=10)


# --- invitations --------------------------------------------------------------------------


def make_invitations(db: Database, owner: Caller, count: int) -> list[uuid.UUID]:
    """`count` invitations, one a minute apart (oldest first), in every status in turn."""
    statuses = list(InvitationStatus)
    start = clock.now() - timedelta(hours=1)
    ids = []
    with db.transaction() as session:
        for n in range(count):
            invitation = Invitation(
                workspace_id=owner.workspace_id,
                email=f"guest{n}@example.com",
                role=Role.VIEWER,
                status=statuses[n % len(statuses)],
                invited_by_id=owner.user_id,
                created_at=start + timedelta(minutes=n),
                expires_at=start + timedelta(days=7),
            )
            session.add(invitation)
            session.flush()
            ids.append(invitation.id)
    return ids


def test_invitation_page_newest_first_of_every_status(db: Database) -> None:
    owner = make_tenant(db)
    ids = make_invitations(db, owner, 5)
    other = make_tenant(db)
    make_invitations(db, other, 2)

    with acting(db, owner.token) as (session, principal):
        whole, total = pages.invitation_page(
            session, principal, owner.workspace_id, page=1, limit=10
        )
        second, _ = pages.invitation_page(session, principal, owner.workspace_id, page=2, limit=2)
        last, _ = pages.invitation_page(session, principal, owner.workspace_id, page=3, limit=2)
        past, past_total = pages.invitation_page(
            session, principal, owner.workspace_id, page=4, limit=2
        )

    newest_first = list(reversed(ids))
    assert [v.id for v in whole] == newest_first
    assert total == past_total == 5
    assert {v.status for v in whole} == set(InvitationStatus)
    assert [v.id for v in second] == newest_first[2:4]
    assert [v.id for v in last] == newest_first[4:]
    assert past == []
    with db.transaction() as session:
        name = session.get_one(Workspace, owner.workspace_id).name
    assert {v.workspace_name for v in whole} == {name}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_invitation_page_needs_the_owner(db: Database, role: Role) -> None:
    owner = make_tenant(db)
    make_invitations(db, owner, 1)
    member = make_member(db, owner, role)
    with acting(db, member.token) as (session, principal), pytest.raises(Forbidden):
        pages.invitation_page(session, principal, owner.workspace_id, page=1, limit=10)
