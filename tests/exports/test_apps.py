"""The app clients against their fakes, with no database: what each sends, and how each
error of the app comes back (the app's own message, retryable or not, Retry-After)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from mailfleet.config import Settings
from mailfleet.exports import removal
from mailfleet.exports.apps.instantly import Instantly
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    ExportSettings,
    MailboxCredential,
)
from mailfleet.exports.apps.smartlead import Smartlead
from mailfleet.models import ExportApp, MailboxType
from tests.fakes.sequencers.instantly import REQUIRED as INSTANTLY_REQUIRED
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.fakes.sequencers.smartlead import REQUIRED as SMARTLEAD_REQUIRED
from tests.fakes.sequencers.smartlead import SmartleadFake

MAILBOX = MailboxCredential(
    email="ada@acme.test",
    first_name="Ada",
    last_name="Stone",
    mailbox_type=MailboxType.MICROSOFT,
    password="Pw-1",
    smtp_host="smtp.office365.com",
    smtp_port=587,
    imap_host="outlook.office365.com",
    imap_port=993,
)
KEY = AppAccount({"api_key": "good-key"})


def _settings(instantly: InstantlyFake, smartlead: SmartleadFake) -> Settings:
    return Settings(
        export_instantly_base_url=instantly.base_url,
        export_smartlead_base_url=smartlead.base_url,
    )


def test_instantly_gets_every_required_field_with_its_type_and_the_microsoft_code(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Instantly(_settings(instantly, smartlead)).connect(KEY)
    pushed = connection.push(MAILBOX, ExportSettings(warmup_enabled=True))
    assert (pushed.outcome, pushed.remote_id) == ("CREATED", "ada@acme.test")
    sent = instantly.calls("POST", "/accounts")[0].body
    for name, kind in INSTANTLY_REQUIRED.items():
        assert isinstance(sent[name], kind), name
    assert sent["provider_code"] == 3
    assert instantly.accounts["ada@acme.test"]["warmup_status"] == 1
    again = connection.push(MAILBOX, ExportSettings(daily_limit=12))
    assert again.outcome == "UPDATED"
    assert [r.status for r in instantly.calls("POST", "/accounts")] == [200, 409]
    assert instantly.accounts["ada@acme.test"]["daily_limit"] == 12
    connection.close()


def test_smartlead_gets_every_required_field_with_its_type(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Smartlead(_settings(instantly, smartlead)).connect(KEY)
    pushed = connection.push(MAILBOX, ExportSettings())
    sent = smartlead.calls("POST", "/email-accounts/save")[0].body
    for name, kind in SMARTLEAD_REQUIRED.items():
        assert isinstance(sent[name], kind), name
    assert "id" not in sent
    assert connection.push(MAILBOX, ExportSettings()).remote_id == pushed.remote_id
    assert smartlead.calls("POST", "/email-accounts/save")[1].body["id"] == int(pushed.remote_id)
    connection.close()


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable", "wait"),
    [
        (429, "7", True, 7.0),
        (429, None, True, None),
        (503, None, True, None),
        (500, "2", True, 2.0),
    ],
)
def test_retryable_answers_carry_retry_after(
    instantly: InstantlyFake,
    smartlead: SmartleadFake,
    status: int,
    retry_after: str | None,
    retryable: bool,
    wait: float | None,
) -> None:
    for sequencer, fake in ((Instantly, instantly), (Smartlead, smartlead)):
        fake.fail_next(status, retry_after=retry_after)
        connection = sequencer(_settings(instantly, smartlead)).connect(KEY)
        with pytest.raises(AppError) as caught:
            connection.push(MAILBOX, ExportSettings())
        assert caught.value.status == status
        assert caught.value.retryable is retryable
        assert caught.value.retry_after == wait
        connection.close()


def test_a_bad_key_is_permanent_with_the_apps_message(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    bad = AppAccount({"api_key": "bad"})
    for sequencer, message in (
        (Instantly, "401: Invalid API key"),
        (Smartlead, "401: Invalid API Key"),
    ):
        connection = sequencer(_settings(instantly, smartlead)).connect(bad)
        with pytest.raises(AppError) as caught:
            connection.push(MAILBOX, ExportSettings())
        assert (caught.value.message, caught.value.retryable) == (message, False)
        connection.close()


def test_instantly_removes_a_held_account_by_its_email(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Instantly(_settings(instantly, smartlead)).connect(KEY)
    connection.push(MAILBOX, ExportSettings())
    assert connection.remove("Ada@acme.test") is True
    assert instantly.deleted == ["ada@acme.test"]
    assert "ada@acme.test" not in instantly.accounts
    [call] = instantly.calls("DELETE", "/accounts/.+")
    assert (call.path, call.status) == ("/accounts/Ada@acme.test", 200)
    # Gone: a second removal finds nothing to delete.
    assert connection.remove("ada@acme.test") is False
    connection.close()


def test_instantly_answers_false_for_an_account_it_does_not_hold(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Instantly(_settings(instantly, smartlead)).connect(KEY)
    assert connection.remove("nobody@acme.test") is False
    assert [r.status for r in instantly.calls("DELETE", "/accounts/.+")] == [404]
    assert instantly.deleted == []
    connection.close()


@pytest.mark.parametrize(("status", "retry_after", "wait"), [(429, "3", 3.0), (503, None, None)])
def test_instantly_removal_is_retryable_on_429_and_5xx_then_succeeds(
    instantly: InstantlyFake,
    smartlead: SmartleadFake,
    status: int,
    retry_after: str | None,
    wait: float | None,
) -> None:
    connection = Instantly(_settings(instantly, smartlead)).connect(KEY)
    connection.push(MAILBOX, ExportSettings())
    instantly.fail_next(status, retry_after=retry_after)
    with pytest.raises(AppError) as caught:
        connection.remove(MAILBOX.email)
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    assert MAILBOX.email in instantly.accounts  # the refused call deleted nothing
    assert connection.remove(MAILBOX.email) is True  # the retry
    assert instantly.deleted == [MAILBOX.email]
    connection.close()


def test_instantly_removal_with_a_bad_key_is_permanent(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    instantly.accounts["ada@acme.test"] = {"email": "ada@acme.test"}
    connection = Instantly(_settings(instantly, smartlead)).connect(AppAccount({"api_key": "bad"}))
    with pytest.raises(AppError) as caught:
        connection.remove("ada@acme.test")
    assert (caught.value.message, caught.value.retryable) == ("401: Invalid API key", False)
    assert "ada@acme.test" in instantly.accounts
    connection.close()


def test_smartlead_removes_every_account_it_holds_for_the_address_by_id(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Smartlead(_settings(instantly, smartlead)).connect(KEY)
    first = int(connection.push(MAILBOX, ExportSettings()).remote_id)
    # A second account for the address, as a client that did not look first would have made.
    twin = {**smartlead.accounts[first], "id": 2001}
    smartlead.accounts[2001] = twin
    other = connection.push(replace(MAILBOX, email="bob@acme.test"), ExportSettings())
    fresh = Smartlead(_settings(instantly, smartlead)).connect(KEY)
    assert fresh.remove("ADA@acme.test") is True
    assert sorted(smartlead.deleted) == [first, 2001]
    assert smartlead.addresses() == ["bob@acme.test"]
    assert [r.status for r in smartlead.calls("DELETE", r"/email-accounts/\d+")] == [200, 200]
    assert smartlead.calls("DELETE", r"/email-accounts/\d+")[0].query == {"api_key": "good-key"}
    assert fresh.remove("ada@acme.test") is False  # gone: nothing left to delete
    assert int(other.remote_id) in smartlead.accounts
    connection.close()
    fresh.close()


def test_smartlead_answers_false_for_an_address_it_does_not_hold(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Smartlead(_settings(instantly, smartlead)).connect(KEY)
    assert connection.remove("nobody@acme.test") is False
    assert smartlead.calls("DELETE", ".*") == []
    # Deleted at Smartlead after the list was read: its 404 is "not held" too.
    connection.push(MAILBOX, ExportSettings())
    smartlead.accounts.clear()
    assert connection.remove(MAILBOX.email) is False
    assert [r.status for r in smartlead.calls("DELETE", r"/email-accounts/\d+")] == [404]
    connection.close()


@pytest.mark.parametrize(("status", "retry_after", "wait"), [(429, "4", 4.0), (500, None, None)])
def test_smartlead_removal_is_retryable_on_429_and_5xx_then_succeeds(
    instantly: InstantlyFake,
    smartlead: SmartleadFake,
    status: int,
    retry_after: str | None,
    wait: float | None,
) -> None:
    connection = Smartlead(_settings(instantly, smartlead)).connect(KEY)
    remote = int(connection.push(MAILBOX, ExportSettings()).remote_id)
    smartlead.fail_next(status, retry_after=retry_after)
    with pytest.raises(AppError) as caught:
        connection.remove(MAILBOX.email)
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert caught.value.retry_after == wait
    assert remote in smartlead.accounts
    assert connection.remove(MAILBOX.email) is True  # the retry
    assert smartlead.deleted == [remote]
    connection.close()


def test_smartlead_removal_with_a_bad_key_is_permanent(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    connection = Smartlead(_settings(instantly, smartlead)).connect(AppAccount({"api_key": "x"}))
    with pytest.raises(AppError) as caught:
        connection.remove(MAILBOX.email)
    assert (caught.value.message, caught.value.retryable) == ("401: Invalid API Key", False)
    connection.close()


@pytest.mark.parametrize("app", [ExportApp.INSTANTLY, ExportApp.SMARTLEAD])
def test_a_429_then_success_is_retried_by_the_removal_helper(
    instantly: InstantlyFake, smartlead: SmartleadFake, app: ExportApp
) -> None:
    """Through `exports.removal`, the retry loop a domain swap's removals go through."""
    settings = Settings(
        export_instantly_base_url=instantly.base_url,
        export_smartlead_base_url=smartlead.base_url,
        export_backoff_seconds=[0.0],
        export_max_retries=2,
    )
    sequencer = Instantly(settings) if app == ExportApp.INSTANTLY else Smartlead(settings)
    connection = sequencer.connect(KEY)
    connection.push(MAILBOX, ExportSettings())
    connection.close()
    fake = instantly if app == ExportApp.INSTANTLY else smartlead
    fake.fail_next(429, retry_after="0", times=2)
    outcomes = removal.remove_accounts(settings, app, KEY, [MAILBOX.email, "nobody@acme.test"])
    assert [(o.email, o.outcome) for o in outcomes] == [
        (MAILBOX.email, removal.Removed.REMOVED),
        ("nobody@acme.test", removal.Removed.ABSENT),
    ]
    assert [r.status for r in fake.log if r.status == 429] == [429, 429]
    bad = AppAccount({"api_key": "bad"})
    [refused] = removal.remove_accounts(settings, app, bad, ["bob@acme.test"])
    assert refused.outcome == removal.Removed.FAILED
    assert (refused.reason or "").startswith("401: ")


def test_the_fakes_refuse_a_missing_or_mistyped_field(
    instantly: InstantlyFake, smartlead: SmartleadFake
) -> None:
    """What the clients are checked against: a fake that would accept anything proves nothing."""
    body = {name: "x" for name in INSTANTLY_REQUIRED} | {"provider_code": 1, "imap_port": 993}
    answer = httpx.post(
        f"{instantly.base_url}/accounts", json=body, headers={"Authorization": "Bearer good-key"}
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "body must have required property 'smtp_port'"
    lead = {name: "x" for name in SMARTLEAD_REQUIRED} | {"smtp_port": 1, "imap_port": 2}
    answer = httpx.post(
        f"{smartlead.base_url}/email-accounts/save", params={"api_key": "good-key"}, json=lead
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == '"warmup_enabled" is required'
