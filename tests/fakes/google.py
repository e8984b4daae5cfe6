"""A local fake of the Google endpoints Mailfleet's Google Workspace provider calls.

A real HTTP server on 127.0.0.1 in a thread, so google-auth and google-api-python-client run
unchanged against it (integrations.md 1.6):

- `POST /token`: the JWT bearer grant. The assertion must be signed by the fake's service-account
  key, issued by its client email, with `aud` Google's token URI (google-auth sends that whatever
  token_uri says), live at most an hour, `sub` a user of the Workspace, and only scopes delegated
  to the client ID (`delegated_scopes`); else `invalid_grant` or `unauthorized_client`.
- Directory API: users insert/get/update/patch/delete (a new `primaryEmail` renames the user)
  and `photos/thumbnail` update, in tests/fakes/google_users.py with their validation and its
  assumptions; domains insert/get. Errors in Google's envelope with its messages (409 "Entity
  already exists.", 404 "Resource Not Found: userKey", 403 "Not Authorized to access this
  resource/api" when the subject is no admin; tests/fakes/google_errors.py).
- Site Verification API: `token` (one deterministic token per verifying user and domain) and
  `webResource` insert, which looks the token up in `txt_records` (or `txt_lookup`, e.g. a real
  DNS server) and answers 400 badRequest "The necessary verification token could not be found on
  your site." without it; success marks the Workspace's domain verified.

API calls need a bearer token from `/token` (401) with the scope the call needs (403). Tests can
queue failures (`fail_next`: 429 or 5xx) and read `log` (every request) and `assertions` (the
decoded JWT claims of every grant).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from tests.fakes.google_errors import Answer, Json, api_error, not_authorized, oauth_error
from tests.fakes.google_users import UserRoutes
from tests.fakes.server import FakeServer

TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
USER_SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
DOMAIN_SCOPE = "https://www.googleapis.com/auth/admin.directory.domain"
SITE_SCOPE = "https://www.googleapis.com/auth/siteverification"
DIRECTORY = "/admin/directory/v1"
SITE = "/siteVerification/v1"
VERIFICATION_PREFIX = "google-site-verification="
DOMAIN_NAME = re.compile(r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,63}")
# Google's messages, word for word where known.
SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)
NOT_DELEGATED = (
    "Client is unauthorized to retrieve access tokens using this method, or client not "
    "authorized for any of the scopes requested."
)
QUOTA_EXCEEDED = (
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of "
    "service 'admin.googleapis.com'."
)
TOKEN_NOT_FOUND = "The necessary verification token could not be found on your site."


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    subject: str | None = None


@dataclass
class Grant:
    subject: str
    scopes: frozenset[str]


@dataclass
class _State:
    """What the fake Workspace holds; the FakeGoogle reads and changes it under its lock."""

    users: dict[str, Json] = field(default_factory=dict)  # id -> user resource
    passwords: dict[str, str] = field(default_factory=dict)  # id -> password as last set
    domains: dict[str, Json] = field(default_factory=dict)  # name -> domain resource
    verified_sites: dict[str, set[str]] = field(default_factory=dict)  # domain -> owners
    txt_records: dict[str, list[str]] = field(default_factory=dict)  # domain -> TXT values
    photos: dict[str, Json] = field(default_factory=dict)  # user id -> mimeType and data


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeGoogle(UserRoutes, FakeServer):
    """The fake: `start()` it (or use it as a context manager), then build settings from
    `settings_overrides()`; `admin` is the super admin the service account impersonates."""

    def __init__(
        self,
        *,
        private_key: rsa.RSAPrivateKey | None = None,
        admin: str = "admin@customer.test",
        primary_domain: str = "customer.test",
        client_email: str = "mailfleet@mailfleet-test.iam.gserviceaccount.com",
        client_id: str = "104200000000000000001",
    ) -> None:
        self._key = private_key or new_private_key()
        self._public_pem = (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.key_id = "fake-key-" + secrets.token_hex(4)
        self.client_email = client_email
        self.client_id = client_id
        self.admin = admin
        self.admins: set[str] = {admin}
        self.customer_id = "C03fake01"
        # The scopes the Workspace admin authorised for the client ID (domain-wide delegation).
        self.delegated_scopes: set[str] = {USER_SCOPE, DOMAIN_SCOPE, SITE_SCOPE}
        self.state = _State()
        # Consulted instead of `state.txt_records` when set (e.g. a query to a test DNS server).
        self.txt_lookup: Callable[[str], list[str]] | None = None
        self.log: list[LoggedRequest] = []
        self.assertions: list[Json] = []
        self.tokens: dict[str, Grant] = {}
        self._failures: deque[int] = deque()
        self._ids = itertools.count(100_000_000_000_000_000_001)
        self._lock = threading.Lock()
        self._add_domain(primary_domain, primary=True, verified=True)
        self._add_user(admin, "Admin", "User", secrets.token_urlsafe(16), is_admin=True)

    # --- lifecycle and test helpers

    thread_name = "fake-google"

    def start(self) -> None:
        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def service_account_info(self) -> Json:
        """A service-account key file as Google Cloud issues it, for this fake's key."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "mailfleet-test",
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            # Google's: the provider's google_token_uri setting points it at the fake.
            "token_uri": TOKEN_AUDIENCE,
            "universe_domain": "googleapis.com",
        }

    def settings_overrides(self) -> Json:
        return {
            "google_service_account_json": json.dumps(self.service_account_info()),
            "google_admin_subject": self.admin,
            "google_admin_api_url": f"{self.url}/",
            "google_site_verification_api_url": f"{self.url}{SITE}/",
            "google_token_uri": f"{self.url}/token",
            "google_timeout": 5.0,
            "google_num_retries": 0,
        }

    def fail_next(self, count: int = 1, *, status: int = 429) -> None:
        """Answer the next `count` API requests (not token requests) with `status`."""
        with self._lock:
            self._failures.extend([status] * count)

    def api_calls(self) -> list[LoggedRequest]:
        return [r for r in self.log if r.path != "/token"]

    def user(self, email: str) -> Json | None:
        """A user by primary address, with `password` as last set (tests only: Google never
        returns it)."""
        with self._lock:
            found = self._find_user(email.lower())
            if found is None:
                return None
            return {**found, "password": self.state.passwords[found["id"]]}

    def photo(self, email: str) -> tuple[str, bytes] | None:
        """The photo of the user with this primary address: (mimeType, the bytes uploaded)."""
        with self._lock:
            found = self._find_user(email.lower())
            photo = self.state.photos.get(found["id"]) if found else None
            return (photo["mimeType"], photo["data"]) if photo else None

    def users_on(self, domain: str) -> list[str]:
        with self._lock:
            return sorted(
                u["primaryEmail"]
                for u in self.state.users.values()
                if u["primaryEmail"].endswith("@" + domain)
            )

    def add_user(self, email: str, password: str = "Existing-pass-1", **extra: Any) -> Json:
        with self._lock:
            return self._add_user(email, "Existing", "User", password, **extra)

    def add_alias(self, email: str, alias: str) -> None:
        with self._lock:
            user = self._find_user(email.lower())
            assert user is not None
            user.setdefault("aliases", []).append(alias.lower())

    def add_domain(self, name: str, *, verified: bool = True) -> None:
        with self._lock:
            self._add_domain(name, primary=False, verified=verified)

    def publish_txt(self, domain: str, value: str) -> None:
        with self._lock:
            self.state.txt_records.setdefault(domain.lower(), []).append(value)

    def token_for(self, domain: str, owner: str | None = None) -> str:
        """The verification token Google issues to `owner` (the admin) for `domain`."""
        seed = f"{(owner or self.admin).lower()}|{domain.lower()}".encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(seed).digest()).decode().rstrip("=")
        return VERIFICATION_PREFIX + digest[:43]

    # --- dispatch

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Json | None]:
        url = urlsplit(target)
        query = dict(parse_qsl(url.query))
        with self._lock:
            body: Any = None
            subject: str | None = None
            status: int
            payload: Json | None
            try:
                if url.path == "/token":
                    body = dict(parse_qsl(raw.decode()))
                    status, payload = 200, self._token(method, body)
                else:
                    body = json.loads(raw) if raw else None
                    grant = self._grant(headers.get("authorization"))
                    subject = grant.subject
                    status, payload = self._api(method, url.path, query, body, grant)
            except json.JSONDecodeError:
                status, payload = 400, api_error(400, "Invalid JSON payload.", "parseError").body
            except Answer as exc:
                status, payload = exc.status, exc.body
            if url.path == "/token":
                body = {k: v for k, v in (body or {}).items() if k != "assertion"}
            self.log.append(LoggedRequest(method, url.path, query, body, status, subject))
            return status, payload

    # --- /token

    def _token(self, method: str, form: dict[str, str]) -> Json:
        if form.get("grant_type") != JWT_GRANT:
            raise oauth_error(
                400, "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}"
            )
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                certs={self.key_id: self._public_pem},
                audience=TOKEN_AUDIENCE,
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise oauth_error(400, "invalid_grant", f"Invalid JWT Signature. ({exc})") from exc
        self.assertions.append(claims)
        if claims.get("iss") != self.client_email:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise oauth_error(400, "invalid_grant", SHORT_LIVED)
        subject = str(claims.get("sub") or claims["iss"]).lower()
        scopes = frozenset(str(claims.get("scope", "")).split())
        if "sub" in claims:
            if self._find_user(subject) is None:
                raise oauth_error(400, "invalid_grant", "Invalid email or User ID")
            if not scopes or not scopes <= self.delegated_scopes:
                raise oauth_error(401, "unauthorized_client", NOT_DELEGATED)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = Grant(subject, scopes)
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    # --- API routing

    def _grant(self, authorization: str | None) -> Grant:
        scheme, _, token = (authorization or "").partition(" ")
        grant = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None:
            message = "Request had invalid authentication credentials. Expected OAuth 2 access "
            raise api_error(401, message + "token.", "authError")
        return grant

    def _api(
        self, method: str, path: str, query: dict[str, str], body: Any, grant: Grant
    ) -> tuple[int, Json | None]:
        if self._failures:
            status = self._failures.popleft()
            if status == 429:
                raise api_error(429, QUOTA_EXCEEDED, "rateLimitExceeded")
            raise api_error(status, "The service is currently unavailable.", "backendError")
        for route_method, pattern, scope, needs_admin, handler in self._routes():
            match = pattern.fullmatch(path)
            if match is None or route_method != method:
                continue
            if scope not in grant.scopes:
                raise api_error(
                    403,
                    "Request had insufficient authentication scopes.",
                    "insufficientPermissions",
                )
            if needs_admin and grant.subject not in self.admins:
                raise not_authorized()
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            result = handler(query=query, body=body, grant=grant, **params)
            return (204, None) if result is None else (200, result)
        raise api_error(404, f"Not Found: {method} {path}", "notFound")

    def _routes(self) -> list[tuple[str, re.Pattern[str], str, bool, Callable[..., Json | None]]]:
        users = DIRECTORY + "/users"
        user = users + "/(?P<key>[^/]+)"
        domains = DIRECTORY + "/customer/(?P<customer>[^/]+)/domains"
        domain = domains + "/(?P<name>[^/]+)"
        table: list[tuple[str, str, str, bool, Callable[..., Json | None]]] = [
            ("POST", users, USER_SCOPE, True, self._insert_user),
            ("GET", user, USER_SCOPE, True, self._get_user),
            ("PUT", user, USER_SCOPE, True, self._update_user),
            ("PATCH", user, USER_SCOPE, True, self._update_user),
            ("DELETE", user, USER_SCOPE, True, self._delete_user),
            ("PUT", user + "/photos/thumbnail", USER_SCOPE, True, self._update_photo),
            ("POST", domains, DOMAIN_SCOPE, True, self._insert_domain),
            ("GET", domain, DOMAIN_SCOPE, True, self._get_domain),
            ("POST", SITE + "/token", SITE_SCOPE, False, self._site_token),
            ("POST", SITE + "/webResource", SITE_SCOPE, False, self._verify_site),
        ]
        return [(m, re.compile(p), s, a, h) for m, p, s, a, h in table]

    # --- domains

    def _add_domain(self, name: str, *, primary: bool, verified: bool) -> Json:
        domain: Json = {
            "kind": "admin#directory#domain",
            "etag": f'"{secrets.token_urlsafe(12)}"',
            "domainName": name,
            "isPrimary": primary,
            "verified": verified,
            "creationTime": str(int(time.time() * 1000)),
        }
        self.state.domains[name] = domain
        return domain

    def _check_customer(self, customer: str) -> None:
        if customer not in ("my_customer", self.customer_id):
            raise api_error(400, "Bad Request", "badRequest")

    def _insert_domain(self, *, customer: str, body: Any, **_: Any) -> Json:
        self._check_customer(customer)
        name = str((body or {}).get("domainName") or "").strip().lower().rstrip(".")
        if not DOMAIN_NAME.fullmatch(name):
            raise api_error(400, "Invalid Input: domainName", "invalid")
        if name in self.state.domains:
            raise api_error(409, "Entity already exists.", "duplicate")
        # Ownership proven earlier through Site Verification counts at once.
        return dict(
            self._add_domain(name, primary=False, verified=name in self.state.verified_sites)
        )

    def _get_domain(self, *, customer: str, name: str, **_: Any) -> Json:
        self._check_customer(customer)
        domain = self.state.domains.get(name.lower())
        if domain is None:
            raise api_error(404, "Domain not found.", "notFound")
        return dict(domain)

    # --- site verification

    @staticmethod
    def _site(body: Any, method: str | None) -> str:
        site = body.get("site") if isinstance(body, dict) else None
        if not isinstance(site, dict) or not site.get("identifier") or not site.get("type"):
            raise api_error(400, "Required parameter: site", "required")
        if site["type"] != "INET_DOMAIN":
            raise api_error(
                400,
                f"You cannot use the verification method {method} to verify a site of type "
                f"{site['type']}",
                "invalidParameter",
            )
        return str(site["identifier"]).strip().lower().rstrip(".")

    def _site_token(self, *, body: Any, grant: Grant, **_: Any) -> Json:
        method = (body or {}).get("verificationMethod") if isinstance(body, dict) else None
        if method not in ("DNS_TXT", "DNS_CNAME", "DNS"):
            raise api_error(400, f"Invalid verification method: {method}", "invalidParameter")
        name = self._site(body, method)
        return {"method": method, "token": self.token_for(name, grant.subject)}

    def _verify_site(self, *, query: dict[str, str], body: Any, grant: Grant, **_: Any) -> Json:
        method = query.get("verificationMethod")
        if method not in ("DNS_TXT", "DNS"):
            raise api_error(400, f"Invalid verification method: {method}", "invalidParameter")
        name = self._site(body, method)
        lookup = self.txt_lookup or (lambda domain: self.state.txt_records.get(domain, []))
        if self.token_for(name, grant.subject) not in lookup(name):
            raise api_error(400, TOKEN_NOT_FOUND, "badRequest")
        owners = self.state.verified_sites.setdefault(name, set())
        owners.add(grant.subject)
        owners.update(str(o).lower() for o in (body.get("owners") or []))
        if name in self.state.domains:
            self.state.domains[name]["verified"] = True
        return {
            "id": quote(f"dns://{name}", safe=""),
            "site": {"type": "INET_DOMAIN", "identifier": name},
            "owners": sorted(owners),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake: FakeGoogle = self.server.fake  # type: ignore[attr-defined]
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload = fake.handle(self.command, self.path, headers, raw)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake's own log is `FakeGoogle.log`."""
