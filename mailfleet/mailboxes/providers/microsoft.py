"""Microsoft 365 mailboxes through Microsoft Graph v1.0 (integrations.md 2).

Sign-in: an Entra ID app registration with application permissions Domain.ReadWrite.All,
User.ReadWrite.All and LicenseAssignment.ReadWrite.All (admin consent), using the
client-credentials grant through msal. msal's HTTP goes through the same httpx client as the
Graph calls (one pool, one timeout, one TLS trust: httpx honours SSL_CERT_FILE). The authority is
configured, never looked up (`instance_discovery=False`), so msal only reads the tenant's OpenID
configuration once and then asks the token endpoint; tokens are cached and reused until they
expire.

Semantics of the protocol's calls here:

- `prepare_domain` adds the domain to the tenant (once), verifies it with the `MS=ms…` TXT
  record and declares it for Email. Until the TXT record is visible to Microsoft the call fails
  with a retryable error naming the record; `verification_txt` returns it for publishing, and
  `service_records` the MX/SPF/autodiscover records Microsoft wants once verified.
- `create_mailbox` creates the user, or finds the one with this address and resets its password
  and names to the ones given (a retried job leaves the mailbox usable with the password Mailfleet
  stored), then assigns the configured licence, which is what gives the user an Exchange
  mailbox. Exchange creates that mailbox asynchronously: logins can fail for some minutes after
  the call returns. The provider user id is the Entra object id.
- The TOTP secret is generated here (`pyotp.random_base32`) and only stored by Mailfleet: Graph
  v1.0 has no call that registers an authenticator secret for a user with app-only permissions
  (the beta hardware-OATH API can import one, but activating it needs a delegated admin or the
  user). MFA enrolment with this secret happens at the mailbox's first sign-in.
- `suspend` and `resume` set the user's `accountEnabled` (PATCH): a disabled account cannot sign
  in, and its mailbox and mail stay.
- `delete_mailbox` deletes the user, which releases its licence; Entra keeps it restorable for
  30 days.
- `rename_mailbox` sets the user's userPrincipalName, mail and mailNickname to the new address
  (one PATCH); the account, its id, password and licence stay, and Exchange keeps the old
  address as a secondary proxy address. Graph no longer finds the user under the old name, so a
  repeat that finds the old address gone and the new one a user takes the rename as done. A new
  address held by another object is a permanent error.
- `set_photo` uploads the profile picture (`PUT /users/{upn}/photo/$value`, the raw bytes): JPEG
  or PNG, at most 4 MB (Graph's request limit). Graph keeps a user's photo with its Exchange
  mailbox, which Exchange creates some minutes after licensing: a 404 for a user that exists is
  that delay, and retryable.
- `set_forwarding` always fails permanently with the exact Exchange Online commands: a catch-all
  (and forwarding of addresses without a mailbox) is Exchange transport configuration, which
  Graph cannot change.

Not done here, being Exchange Online settings without a Graph API (integrations.md 2.4): SMTP
AUTH per mailbox (needed by sequencers that log in with the password) and DKIM signing.

Errors: 429 (with Microsoft's Retry-After in the message; the job's backoff decides the wait),
401, 5xx, timeouts and connection failures are retryable; other 4xx are permanent with Graph's
`error.message`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import msal
import pyotp
from msal.exceptions import MsalServiceError

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
from mailfleet.mailboxes.providers.microsoft_forwarding import forwarding_instruction

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
CONNECTION = Connection(
    smtp_host="smtp.office365.com",
    smtp_port=587,
    smtp_security="starttls",
    imap_host="outlook.office365.com",
    imap_port=993,
    imap_security="ssl",
)
# Entra ID refuses these in a userPrincipalName's local part and in mailNickname.
LOCAL_PART = re.compile(r"[^@()\\\[\]\";:<>,\s]{1,64}")
# OAuth errors at the token endpoint that a later attempt can get past.
TRANSIENT_OAUTH = frozenset({"temporarily_unavailable", "server_error"})
# Graph's photo upload: the types it documents and accepts, and its 4 MB request limit.
PHOTO_TYPES = ("image/jpeg", "image/png")
PHOTO_MAX_BYTES = 4 * 1024 * 1024

Json = dict[str, Any]


class GraphError(MailboxProviderError):
    """A Graph error answer, kept whole so callers can tell "exists" or "gone" from a failure."""

    def __init__(
        self, status: int, code: str, message: str, details: list[str], retry_after: str | None
    ) -> None:
        self.status, self.code, self.graph_message, self.details = status, code, message, details
        retryable = status in (401, 408, 429) or status >= 500
        if status == 429:
            wait = f"; Retry-After {retry_after} s" if retry_after else ""
            text = f"Microsoft Graph is throttling requests (429 {code}{wait}): {message}"
        else:
            text = f"Microsoft Graph {status} {code}: {message}"
        super().__init__(text, retryable=retryable)

    @property
    def conflict(self) -> bool:
        """The object exists already (Graph says 400 ObjectConflict; 409 from some routes)."""
        return self.status == 409 or (
            self.status == 400
            and ("ObjectConflict" in self.details or "already exists" in self.graph_message)
        )


@dataclass(frozen=True)
class ServiceRecord:
    """A DNS record Microsoft 365 wants for a service of a verified domain."""

    type: str  # "MX", "TXT" or "CNAME"
    name: str
    value: str
    priority: int | None
    ttl: int
    optional: bool


class _MsalHttp:
    """msal's HttpClient shape over the provider's httpx client.

    msal would otherwise open its own `requests` session, with its own timeout and TLS trust.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(
        self, url: str, params: Any = None, headers: Any = None, **kwargs: Any
    ) -> httpx.Response:
        return self._client.get(url, params=params, headers=headers)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> httpx.Response:
        if isinstance(data, str | bytes):
            return self._client.post(url, params=params, content=data, headers=headers)
        return self._client.post(url, params=params, data=data, headers=headers)

    def close(self) -> None:
        """The provider owns the client."""


class MicrosoftProvider:
    name = "microsoft"

    def __init__(self, settings: Settings) -> None:
        self._tenant = settings.microsoft_tenant_id
        self._client_id = settings.microsoft_client_id
        self._secret = settings.microsoft_client_secret.get_secret_value()
        self._authority = f"{settings.microsoft_authority_base_url.rstrip('/')}/{self._tenant}"
        self._graph = settings.microsoft_graph_base_url.rstrip("/")
        self._sku = settings.microsoft_license_sku_id
        self._usage_location = settings.microsoft_usage_location
        self._timeout = settings.microsoft_timeout
        self._http = httpx.Client(timeout=self._timeout, headers={"User-Agent": "Mailfleet"})
        # Built on first use: msal reads the tenant's OpenID configuration when constructed,
        # and that network call belongs in a job, with its errors mapped like the others.
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    # --- MailboxProvider

    def prepare_domain(self, domain: str) -> None:
        name = _domain(domain)
        info = self._ensure_domain(name)
        if not info.get("isVerified"):
            try:
                info = self._call("POST", f"/domains/{name}/verify").json()
            except GraphError as exc:
                if exc.status != 400:
                    raise
                # 400 is Microsoft not seeing the record (yet): DNS takes its time.
                txt = self._verification_txt(name)
                raise MailboxProviderError(
                    f"Microsoft 365 cannot verify {name} yet: publish the TXT record "
                    f'"{txt}" at {name} ({exc.graph_message})',
                    retryable=True,
                ) from exc
        services = list(info.get("supportedServices") or [])
        if "Email" not in services:
            # Only a verified domain can be updated, hence after verification.
            self._call(
                "PATCH", f"/domains/{name}", json={"supportedServices": [*services, "Email"]}
            )

    def create_mailbox(self, mailbox: NewMailbox) -> ProvisionedMailbox:
        address = _address(mailbox.address)
        if not self._sku:
            raise MailboxProviderError(
                "MAILFLEET_MICROSOFT_LICENSE_SKU_ID is not set: a Microsoft 365 user without a "
                "licence has no mailbox",
                retryable=False,
            )
        if not mailbox.password:
            raise MailboxProviderError("a mailbox needs a password", retryable=False)
        names = _names(address, mailbox.first_name, mailbox.last_name)
        # Without one Microsoft refuses the licence, and its error says so.
        location = {"usageLocation": self._usage_location} if self._usage_location else {}
        profile = {"password": mailbox.password, "forceChangePasswordNextSignIn": False}
        try:
            user = self._call(
                "POST",
                "/users",
                json={
                    "accountEnabled": True,
                    **{key: value for key, value in names.items() if value is not None},
                    "mailNickname": address.partition("@")[0],
                    "userPrincipalName": address,
                    **location,
                    "passwordProfile": profile,
                },
            ).json()
            licensed = False
        except GraphError as exc:
            if not exc.conflict:
                raise
            user = self._existing_user(address, exc)
            # Made as this call would have made it: the stored password must be the one that
            # works, and licensing needs the usage location.
            self._call(
                "PATCH",
                f"/users/{user['id']}",
                json={"accountEnabled": True, **names, **location, "passwordProfile": profile},
            )
            licensed = any(
                entry.get("skuId") == self._sku for entry in user.get("assignedLicenses") or []
            )
        if not licensed:
            self._assign_license(user["id"])
        return ProvisionedMailbox(
            provider_user_id=user["id"], connection=CONNECTION, totp_secret=pyotp.random_base32()
        )

    def update_mailbox(self, address: str, *, first_name: str, last_name: str) -> None:
        key = _address(address)
        try:
            self._call("PATCH", f"/users/{_quoted(key)}", json=_names(key, first_name, last_name))
        except GraphError as exc:
            if exc.status == 404:
                raise MailboxProviderError(
                    f"no Microsoft 365 user {key} in the tenant", retryable=False
                ) from exc
            raise

    def delete_mailbox(self, address: str) -> None:
        key = _address(address)
        try:
            self._call("DELETE", f"/users/{_quoted(key)}")
        except GraphError as exc:
            if exc.status != 404:
                raise

    def suspend(self, address: str) -> None:
        self._set_enabled(_address(address), False)

    def resume(self, address: str) -> None:
        self._set_enabled(_address(address), True)

    def _set_enabled(self, key: str, enabled: bool) -> None:
        # PATCH accountEnabled (204): a disabled account cannot sign in; Exchange keeps the
        # mailbox and goes on accepting its mail. Setting the value it has is no error.
        try:
            self._call("PATCH", f"/users/{_quoted(key)}", json={"accountEnabled": enabled})
        except GraphError as exc:
            if exc.status != 404:
                raise
            if enabled:
                raise MailboxProviderError(
                    f"no Microsoft 365 user {key} in the tenant", retryable=False
                ) from exc

    def rename_mailbox(self, old_address: str, new_address: str) -> str:
        old, new = _address(old_address), _address(new_address)
        user = self._find_user(old)
        if user is None:
            # Graph resolves only the current userPrincipalName: after a rename whose answer was
            # lost, the old one is gone and the new one is the user.
            done = self._find_user(new)
            if done is None:
                raise MailboxProviderError(
                    f"no Microsoft 365 user {old} in the tenant", retryable=False
                )
            return str(done["id"])
        if old == new:
            return str(user["id"])
        try:
            self._call(
                "PATCH",
                f"/users/{user['id']}",
                json={
                    "userPrincipalName": new,
                    "mail": new,
                    "mailNickname": new.partition("@")[0],
                },
            )
        except GraphError as exc:
            if exc.conflict:
                raise MailboxProviderError(
                    f"{new} is taken in Microsoft 365 by another user, group or contact: "
                    f"{exc.graph_message}",
                    retryable=False,
                ) from exc
            if exc.status == 404:  # deleted between the two calls
                raise MailboxProviderError(
                    f"no Microsoft 365 user {old} in the tenant", retryable=False
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
            provider="Microsoft 365",
        )
        try:
            self._call(
                "PUT", f"/users/{_quoted(key)}/photo/$value", content=image, content_type=media_type
            )
        except GraphError as exc:
            if exc.status != 404:
                raise
            if self._find_user(key) is None:
                raise MailboxProviderError(
                    f"no Microsoft 365 user {key} in the tenant", retryable=False
                ) from exc
            # The user is there but its Exchange mailbox is not yet (licensing made it start).
            raise MailboxProviderError(
                f"Microsoft 365 cannot store the photo of {key} yet, its mailbox is still being "
                f"created: {exc.graph_message}",
                retryable=True,
            ) from exc

    def set_forwarding(
        self, domain: str, *, catch_all: str | None, forwards: Mapping[str, str]
    ) -> None:
        name = _domain(domain)
        raise MailboxProviderError(
            forwarding_instruction(name, catch_all, forwards), retryable=False
        )

    # --- domain records, for publishing in the domain's zone

    def verification_txt(self, domain: str) -> str:
        """The `MS=ms…` text Microsoft checks at the domain's apex (adds the domain if needed)."""
        name = _domain(domain)
        self._ensure_domain(name)
        return self._verification_txt(name)

    def _verification_txt(self, name: str) -> str:
        records = self._call("GET", f"/domains/{name}/verificationDnsRecords").json()
        for record in records.get("value") or []:
            if record.get("recordType") == "Txt" and record.get("text"):
                return str(record["text"])
        raise MailboxProviderError(
            f"Microsoft Graph offered no TXT verification record for {name}", retryable=True
        )

    def service_records(self, domain: str) -> list[ServiceRecord]:
        """MX, SPF and autodiscover records for Email (empty until `prepare_domain` succeeded)."""
        name = _domain(domain)
        answer = self._call("GET", f"/domains/{name}/serviceConfigurationRecords").json()
        records = []
        for record in answer.get("value") or []:
            kind = record.get("recordType")
            value_key = {"Mx": "mailExchange", "Txt": "text", "CName": "canonicalName"}.get(kind)
            if value_key is None:
                continue  # SRV records are for Teams and Skype for Business
            records.append(
                ServiceRecord(
                    type={"Mx": "MX", "Txt": "TXT", "CName": "CNAME"}[kind],
                    name=str(record.get("label") or name),
                    value=str(record.get(value_key) or ""),
                    priority=record.get("preference") if kind == "Mx" else None,
                    ttl=int(record.get("ttl") or 3600),
                    optional=bool(record.get("isOptional")),
                )
            )
        return records

    # --- steps

    def _ensure_domain(self, name: str) -> Json:
        try:
            return dict(self._call("GET", f"/domains/{name}").json())
        except GraphError as exc:
            if exc.status != 404:
                raise
        try:
            return dict(self._call("POST", "/domains", json={"id": name}).json())
        except GraphError as exc:
            if not exc.conflict:
                raise
            # Added in the meantime (another worker preparing the same domain).
            return dict(self._call("GET", f"/domains/{name}").json())

    def _existing_user(self, address: str, conflict: GraphError) -> Json:
        try:
            return dict(
                self._call(
                    "GET",
                    f"/users/{_quoted(address)}?$select=id,userPrincipalName,assignedLicenses",
                ).json()
            )
        except GraphError as exc:
            if exc.status == 404:
                # The conflict is with something that is not a user (a group or contact with
                # this address): only a person can sort that out.
                raise MailboxProviderError(str(conflict), retryable=False) from exc
            raise

    def _find_user(self, address: str) -> Json | None:
        """The user whose userPrincipalName this is, or None."""
        try:
            return dict(
                self._call("GET", f"/users/{_quoted(address)}?$select=id,userPrincipalName").json()
            )
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def _assign_license(self, user_id: str) -> None:
        body = {"addLicenses": [{"skuId": self._sku, "disabledPlans": []}], "removeLicenses": []}
        try:
            self._call("POST", f"/users/{user_id}/assignLicense", json=body)
        except GraphError as exc:
            if exc.status == 404:
                # A user created a moment ago may not have reached every directory replica.
                raise MailboxProviderError(
                    f"Microsoft 365 user {user_id} is not visible for licensing yet",
                    retryable=True,
                ) from exc
            if exc.status == 400 and "already" in exc.graph_message.lower():
                return
            raise

    # --- HTTP

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One Graph request with a JSON body (`json`) or a raw one (`content`, `content_type`)."""
        headers = {"Authorization": f"Bearer {self._token()}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = self._http.request(
                method, self._graph + path, json=json, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise MailboxProviderError(
                f"Microsoft Graph did not answer {method} {path.partition('?')[0]} within "
                f"{self._timeout} s",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise MailboxProviderError(
                f"cannot reach Microsoft Graph: {exc}", retryable=True
            ) from exc
        if response.is_success:
            return response
        error = _graph_error(response)
        if error.status == 401:
            # A token Graph no longer accepts (revoked, or the app's keys rolled): start again
            # from a fresh sign-in on the next attempt.
            with self._lock:
                self._app = None
        raise error

    def _token(self) -> str:
        if not (self._tenant and self._client_id and self._secret):
            raise MailboxProviderError(
                "Microsoft 365 is not configured: set MAILFLEET_MICROSOFT_TENANT_ID, "
                "MAILFLEET_MICROSOFT_CLIENT_ID and MAILFLEET_MICROSOFT_CLIENT_SECRET",
                retryable=False,
            )
        try:
            result = self._client_app().acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except httpx.HTTPError as exc:
            raise MailboxProviderError(
                f"cannot reach the Microsoft identity platform: {exc}", retryable=True
            ) from exc
        except MsalServiceError as exc:  # the token endpoint answered 5xx
            raise MailboxProviderError(f"Microsoft sign-in failed: {exc}", retryable=True) from exc
        token = result.get("access_token") if result else None
        if token:
            return str(token)
        error = (result or {}).get("error") or "no_token"
        description = (result or {}).get("error_description") or "no access token in the answer"
        raise MailboxProviderError(
            f"Microsoft sign-in failed ({error}): {description}",
            retryable=error in TRANSIENT_OAUTH,
        )

    def _client_app(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._client_id,
                        client_credential=self._secret,
                        authority=self._authority,
                        http_client=_MsalHttp(self._http),
                        instance_discovery=False,
                    )
                except (httpx.HTTPError, MsalServiceError) as exc:
                    raise MailboxProviderError(
                        f"cannot read the Microsoft tenant's configuration: {exc}", retryable=True
                    ) from exc
                except ValueError as exc:
                    # msal's wording for an unknown tenant or a malformed authority URL.
                    raise MailboxProviderError(
                        f"Microsoft tenant {self._tenant!r}: {exc}", retryable=False
                    ) from exc
            return self._app


def _graph_error(response: httpx.Response) -> GraphError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    details = [
        str(detail.get("code"))
        for detail in error.get("details") or []
        if isinstance(detail, dict) and detail.get("code")
    ]
    return GraphError(
        response.status_code,
        str(error.get("code") or response.reason_phrase),
        str(error.get("message") or response.text[:300] or response.reason_phrase),
        details,
        response.headers.get("Retry-After"),
    )


def _names(address: str, first_name: str, last_name: str) -> dict[str, str | None]:
    # Graph refuses empty strings for these; null clears a name.
    display = f"{first_name} {last_name}".strip() or address.partition("@")[0]
    return {
        "displayName": display[:256],
        "givenName": first_name.strip()[:64] or None,
        "surname": last_name.strip()[:64] or None,
    }


def _quoted(address: str) -> str:
    return quote(address, safe="@")


def _domain(value: str) -> str:
    return checked_domain(value)


def _address(value: str) -> str:
    return checked_address(value, LOCAL_PART)
