"""A local fake of the Microsoft identity platform and the Graph v1.0 routes Mailfleet calls.

A real HTTPS server on 127.0.0.1 in a thread, so msal and httpx run unchanged against it (msal
accepts only an https authority): clients trust its self-signed certificate through
SSL_CERT_FILE=`ca_file`, which httpx honours.

- Identity: `{tenant}/v2.0/.well-known/openid-configuration` (msal's tenant discovery; with
  `instance_discovery=False` msal asks for nothing else) and `{tenant}/oauth2/v2.0/token` for the
  client-credentials grant: client id, secret and the Graph `.default` scope are checked, errors
  are OAuth's with AADSTS codes.
- Graph: domains (add, get, update, verificationDnsRecords, serviceConfigurationRecords, verify),
  users (create with Graph's validation, get/update/delete by id or userPrincipalName, `$select`,
  renames through userPrincipalName and mail), assignLicense and the profile photo
  (tests/fakes/graph_users.py), all behind a bearer token the fake issued, errors in Graph's
  shape `{"error": {"code", "message", "innerError", ["details"]}}` (tests/fakes/graph_errors.py).

A domain verifies only once its `MS=ms…` text is published with `publish_txt` (standing in for
DNS). Tests can queue failures of Graph requests (`fail_next`: 429 with Retry-After, or 5xx) and
read `log`, one entry per request in arrival order. Messages follow Graph's documented or widely
reported wording; those for an existing domain and a failed verification are approximations.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.graph_errors import GraphError, Json, bad_request, not_found
from tests.fakes.graph_users import Upload, UserRoutes
from tests.fakes.server import FakeServer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH = "/v1.0"
# Exchange Online (Plan 1)'s skuId: the licence the fake tenant has bought by default.
EXCHANGE_PLAN_1 = "4b9405b0-7788-4568-add1-99614e613b69"
DOMAIN_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class OAuthError(Exception):
    """An identity-platform error: OAuth's flat `{"error", "error_description"}` body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> Json:
        return {"error": self.error, "error_description": self.description, "error_codes": []}


@dataclass
class LoggedRequest:
    method: str
    path: str  # "/v1.0/..." for Graph, "/{tenant}/..." for the identity platform
    query: dict[str, str]
    body: Any  # JSON for Graph, the form fields for the token endpoint
    status: int


@dataclass
class _Failure:
    status: int
    retry_after: str | None


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, its own CA: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Graph (tests)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _dns_record(kind: str, label: str, service: str, **values: Any) -> Json:
    """A domainDnsRecord as Graph lists them (recordType "Txt", "Mx" or "CName")."""
    odata = f"#microsoft.graph.domainDns{kind.capitalize()}Record"
    return {"@odata.type": odata, "id": str(uuid.uuid4()), "recordType": kind, "label": label,
            "isOptional": False, "supportedService": service, "ttl": 3600, **values}  # fmt: skip


Route = tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]


class FakeGraph(UserRoutes, FakeServer):
    """`start()` it (or use it as a context manager); point the authority at `authority_base`,
    Graph at `graph_base_url`, and trust `ca_file`."""

    def __init__(
        self,
        *,
        tenant_id: str = "00000000-0000-4000-8000-0000000000aa",
        client_id: str = "11111111-1111-4111-8111-111111111111",
        client_secret: str = "graph-test-secret",
        tenant_domain: str = "mailfleet.onmicrosoft.com",
        skus: dict[str, int] | None = None,  # skuId -> licences bought
    ) -> None:
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.skus = dict(skus or {EXCHANGE_PLAN_1: 25})
        self.tokens: set[str] = set()
        self.domains: dict[str, Json] = {tenant_domain: self._new_domain(tenant_domain)}
        self.domains[tenant_domain].update(isVerified=True, isInitial=True, isDefault=True)
        self.users: dict[str, Json] = {}  # id -> user, passwordProfile included
        self.photos: dict[str, tuple[str, bytes]] = {}  # user id -> (Content-Type, bytes)
        # Users whose Exchange mailbox is still being made: their photo cannot be stored yet.
        self.without_mailbox: set[str] = set()
        self.dns: dict[str, set[str]] = {}  # name -> published TXT texts
        self.log: list[LoggedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-graph-")
        # Clients trust the certificate itself (SSL_CERT_FILE=ca_file).
        self.ca_file, self._key = make_certificate(Path(self._tmp.name))
        self._routes = self._route_table()

    # --- lifecycle and test helpers

    thread_name = "fake-graph"

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, self._key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        # The handshake happens on the first read, in the request's thread, so a client that
        # refuses the certificate cannot stall the accepting thread.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.serve(server)

    def stop(self) -> None:
        super().stop()
        self._tmp.cleanup()

    @property
    def authority_base(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def graph_base_url(self) -> str:
        return self.authority_base + GRAPH

    def fail_next(
        self, count: int = 1, *, status: int = 429, retry_after: str | None = "1"
    ) -> None:
        """Answer the next `count` Graph requests with `status` (429 or 5xx); tokens still work."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def verification_text(self, domain: str) -> str:
        """The `MS=ms…` text Microsoft asks for; stable per domain, like a real tenant's."""
        digits = int(hashlib.sha256(f"{self.tenant_id}/{domain}".encode()).hexdigest(), 16)
        return f"MS=ms{digits % 10**8:08d}"

    def publish_txt(self, name: str, text: str) -> None:
        with self._lock:
            self.dns.setdefault(name.lower(), set()).add(text)

    def publish_verification(self, domain: str) -> None:
        self.publish_txt(domain, self.verification_text(domain))

    # --- dispatch (transport-independent, so the handler stays a thin adapter)

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        url = urlsplit(target)
        path, query = unquote(url.path), dict(parse_qsl(url.query))
        reply_headers: dict[str, str] = {}
        with self._lock:
            body: Any = None
            try:
                if path.startswith(GRAPH + "/"):
                    content_type = headers.get("content-type", "")
                    if raw and not content_type.startswith("application/json"):
                        body = Upload(content_type, raw)
                    else:
                        body = json.loads(raw) if raw else None
                    status, payload = self._graph(method, path, query, headers, body, reply_headers)
                else:
                    body = dict(parse_qsl(raw.decode())) if raw else {}
                    status, payload = self._identity(method, path, body)
            except json.JSONDecodeError:
                error = bad_request("Unable to read JSON request payload.")
                status, payload = 400, error.body()
            except (GraphError, OAuthError) as exc:
                status, payload = exc.status, exc.body()
            self.log.append(LoggedRequest(method, path, query, body, status))
            return status, reply_headers, payload

    # --- identity platform

    def _identity(self, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
        tenant, _, rest = path.strip("/").partition("/")
        if tenant != self.tenant_id:
            raise OAuthError(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = f"{self.authority_base}/{tenant}"
        if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return 200, {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "tenant_region_scope": "EU",
            }
        if method == "POST" and rest == "oauth2/v2.0/token":
            return 200, self._token(form)
        raise OAuthError(404, "not_found", f"AADSTS90000: no endpoint {path}")

    def _token(self, form: dict[str, str]) -> Json:
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "AADSTS70003: unsupported grant.")
        if form.get("client_id") != self.client_id:
            raise OAuthError(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not "
                f"found in the directory '{self.tenant_id}'.",
            )
        if form.get("client_secret") != self.client_secret:
            raise OAuthError(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                "in the request is the client secret value, not the client secret ID.",
            )
        if form.get("scope") != GRAPH_SCOPE:
            raise OAuthError(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope')} is not "
                "valid. Client credential flows must have a scope value with /.default "
                "suffixed to the resource identifier (application ID URI).",
            )
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return {"token_type": "Bearer", "expires_in": 3599, "access_token": token}

    # --- Graph

    def _graph(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        reply_headers: dict[str, str],
    ) -> tuple[int, Any]:
        if self._failures:
            failure = self._failures.popleft()
            if failure.retry_after is not None:
                reply_headers["Retry-After"] = failure.retry_after
            if failure.status == 429:
                raise GraphError(429, "TooManyRequests", "Too many requests, retry later.")
            raise GraphError(failure.status, "serviceNotAvailable", "Service unavailable.")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if token not in self.tokens:
            raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path[len(GRAPH) :])
            if match and route_method == method:
                return handler(query=query, body=body, **match.groupdict())
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")

    def _route_table(self) -> list[Route]:
        domain, user = r"/domains/(?P<name>[^/]+)", r"/users/(?P<key>[^/]+)"
        table: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("POST", "/domains", self._add_domain),
            ("GET", domain, self._get_domain),
            ("PATCH", domain, self._update_domain),
            ("GET", domain + "/verificationDnsRecords", self._verification_records),
            ("GET", domain + "/serviceConfigurationRecords", self._service_records),
            ("POST", domain + "/verify", self._verify),
            ("POST", "/users", self._create_user),
            ("GET", user, self._get_user),
            ("PATCH", user, self._update_user),
            ("DELETE", user, self._delete_user),
            ("POST", user + "/assignLicense", self._assign_license),
            ("PUT", user + r"/photo/\$value", self._put_photo),
            ("PATCH", user + r"/photo/\$value", self._put_photo),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    # --- domains

    @staticmethod
    def _new_domain(name: str) -> Json:
        unset = ("availabilityStatus", "passwordNotificationWindowInDays", "state")
        return {
            "id": name,
            "authenticationType": "Managed",
            "isAdminManaged": True,
            "isDefault": False,
            "isInitial": False,
            "isRoot": True,
            "isVerified": False,
            "supportedServices": [],
            **dict.fromkeys(unset),
        }

    def _domain(self, name: str) -> Json:
        found = self.domains.get(name.lower())
        if found is None:
            raise not_found(name)
        return found

    def _add_domain(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        name = body.get("id") if isinstance(body, dict) else None
        if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name.lower()):
            raise bad_request("Property 'id' is invalid.")
        if set(body) != {"id"}:
            raise bad_request("Only the 'id' property can be specified when adding a domain.")
        name = name.lower()
        if name in self.domains:
            raise bad_request(
                "Another object with the same value for property id already exists.",
                target="id",
                code="ObjectConflict",
            )
        self.domains[name] = self._new_domain(name)
        return 201, copy.deepcopy(self.domains[name])

    def _get_domain(self, *, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._domain(name))

    def _update_domain(self, *, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        domain = self._domain(name)
        if not domain["isVerified"]:
            raise bad_request(
                f"Domain '{name}' is not verified; only verified domains can be updated."
            )
        services = body.get("supportedServices") if isinstance(body, dict) else None
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise bad_request("Property 'supportedServices' is invalid.")
        domain["supportedServices"] = list(services)
        return 204, None

    def _verification_records(
        self, *, name: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        label, text = self._domain(name)["id"], self.verification_text(name.lower())
        mx = f"{text[3:]}.msv1.invalid"
        return 200, {
            "value": [
                _dns_record("Txt", label, "None", text=text),
                _dns_record("Mx", label, "None", mailExchange=mx, preference=32767),
            ]
        }

    def _service_records(self, *, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        domain = self._domain(name)
        if "Email" not in domain["supportedServices"]:
            return 200, {"value": []}
        label = domain["id"]
        mx = label.replace(".", "-") + ".mail.protection.outlook.com"
        spf = "v=spf1 include:spf.protection.outlook.com -all"
        autodiscover = "autodiscover.outlook.com"
        return 200, {
            "value": [
                _dns_record("Mx", label, "Email", mailExchange=mx, preference=0),
                _dns_record("Txt", label, "Email", text=spf),
                _dns_record("CName", f"autodiscover.{label}", "Email", canonicalName=autodiscover),
            ]
        }

    def _verify(self, *, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        domain = self._domain(name)
        if not domain["isVerified"]:
            if self.verification_text(domain["id"]) not in self.dns.get(domain["id"], set()):
                raise bad_request(
                    "Domain verification failed because the DNS record could not be found. "
                    "Make sure the TXT record exists and try again."
                )
            domain["isVerified"] = True
        return 200, copy.deepcopy(domain)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake: FakeGraph = self.server.fake  # type: ignore[attr-defined]
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, reply_headers, payload = fake.handle(self.command, self.path, headers, raw)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply_headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake's own log is `FakeGraph.log`."""
