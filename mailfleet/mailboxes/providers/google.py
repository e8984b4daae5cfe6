"""Google Workspace mailboxes through the Admin SDK Directory API (integrations.md 1).

Mailfleet acts as one super admin of the Workspace: a service account with domain-wide
delegation impersonates `google_admin_subject` (google-auth signs a JWT with `sub` = that admin
and trades it at the token endpoint for an access token). The admin authorises the service
account's client ID once, in Admin console -> Security -> Access and data control -> API
controls -> Manage Domain Wide Delegation, for exactly `SCOPES`.

Semantics of the protocol's calls here:

- `prepare_domain` adds the domain to the Workspace as a secondary domain (`domains.insert`;
  already there is fine) and has Google verify ownership through the Site Verification API:
  Google looks for the TXT token `verification_token(domain)` on the domain's apex. Until that
  record is published and visible, verification fails with a retryable error naming the token,
  and no user can be created on the domain. Mailfleet hosts the zone: whoever publishes the
  domain's records publishes this token (Domain.provider_verification).
- `create_mailbox` inserts the user with the password Mailfleet generated and
  `changePasswordAtNextLogin` off (these are infrastructure mailboxes, handed over with their
  credentials). If the address exists already (a job retried after a crash), the existing user
  is returned and its password and name are set to the ones given, so the stored credentials
  work. The provider user id is Google's immutable user id, not the address.
- The TOTP secret: Google has no API to enrol a user in 2-Step Verification (`isEnrolledIn2Sv`
  is read-only) nor to create app passwords. `create_mailbox` generates a standard authenticator
  secret (RFC 6238, SHA-1, 6 digits, 30 s: what Google's authenticator enrolment uses) and
  returns it; whoever logs in first (an operator, or browser automation) enrols 2SV with this
  secret by entering it as the "authenticator app" key, and from then on codes come from it.
  For a user already enrolled (an existing user taken over) no secret is returned: the enrolled
  one is unknown to Mailfleet, and a new one would not work.
- `suspend` and `resume` set the user's `suspended` flag (`users.update`): a suspended user
  cannot sign in anywhere (IMAP, SMTP, web) and keeps its mail and settings.
- `update_mailbox` sets the name; `delete_mailbox` deletes the user (gone already is fine).
  Both, `rename_mailbox`, `set_photo` and the take-over in `create_mailbox` first check that the
  address is the user's primary address: Google also resolves aliases as user keys, and acting
  on an alias would rename, re-password or delete somebody else's mailbox.
- `rename_mailbox` changes the user's `primaryEmail` (`users.update`); the account, its id,
  password and mail stay, and Google keeps the old address as an alias, so mail to it still
  arrives. A repeat finds the old address resolving to the user whose primary is already the new
  one and does nothing. A new address held by another user, group or alias is a permanent error.
- `set_photo` uploads the profile picture (`users.photos.update`): JPEG, PNG, GIF, BMP or TIFF up
  to 4 MB, in the web-safe base64 the API wants; Google scales it to 96x96 itself.
- `set_forwarding` always fails permanently: the Directory API has no catch-all or routing
  settings (Gmail routing lives only in the Admin console). The error says exactly what to set
  there, for the operator who is asked to do it.

Errors: 429, 5xx, quota 403s, timeouts and transport errors are retryable; after
`google_num_retries` quick retries inside the client library they go back to the job, which
backs off. Other 4xx are permanent and carry Google's own message (`error.message`).

Threads: httplib2 connections are not thread-safe, and the provider is shared by the worker's
threads, so each thread builds its own credentials, HTTP connection and API clients, once.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httplib2
import pyotp
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from mailfleet.config import Settings
from mailfleet.mailboxes.providers.base import (
    Connection,
    MailboxProviderError,
    NewMailbox,
    ProvisionedMailbox,
    checked_address,
    checked_domain,
    checked_photo,
)
from mailfleet.mailboxes.providers.google_keys import service_account_info

Json = dict[str, Any]

SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.domain",
    "https://www.googleapis.com/auth/siteverification",
)
# Password logins to Gmail need 2SV and an app password (integrations.md 1.5); these are the
# servers every client uses either way.
CONNECTION = Connection(
    smtp_host="smtp.gmail.com",
    smtp_port=587,
    smtp_security="starttls",
    imap_host="imap.gmail.com",
    imap_port=993,
    imap_security="ssl",
)
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# 403s that are quotas rather than permissions: they pass with time.
QUOTA_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)
# Google's answer to a call that follows a user's creation too closely (users.insert docs).
NOT_YET_CREATED = "user creation is not complete"
LOCAL_PART = re.compile(r"[a-z0-9._'+-]{1,64}")
# users.photos.update's mimeType values, by the media type callers give.
PHOTO_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
PHOTO_MAX_BYTES = 4 * 1024 * 1024


class GoogleApiError(MailboxProviderError):
    """An error answer from a Google API, with what callers need to treat some as expected."""

    def __init__(self, message: str, *, status: int, reasons: frozenset[str]) -> None:
        super().__init__(message, retryable=_retryable(status, reasons, message))
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True)
class _Apis:
    directory: Any  # googleapiclient Resources are built at run time from discovery documents
    site_verification: Any


class GoogleProvider:
    name = "google"

    def __init__(self, settings: Settings) -> None:
        self._info = service_account_info(settings)
        if settings.google_token_uri:
            self._info["token_uri"] = settings.google_token_uri
        self._subject = settings.google_admin_subject.strip()
        if not self._subject:
            raise MailboxProviderError(
                "the google provider needs MAILFLEET_GOOGLE_ADMIN_SUBJECT: the super admin "
                "the service account acts as",
                retryable=False,
            )
        self._customer = settings.google_customer_id or "my_customer"
        self._org_unit = settings.google_org_unit_path
        self._admin_url = settings.google_admin_api_url
        self._site_verification_url = settings.google_site_verification_api_url
        self._timeout = settings.google_timeout
        self._num_retries = settings.google_num_retries
        self._credentials()  # a broken key fails here, once, not in every thread
        self._local = threading.local()
        self._tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()

    # --- MailboxProvider ---

    def prepare_domain(self, domain: str) -> None:
        name = _domain(domain)
        state = self._workspace_domain(name)
        if state is None:
            state = self._insert_domain(name)
        if state.get("verified"):
            return
        token = self.verification_token(name)
        self._verify(name, token)
        # Site verification as this admin verifies the domain for the Workspace too; a domain
        # that still reads unverified is a delay on Google's side, worth another try later.
        state = self._workspace_domain(name) or {}
        if not state.get("verified"):
            raise MailboxProviderError(
                f"Google verified the TXT token of {name} but the Workspace does not show the "
                "domain as verified yet",
                retryable=True,
            )

    def create_mailbox(self, mailbox: NewMailbox) -> ProvisionedMailbox:
        address = _address(mailbox.address)
        body: Json = {
            "primaryEmail": address,
            "name": _name(mailbox.first_name, mailbox.last_name),
            "password": mailbox.password,
            "changePasswordAtNextLogin": False,
        }
        if self._org_unit:
            body["orgUnitPath"] = self._org_unit
        try:
            user = self._execute(
                self._apis().directory.users().insert(body=body),
                f"Google Workspace did not create {address}",
            )
        except GoogleApiError as exc:
            if exc.status != 409:
                raise
            user = self._take_over(address, mailbox)
        enrolled = bool(user.get("isEnrolledIn2Sv"))
        return ProvisionedMailbox(
            provider_user_id=str(user["id"]),
            connection=CONNECTION,
            totp_secret=None if enrolled else pyotp.random_base32(),
        )

    def update_mailbox(self, address: str, *, first_name: str, last_name: str) -> None:
        key = _address(address)
        user = self._own_user(key)
        if user is None:
            raise MailboxProviderError(f"no Google Workspace user {key}", retryable=False)
        self._execute(
            self._apis()
            .directory.users()
            .update(userKey=user["id"], body={"name": _name(first_name, last_name)}),
            f"Google Workspace did not rename {key}",
        )

    def delete_mailbox(self, address: str) -> None:
        key = _address(address)
        user = self._own_user(key)
        if user is None:
            return
        try:
            self._execute(
                self._apis().directory.users().delete(userKey=user["id"]),
                f"Google Workspace did not delete {key}",
            )
        except GoogleApiError as exc:
            if exc.status != 404:  # deleted meanwhile: what was asked
                raise

    def suspend(self, address: str) -> None:
        self._set_suspended(_address(address), True)

    def resume(self, address: str) -> None:
        self._set_suspended(_address(address), False)

    def _set_suspended(self, key: str, suspended: bool) -> None:
        # users.update {"suspended": ...}: a suspended user cannot sign in, and keeps its mail.
        user = self._own_user(key)
        if user is None:
            if suspended:
                return  # no account, no login: what was asked
            raise MailboxProviderError(f"no Google Workspace user {key}", retryable=False)
        if bool(user.get("suspended")) == suspended:
            return
        self._execute(
            self._apis()
            .directory.users()
            .update(userKey=user["id"], body={"suspended": suspended}),
            f"Google Workspace did not {'suspend' if suspended else 'restore'} {key}",
        )

    def rename_mailbox(self, old_address: str, new_address: str) -> str:
        old, new = _address(old_address), _address(new_address)
        user = self._lookup(old)
        if user is None:
            # Google keeps a renamed user's old address as an alias, so a finished rename is
            # normally recognised below; this covers that alias having been removed since.
            done = self._own_user(new)
            if done is None:
                raise MailboxProviderError(f"no Google Workspace user {old}", retryable=False)
            return str(done["id"])
        primary = str(user.get("primaryEmail", "")).lower()
        if primary == new:
            return str(user["id"])  # renamed already (or old == new)
        if primary != old:
            raise MailboxProviderError(
                f"{old} is an alias of the Google Workspace user {primary}, not a mailbox of its "
                "own; renaming it would rename that user",
                retryable=False,
            )
        try:
            self._execute(
                self._apis()
                .directory.users()
                .update(userKey=user["id"], body={"primaryEmail": new}),
                f"Google Workspace did not rename {old} to {new}",
            )
        except GoogleApiError as exc:
            if exc.status == 409:
                raise MailboxProviderError(
                    f"{new} is taken in Google Workspace by another user, a group or an alias: "
                    f"{exc}",
                    retryable=False,
                ) from exc
            if exc.status == 404:  # deleted between the two calls
                raise MailboxProviderError(
                    f"no Google Workspace user {old}", retryable=False
                ) from exc
            raise
        return str(user["id"])

    def set_photo(self, address: str, image: bytes, content_type: str) -> None:
        key = _address(address)
        media_type = checked_photo(
            image,
            content_type,
            accepted=PHOTO_TYPES,
            max_bytes=PHOTO_MAX_BYTES,
            provider="Google Workspace",
        )
        user = self._own_user(key)
        if user is None:
            raise MailboxProviderError(f"no Google Workspace user {key}", retryable=False)
        # Web-safe base64 ('-' and '_' for '+' and '/'), with the usual '=' padding as widely
        # used tools (GAM) send it; the reference also mentions '*' and '.' for padding. Width
        # and height are optional: Google scales every photo to 96x96 anyway.
        body = {
            "photoData": base64.urlsafe_b64encode(image).decode("ascii"),
            "mimeType": PHOTO_TYPES[media_type],
        }
        self._execute(
            self._apis().directory.users().photos().update(userKey=user["id"], body=body),
            f"Google Workspace did not set the photo of {key}",
        )

    def set_forwarding(
        self, domain: str, *, catch_all: str | None, forwards: Mapping[str, str]
    ) -> None:
        name = _domain(domain)
        place = "Admin console -> Apps -> Google Workspace -> Gmail -> Default routing"
        steps = []
        if catch_all:
            steps.append(
                f"in {place}, add a setting for {name}: envelope recipients to match "
                f"'Pattern match' .*@{re.escape(name)}, action 'Change envelope recipient' -> "
                f"'Replace recipient' {catch_all}, and under Options 'Perform this action "
                "only on non-recognized addresses'"
            )
        else:
            steps.append(f"in {place}, remove the catch-all setting for {name} if there is one")
        for local, target in sorted(forwards.items()):
            steps.append(
                f"forward {local}@{name} to {target} (a Default routing setting with "
                f"'Single recipient' {local}@{name}, or the user's own Gmail forwarding)"
            )
        raise MailboxProviderError(
            "Google Workspace has no API for routing mail; " + "; ".join(steps) + ".",
            retryable=False,
        )

    # --- domain verification ---

    def verification_token(self, domain: str) -> str:
        """The TXT value Google wants on `domain`'s apex, `google-site-verification=...`.

        Google issues one token per (verifying admin, domain), the same on every call, so it is
        kept once fetched.
        """
        name = _domain(domain)
        with self._tokens_lock:
            token = self._tokens.get(name)
        if token is not None:
            return token
        answer = self._execute(
            self._apis()
            .site_verification.webResource()
            .getToken(
                body={
                    "site": {"type": "INET_DOMAIN", "identifier": name},
                    "verificationMethod": "DNS_TXT",
                }
            ),
            f"Google did not issue a verification token for {name}",
        )
        token = str(answer.get("token") or "")
        if not token:
            raise MailboxProviderError(
                f"Google's verification token answer for {name} has no token", retryable=True
            )
        with self._tokens_lock:
            self._tokens[name] = token
        return token

    def _verify(self, name: str, token: str) -> None:
        try:
            self._execute(
                self._apis()
                .site_verification.webResource()
                .insert(
                    verificationMethod="DNS_TXT",
                    body={"site": {"type": "INET_DOMAIN", "identifier": name}},
                ),
                f"Google did not verify {name}",
            )
        except GoogleApiError as exc:
            # 400 badRequest is Google's "token not found": DNS not published or not visible
            # yet. Its documented remedy is to call again with a backoff.
            if exc.status != 400 or "invalidParameter" in exc.reasons:
                raise
            raise MailboxProviderError(
                f"Google has not found the TXT record {token!r} on {name} yet ({exc})",
                retryable=True,
            ) from exc

    def _workspace_domain(self, name: str) -> Json | None:
        try:
            return self._execute(
                self._apis().directory.domains().get(customer=self._customer, domainName=name),
                f"Google Workspace did not look up the domain {name}",
            )
        except GoogleApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _insert_domain(self, name: str) -> Json:
        try:
            return self._execute(
                self._apis()
                .directory.domains()
                .insert(customer=self._customer, body={"domainName": name}),
                f"Google Workspace did not add the domain {name}",
            )
        except GoogleApiError as exc:
            if exc.status != 409:
                raise
        # Added meanwhile (another worker, or an earlier attempt whose answer was lost).
        return self._workspace_domain(name) or {}

    # --- users ---

    def _own_user(self, address: str) -> Json | None:
        """The user whose primary address this is; None if there is none (or only an alias)."""
        user = self._lookup(address)
        if user is None or str(user.get("primaryEmail", "")).lower() != address:
            return None
        return user

    def _lookup(self, address: str) -> Json | None:
        """The user Google resolves `address` to: by primary address or by alias."""
        try:
            return self._execute(
                self._apis().directory.users().get(userKey=address),
                f"Google Workspace did not look up {address}",
            )
        except GoogleApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _take_over(self, address: str, mailbox: NewMailbox) -> Json:
        """The existing user at `address`, with the password and name Mailfleet holds."""
        user = self._own_user(address)
        if user is None:
            # 409 without a user of ours at the address: an alias of another user, or a
            # conflicting account outside this Workspace (an unmanaged account, a user deleted
            # moments ago). Either can be resolved by an admin, and a deletion settles by itself.
            raise MailboxProviderError(
                f"{address} is taken in Google by an alias or an account outside this Workspace "
                "(Admin console -> Account -> Domains -> Find and add unmanaged users)",
                retryable=True,
            )
        return self._execute(
            self._apis()
            .directory.users()
            .update(
                userKey=user["id"],
                body={
                    "password": mailbox.password,
                    "changePasswordAtNextLogin": False,
                    "name": _name(mailbox.first_name, mailbox.last_name),
                },
            ),
            f"Google Workspace did not update the existing user {address}",
        )

    # --- plumbing ---

    def _credentials(self) -> service_account.Credentials:
        try:
            return service_account.Credentials.from_service_account_info(
                self._info, scopes=list(SCOPES), subject=self._subject
            )
        except (ValueError, GoogleAuthError) as exc:
            raise MailboxProviderError(
                f"the Google service account key is not usable: {exc}", retryable=False
            ) from exc

    def _apis(self) -> _Apis:
        apis: _Apis | None = getattr(self._local, "apis", None)
        if apis is None:
            # The timeout applies to token requests too: they go through the same connection.
            http = AuthorizedHttp(self._credentials(), http=httplib2.Http(timeout=self._timeout))
            apis = _Apis(
                directory=_client("admin", "directory_v1", http, self._admin_url),
                site_verification=_client(
                    "siteVerification", "v1", http, self._site_verification_url
                ),
            )
            self._local.apis = apis
        return apis

    def _execute(self, request: Any, action: str) -> Json:
        with self._errors(action):
            answer = request.execute(num_retries=self._num_retries)
        return answer if isinstance(answer, dict) else {}

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except HttpError as exc:
            raise self._api_error(exc, action) from exc
        except RefreshError as exc:
            raise MailboxProviderError(
                f"{action}: Google refused the service account a token for {self._subject}: "
                f"{exc.args[0] if exc.args else exc}. The client ID "
                f"{self._info.get('client_id', '?')} needs domain-wide delegation for the scopes "
                f"{','.join(SCOPES)} (Admin console -> Security -> Access and data control -> "
                "API controls -> Manage Domain Wide Delegation), and the subject must be an "
                "active user of the Workspace",
                retryable=bool(exc.retryable),
            ) from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
            # Timeouts (TimeoutError is an OSError), refused or reset connections, DNS failures.
            raise MailboxProviderError(
                f"{action}: Google did not answer: {exc!r}", retryable=True
            ) from exc

    def _api_error(self, exc: HttpError, action: str) -> GoogleApiError:
        status = int(exc.resp.status)
        message, reasons = _error_body(exc)
        text = f"{action}: {message} (HTTP {status})"
        if status == 403 and not reasons & QUOTA_REASONS:
            text += (
                f". {self._subject} must be a super admin of the Workspace, and the service "
                f"account's client ID authorised for the scopes {','.join(SCOPES)}"
            )
        return GoogleApiError(text, status=status, reasons=reasons)


def _client(service: str, version: str, http: AuthorizedHttp, endpoint: str) -> Any:
    # static_discovery: the discovery documents shipped in the wheel, no request to Google's
    # discovery service. api_endpoint replaces the whole base URL (rootUrl + servicePath).
    return build(
        service,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": endpoint},
    )


def _error_body(exc: HttpError) -> tuple[str, frozenset[str]]:
    """Google's `error.message` and the `errors[].reason`s, or what the response has instead."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return (exc.reason or str(exc.resp.reason or "no message")), frozenset()
    if not isinstance(error, dict):
        # The OAuth style {"error": "code", "error_description": "..."}.
        return str(error), frozenset()
    reasons = frozenset(
        str(item.get("reason"))
        for item in error.get("errors") or []
        if isinstance(item, dict) and item.get("reason")
    )
    return str(error.get("message") or exc.reason or "no message"), reasons


def _retryable(status: int, reasons: frozenset[str], message: str) -> bool:
    if status in RETRYABLE_STATUSES:
        return True
    if status == 403 and reasons & QUOTA_REASONS:
        return True
    return NOT_YET_CREATED in message.lower()


def _name(first_name: str, last_name: str) -> Json:
    # Google needs both; Mailfleet's schema requires them too, so stripping is all there is.
    return {"givenName": first_name.strip(), "familyName": last_name.strip()}


def _domain(value: str) -> str:
    return checked_domain(value)


def _address(value: str) -> str:
    return checked_address(value, LOCAL_PART)
