"""exports.numbers: jobs numbered per workspace in creation order, found by number and never
across workspaces; accounts paged by number; the account an export or update must name."""

from __future__ import annotations

import pytest

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exports import accounts, numbers
from mailfleet.exports import service as export_service
from mailfleet.exports.errors import ExportAccountRequired, ExportNotFound, InvalidExportAccount
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import ExportApp
from tests.conftest import TEST_KEY
from tests.exports.conftest import ready_mailboxes
from tests.factories import Caller

BOX = SecretBox([TEST_KEY])


def _account(db: Database, caller: Caller, app: ExportApp, label: str) -> accounts.AccountView:
    with db.transaction() as session:
        return accounts.create(
            session,
            BOX,
            caller.workspace_id,
            app=app,
            label=label,
            credentials={"api_key": "good-key"},
            instance_url=None,
            config={},
        )


def _job(db: Database, settings: Settings, caller: Caller) -> export_service.JobView:
    mailbox = ready_mailboxes(db, caller.workspace_id, 1)
    with db.transaction() as session:
        return export_service.create(
            session,
            settings,
            caller.workspace_id,
            app=ExportApp.INSTANTLY,
            account_id=None,
            mailbox_ids=mailbox,
            where=None,
            exclude_ids=[],
            export_settings={},
            actor="test",
        )


def test_jobs_are_numbered_per_workspace_in_creation_order(
    db: Database, settings: Settings, owner: Caller, other: Caller
) -> None:
    _account(db, owner, ExportApp.INSTANTLY, "main")
    _account(db, other, ExportApp.INSTANTLY, "theirs")
    mine = [_job(db, settings, owner) for _ in range(3)]
    theirs = _job(db, settings, other)

    with db.transaction() as session:
        assert [numbers.number_of(session, owner.workspace_id, j.id) for j in mine] == [1, 2, 3]
        assert numbers.number_of(session, other.workspace_id, theirs.id) == 1
        assert [numbers.get_by_number(session, owner.workspace_id, n).id for n in (1, 2, 3)] == [
            j.id for j in mine
        ]
        assert numbers.get_by_number(session, other.workspace_id, 1).id == theirs.id
        for missing in (0, 2, 4):
            with pytest.raises(ExportNotFound):
                numbers.get_by_number(session, other.workspace_id, missing)


def test_accounts_page_by_number_for_one_app(db: Database, owner: Caller, other: Caller) -> None:
    for label in ("a", "b", "c"):
        _account(db, owner, ExportApp.SMARTLEAD, label)
    _account(db, owner, ExportApp.INSTANTLY, "i")
    _account(db, other, ExportApp.SMARTLEAD, "theirs")

    with db.transaction() as session:
        first, total = numbers.accounts_page(
            session, BOX, owner.workspace_id, app=ExportApp.SMARTLEAD, page=1, limit=2
        )
        last, _ = numbers.accounts_page(
            session, BOX, owner.workspace_id, app=ExportApp.SMARTLEAD, page=2, limit=2
        )

    assert total == 3
    assert [v.label for v in first + last] == ["a", "b", "c"]


def test_the_account_to_use_is_the_named_one_or_the_only_one(
    db: Database, owner: Caller, other: Caller
) -> None:
    only = _account(db, owner, ExportApp.INSTANTLY, "only")
    first = _account(db, owner, ExportApp.SMARTLEAD, "one")
    _account(db, owner, ExportApp.SMARTLEAD, "two")
    theirs = _account(db, other, ExportApp.INSTANTLY, "theirs")

    with db.transaction() as session:
        ws = owner.workspace_id
        assert (
            numbers.resolve_account(session, ws, ExportApp.INSTANTLY, None, field="f").id == only.id
        )
        named = numbers.resolve_account(session, ws, ExportApp.SMARTLEAD, first.id, field="f")
        assert named.id == first.id
        with pytest.raises(ExportAccountRequired) as several:
            numbers.resolve_account(session, ws, ExportApp.SMARTLEAD, None, field="accountId")
        assert several.value.field == "accountId"
        with pytest.raises(ExportAccountRequired):
            numbers.resolve_account(session, ws, ExportApp.LEMLIST, None, field="f")
        with pytest.raises(InvalidExportAccount):
            numbers.resolve_account(session, ws, ExportApp.SMARTLEAD, only.id, field="f")
        with pytest.raises(accounts.ExportAccountNotFound):
            numbers.resolve_account(session, ws, ExportApp.INSTANTLY, theirs.id, field="f")


def test_apps_by_name_and_how_they_sign_in() -> None:
    assert numbers.app_named(" instantly ") is ExportApp.INSTANTLY
    assert numbers.app_named("REPLY_IO") is None
    assert numbers.APPS == (
        "INSTANTLY", "SMARTLEAD", "EMAILBISON", "LEMLIST", "PLUSVIBE", "REACHINBOX",
    )  # fmt: skip
    assert numbers.signs_in_with_login(ExportApp.REACHINBOX)
    assert not numbers.signs_in_with_login(ExportApp.INSTANTLY)
