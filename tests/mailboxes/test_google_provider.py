"""GoogleProvider through google-auth and google-api-python-client against the local fake
(tests/fakes/google.py): real JWT grants, real HTTP, Google-shaped answers and errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.mailboxes.providers import google as google_provider
from mailfleet.mailboxes.providers import registry
from mailfleet.mailboxes.providers.base import MailboxProviderError, NewMailbox
from mailfleet.mailboxes.providers.google import SCOPES, GoogleApiError, GoogleProvider
from mailfleet.models import Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from tests.factories import give_slots, make_domain, make_tenant, order_body
from tests.fakes.google import TOKEN_AUDIENCE, USER_SCOPE, FakeGoogle, new_private_key
from tests.fakes.photos import sample_image
from tests.support.jobs import drain

DOMAIN = "acme.test"
USERS = r"/admin/directory/v1/users"
USER = USERS + r"/[^/]+"
PASSWORD = "Correct-horse-42!batt"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_private_key()


@pytest.fixture
def fake(key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    with FakeGoogle(private_key=key) as server:
        yield server


def settings_for(fake: FakeGoogle, **overrides: Any) -> Settings:
    return Settings(**{**fake.settings_overrides(), **overrides})


@pytest.fixture
def provider(fake: FakeGoogle) -> GoogleProvider:
    return GoogleProvider(settings_for(fake))


@pytest.fixture
def domain(fake: FakeGoogle, provider: GoogleProvider) -> str:
    """A secondary domain added and verified the way the provider does it."""
    fake.publish_txt(DOMAIN, provider.verification_token(DOMAIN))
    provider.prepare_domain(DOMAIN)
    fake.log.clear()
    return DOMAIN


def new(
    address: str, password: str = PASSWORD, first: str = "Ada", last: str = "Lovelace"
) -> NewMailbox:
    return NewMailbox(address=address, first_name=first, last_name=last, password=password)


def fails(call: Callable[[], object]) -> MailboxProviderError:
    with pytest.raises(MailboxProviderError) as caught:
        call()
    return caught.value


# --- domains


def test_prepare_domain_waits_for_the_txt_token_then_verifies(
    fake: FakeGoogle, provider: GoogleProvider
) -> None:
    error = fails(lambda: provider.prepare_domain(DOMAIN))
    token = provider.verification_token(DOMAIN)
    assert error.retryable
    assert token.startswith("google-site-verification=")
    assert token in str(error)
    assert fake.state.domains[DOMAIN]["verified"] is False
    # No user can be created on it yet.
    assert fails(lambda: provider.create_mailbox(new(f"ann@{DOMAIN}"))).retryable is False

    fake.publish_txt(DOMAIN, token)
    provider.prepare_domain(DOMAIN)

    assert fake.state.domains[DOMAIN]["verified"] is True
    assert fake.state.verified_sites[DOMAIN] == {fake.admin}
    # One token request: Google's token per admin and domain does not change.
    assert len(fake.calls("POST", r"/siteVerification/v1/token")) == 1


def test_prepare_domain_twice_adds_the_domain_once(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    provider.prepare_domain(domain)
    provider.prepare_domain(domain)

    assert [(r.method, r.status) for r in fake.api_calls()] == [("GET", 200), ("GET", 200)]
    assert list(fake.state.domains) == ["customer.test", DOMAIN]


def test_a_domain_the_workspace_already_holds_is_fine(
    fake: FakeGoogle, provider: GoogleProvider
) -> None:
    provider.prepare_domain("customer.test")  # the primary domain
    fake.add_domain("other.test", verified=False)
    fake.publish_txt("other.test", fake.token_for("other.test"))
    provider.prepare_domain("other.test")

    assert fake.calls("POST", r"/admin/directory/v1/customer/my_customer/domains") == []
    assert fake.state.domains["other.test"]["verified"] is True


# --- users


def test_create_mailbox_makes_the_user_with_a_totp_secret(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    created = provider.create_mailbox(new(f"ann@{domain}", first="Ann", last="Lee"))

    user = fake.user(f"ann@{domain}")
    assert user is not None
    assert user["name"] == {"givenName": "Ann", "familyName": "Lee", "fullName": "Ann Lee"}
    assert user["password"] == PASSWORD
    assert user["changePasswordAtNextLogin"] is False
    assert created.provider_user_id == user["id"]
    connection = created.connection
    assert (connection.smtp_host, connection.smtp_port, connection.smtp_security) == (
        "smtp.gmail.com",
        587,
        "starttls",
    )
    assert (connection.imap_host, connection.imap_port, connection.imap_security) == (
        "imap.gmail.com",
        993,
        "ssl",
    )
    secret = created.totp_secret
    assert secret is not None
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20  # 160 bits, RFC 4226's recommendation
    totp = pyotp.TOTP(secret)
    assert totp.verify(totp.now())
    [insert] = fake.calls("POST", USERS)
    assert "orgUnitPath" not in insert.body


def test_new_users_go_to_the_configured_org_unit(fake: FakeGoogle, domain: str) -> None:
    provider = GoogleProvider(settings_for(fake, google_org_unit_path="/Mailfleet"))
    provider.create_mailbox(new(f"ann@{domain}"))
    assert (fake.user(f"ann@{domain}") or {})["orgUnitPath"] == "/Mailfleet"


def test_creating_an_existing_mailbox_returns_it_with_the_new_password(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    first = provider.create_mailbox(new(f"ann@{domain}", "First-password-1"))
    again = provider.create_mailbox(new(f"ann@{domain}", "Second-password-2", first="Anne"))

    assert again.provider_user_id == first.provider_user_id
    assert fake.users_on(domain) == [f"ann@{domain}"]
    user = fake.user(f"ann@{domain}") or {}
    assert user["password"] == "Second-password-2"
    assert user["name"]["givenName"] == "Anne"
    assert [(r.method, r.status) for r in fake.api_calls()] == [
        ("POST", 200),
        ("POST", 409),
        ("GET", 200),
        ("PUT", 200),
    ]
    assert again.totp_secret is not None


def test_an_existing_user_enrolled_in_2sv_gets_no_new_secret(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    fake.add_user(f"ann@{domain}", isEnrolledIn2Sv=True)
    created = provider.create_mailbox(new(f"ann@{domain}"))
    assert created.totp_secret is None
    assert (fake.user(f"ann@{domain}") or {})["password"] == PASSWORD


def test_an_alias_of_another_user_is_never_taken_over(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    fake.add_user(f"bob@{domain}", "Bobs-own-password")
    fake.add_alias(f"bob@{domain}", f"ann@{domain}")

    error = fails(lambda: provider.create_mailbox(new(f"ann@{domain}")))
    provider.delete_mailbox(f"ann@{domain}")

    assert "alias" in str(error)
    bob = fake.user(f"bob@{domain}") or {}
    assert bob["password"] == "Bobs-own-password"
    assert fake.calls("PUT", USER) == []
    assert fake.calls("DELETE", USER) == []


def test_update_mailbox_renames_the_user(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    provider.update_mailbox(f"ann@{domain}", first_name="Annie", last_name="Smith")

    assert (fake.user(f"ann@{domain}") or {})["name"]["fullName"] == "Annie Smith"
    error = fails(lambda: provider.update_mailbox(f"zed@{domain}", first_name="Z", last_name="Z"))
    assert not error.retryable


def test_delete_mailbox_twice(fake: FakeGoogle, provider: GoogleProvider, domain: str) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    provider.delete_mailbox(f"ann@{domain}")
    provider.delete_mailbox(f"ann@{domain}")

    assert fake.users_on(domain) == []
    assert len(fake.calls("DELETE", USER)) == 1


def test_forwarding_is_an_instruction_for_the_admin_console(provider: GoogleProvider) -> None:
    error = fails(
        lambda: provider.set_forwarding(DOMAIN, catch_all="sink@elsewhere.test", forwards={})
    )
    assert not error.retryable
    assert "Default routing" in str(error)
    assert "sink@elsewhere.test" in str(error)
    assert "non-recognized addresses" in str(error)


# --- renames


def test_rename_mailbox_keeps_the_account_and_the_old_address_as_an_alias(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    created = provider.create_mailbox(new(f"ann@{domain}"))

    user_id = provider.rename_mailbox(f"ann@{domain}", f"Anna@{domain}")

    assert user_id == created.provider_user_id
    assert fake.users_on(domain) == [f"anna@{domain}"]
    user = fake.user(f"anna@{domain}") or {}
    assert user["id"] == user_id
    assert user["password"] == PASSWORD
    assert user["aliases"] == [f"ann@{domain}"]
    [rename] = fake.calls("PUT", USER)
    assert rename.path.endswith("/" + user_id)
    assert rename.body == {"primaryEmail": f"anna@{domain}"}


def test_renaming_again_finds_the_rename_done(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    created = provider.create_mailbox(new(f"ann@{domain}"))
    provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}")
    assert provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}") == created.provider_user_id

    # The old address gone altogether (its alias removed): the new one is the mailbox.
    fake.state.users[created.provider_user_id]["aliases"] = []
    assert provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}") == created.provider_user_id
    assert provider.rename_mailbox(f"anna@{domain}", f"anna@{domain}") == created.provider_user_id
    assert len(fake.calls("PUT", USER)) == 1


@pytest.mark.parametrize("holder", ["user", "alias"])
def test_renaming_to_an_address_that_is_taken_is_permanent(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, holder: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    if holder == "user":
        fake.add_user(f"bob@{domain}")
    else:
        fake.add_user(f"carl@{domain}")
        fake.add_alias(f"carl@{domain}", f"bob@{domain}")

    error = fails(lambda: provider.rename_mailbox(f"ann@{domain}", f"bob@{domain}"))

    assert not error.retryable
    assert f"bob@{domain} is taken" in str(error)
    assert "Entity already exists." in str(error)
    assert (fake.user(f"ann@{domain}") or {}).get("aliases") is None


def test_renaming_an_unknown_user_or_an_alias_is_permanent(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    error = fails(lambda: provider.rename_mailbox(f"zed@{domain}", f"zoe@{domain}"))
    assert not error.retryable
    assert f"no Google Workspace user zed@{domain}" in str(error)

    fake.add_user(f"bob@{domain}")
    fake.add_alias(f"bob@{domain}", f"ann@{domain}")
    error = fails(lambda: provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}"))
    assert not error.retryable
    assert f"alias of the Google Workspace user bob@{domain}" in str(error)
    assert fake.calls("PUT", USER) == []
    assert fake.user(f"bob@{domain}") is not None


@pytest.mark.parametrize("status", [429, 503])
def test_a_rename_google_could_not_take_is_retryable(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, status: int
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    fake.fail_next(1, status=status)
    error = fails(lambda: provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}"))
    assert error.retryable
    assert f"HTTP {status}" in str(error)

    provider.rename_mailbox(f"ann@{domain}", f"anna@{domain}")
    assert fake.users_on(domain) == [f"anna@{domain}"]


# --- photos


def test_set_photo_uploads_web_safe_base64(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    image = sample_image("PNG", 3000)

    provider.set_photo(f"ann@{domain}", image, "image/png")
    provider.set_photo(f"ann@{domain}", image, "image/png")  # the same again: same result

    assert fake.photo(f"ann@{domain}") == ("PNG", image)
    upload = fake.calls("PUT", USER + "/photos/thumbnail")[-1]
    assert upload.body["mimeType"] == "PNG"
    data = upload.body["photoData"]
    assert "+" not in data
    assert "/" not in data
    assert base64.urlsafe_b64decode(data) == image
    assert (fake.user(f"ann@{domain}") or {})["thumbnailPhotoUrl"]


@pytest.mark.parametrize(
    ("media_type", "kind"),
    [("image/jpeg", "JPEG"), ("image/gif", "GIF"), ("image/bmp", "BMP"), ("IMAGE/TIFF", "TIFF")],
)
def test_every_format_google_takes_is_sent_under_its_name(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, media_type: str, kind: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    provider.set_photo(f"ann@{domain}", sample_image(kind), media_type)
    assert (fake.photo(f"ann@{domain}") or ("", b""))[0] == kind


@pytest.mark.parametrize(
    ("size", "media_type", "words"),
    [
        (4 * 1024 * 1024 + 1, "image/png", "at most 4194304"),
        (100, "image/webp", "not 'image/webp'"),
        (0, "image/png", "empty"),
    ],
)
def test_a_photo_google_would_refuse_is_permanent_and_not_sent(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, size: int, media_type: str, words: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    image = sample_image("PNG", size) if size else b""
    error = fails(lambda: provider.set_photo(f"ann@{domain}", image, media_type))
    assert not error.retryable
    assert words in str(error)
    assert fake.calls("PUT", USER + "/photos/thumbnail") == []


@pytest.mark.parametrize(
    ("image", "media_type"),
    [
        (sample_image("PNG", 4 * 1024 * 1024 + 1), "image/png"),  # over Google's limit
        (sample_image("GIF"), "image/png"),  # not what it says it is
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),  # no image Google takes
    ],
)
def test_google_refusing_a_photo_is_permanent_with_its_message(
    fake: FakeGoogle,
    provider: GoogleProvider,
    domain: str,
    monkeypatch: pytest.MonkeyPatch,
    image: bytes,
    media_type: str,
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    # Past the provider's own check, to reach Google's.
    monkeypatch.setattr(google_provider, "PHOTO_MAX_BYTES", 8 * 1024 * 1024)
    error = fails(lambda: provider.set_photo(f"ann@{domain}", image, media_type))
    assert not error.retryable
    assert "Invalid Input: photoData (HTTP 400)" in str(error)
    assert fake.photo(f"ann@{domain}") is None


@pytest.mark.parametrize("username", ["zed", "ann"])  # nobody's, an alias of bob
def test_a_photo_for_an_unknown_user_or_an_alias_is_permanent(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, username: str
) -> None:
    fake.add_user(f"bob@{domain}")
    fake.add_alias(f"bob@{domain}", f"ann@{domain}")
    address = f"{username}@{domain}"
    error = fails(lambda: provider.set_photo(address, sample_image(), "image/png"))
    assert not error.retryable
    assert f"no Google Workspace user {address}" in str(error)
    assert fake.calls("PUT", USER + "/photos/thumbnail") == []
    assert fake.photo(f"bob@{domain}") is None


@pytest.mark.parametrize("status", [429, 503])
def test_a_photo_google_could_not_take_is_retryable(
    fake: FakeGoogle, provider: GoogleProvider, domain: str, status: int
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    fake.fail_next(1, status=status)
    error = fails(lambda: provider.set_photo(f"ann@{domain}", sample_image(), "image/png"))
    assert error.retryable

    provider.set_photo(f"ann@{domain}", sample_image(), "image/png")
    assert fake.photo(f"ann@{domain}") == ("PNG", sample_image())


# --- errors


def test_a_429_is_retryable_and_the_next_attempt_succeeds(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    fake.fail_next(1, status=429)
    error = fails(lambda: provider.create_mailbox(new(f"ann@{domain}")))
    assert error.retryable
    assert "Quota exceeded" in str(error)

    provider.create_mailbox(new(f"ann@{domain}"))
    assert fake.users_on(domain) == [f"ann@{domain}"]


def test_a_503_is_retried_inside_the_call(
    fake: FakeGoogle, domain: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # googleapiclient sleeps rand() * 2**n seconds between its retries: not in a test.
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    provider = GoogleProvider(settings_for(fake, google_num_retries=2))
    fake.fail_next(2, status=503)

    provider.create_mailbox(new(f"ann@{domain}"))

    assert [r.status for r in fake.calls("POST", USERS)] == [503, 503, 200]


def test_an_invalid_name_is_permanent_with_googles_message(
    provider: GoogleProvider, domain: str
) -> None:
    error = fails(lambda: provider.create_mailbox(new(f"ann@{domain}", first="A" * 61)))
    assert not error.retryable
    assert "Invalid Given/Family Name: GivenName" in str(error)
    assert "400" in str(error)


def test_a_subject_that_is_not_an_admin_is_permanent(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    fake.admins.clear()
    error = fails(lambda: provider.create_mailbox(new(f"ann@{domain}")))
    assert not error.retryable
    assert "Not Authorized to access this resource/api" in str(error)
    assert fake.admin in str(error)


def test_delegation_not_authorised_is_permanent(fake: FakeGoogle, provider: GoogleProvider) -> None:
    fake.delegated_scopes = {USER_SCOPE}
    error = fails(lambda: provider.prepare_domain(DOMAIN))
    assert not error.retryable
    assert "unauthorized_client" in str(error)
    assert fake.client_id in str(error)  # what the admin has to authorise


def test_a_key_the_token_endpoint_does_not_know_is_permanent(fake: FakeGoogle) -> None:
    stranger = FakeGoogle(private_key=new_private_key())
    info = stranger.service_account_info()
    info["private_key_id"] = fake.key_id
    provider = GoogleProvider(settings_for(fake, google_service_account_json=json.dumps(info)))
    error = fails(lambda: provider.prepare_domain(DOMAIN))
    assert not error.retryable
    assert "invalid_grant" in str(error)


def test_google_unreachable_is_retryable(fake: FakeGoogle, provider: GoogleProvider) -> None:
    fake.stop()
    error = fails(lambda: provider.prepare_domain(DOMAIN))
    assert error.retryable


def test_the_token_grant_impersonates_the_admin_with_the_scopes(
    fake: FakeGoogle, provider: GoogleProvider, domain: str
) -> None:
    provider.create_mailbox(new(f"ann@{domain}"))
    claims = fake.assertions[0]
    assert claims["sub"] == fake.admin
    assert claims["iss"] == fake.client_email
    assert claims["aud"] == TOKEN_AUDIENCE
    assert claims["scope"].split() == list(SCOPES)
    # One token serves every call of this thread.
    assert len(fake.assertions) == 1


def test_missing_settings_are_permanent_errors(fake: FakeGoogle) -> None:
    assert not fails(lambda: GoogleProvider(Settings())).retryable
    no_subject = settings_for(fake, google_admin_subject="")
    assert "ADMIN_SUBJECT" in str(fails(lambda: GoogleProvider(no_subject)))
    not_a_key = settings_for(fake, google_service_account_json='{"type": "authorized_user"}')
    assert "not a service account key" in str(fails(lambda: GoogleProvider(not_a_key)))


def test_the_key_can_come_from_a_file(fake: FakeGoogle, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(fake.settings_overrides()["google_service_account_json"])
    provider = GoogleProvider(
        settings_for(fake, google_service_account_json="", google_service_account_file=str(path))
    )
    provider.prepare_domain("customer.test")
    assert registry.provider_for(settings_for(fake), "google").name == "google"
    registry.clear()


# --- the provisioning job, end to end


@pytest.fixture
def google_client(fake: FakeGoogle, make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    registry.clear()
    yield make_client(
        recent_creation_rule="off", backend_google="google", **fake.settings_overrides()
    )
    registry.clear()


def test_a_google_order_provisions_itself(
    db: Database, fake: FakeGoogle, google_client: TestClient
) -> None:
    caller = make_tenant(db)
    domain = make_domain(db, caller.workspace_id)
    give_slots(db, caller.workspace_id, MailboxType.GOOGLE, 3)
    response = google_client.post(
        "/v1/mailbox-orders", json=order_body(domain, ["ann", "bob"]), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    runtime = google_client.app.state.runtime  # type: ignore[attr-defined]
    # What publishing Domain.provider_verification in the zone amounts to.
    google = registry.provider_for(runtime.settings, "google")
    assert isinstance(google, GoogleProvider)
    fake.publish_txt(domain.name, google.verification_token(domain.name))

    drain(runtime)

    with db.transaction(write=False) as session:
        mailboxes = {m.username: m for m in session.scalars(select(Mailbox))}
        order_status = session.scalars(select(MailboxOrder.status)).one()
    assert {m.status for m in mailboxes.values()} == {MailboxStatus.ACTIVE}
    assert order_status == OrderStatus.COMPLETED
    assert fake.users_on(domain.name) == [f"ann@{domain.name}", f"bob@{domain.name}"]
    ann = mailboxes["ann"]
    assert ann.provider_user_id == (fake.user(ann.address) or {})["id"]
    creds = google_client.get(f"/v1/mailboxes/{ann.id}/credentials", headers=caller.headers)
    assert creds.status_code == 200, creds.text
    body = creds.json()
    assert body["password"] == (fake.user(ann.address) or {})["password"]
    assert (body["smtp_host"], body["smtp_port"], body["imap_host"]) == (
        "smtp.gmail.com",
        587,
        "imap.gmail.com",
    )
    assert body["totp_secret"]
    assert pyotp.TOTP(body["totp_secret"]).now()


@pytest.mark.parametrize(
    ("status", "reason", "message", "retryable"),
    [
        (429, "rateLimitExceeded", "Quota exceeded", True),
        (503, "backendError", "The service is currently unavailable.", True),
        (403, "userRateLimitExceeded", "User Rate Limit Exceeded", True),
        (403, "forbidden", "Not Authorized to access this resource/api", False),
        (400, "invalid", "User creation is not complete.", True),  # users.insert's docs
        (412, "conditionNotMet", "Precondition Failed", False),
        (404, "notFound", "Resource Not Found: userKey", False),
    ],
)
def test_which_google_errors_are_retryable(
    status: int, reason: str, message: str, retryable: bool
) -> None:
    error = GoogleApiError(f"x: {message}", status=status, reasons=frozenset({reason}))
    assert error.retryable is retryable
