"""Idempotency-Key on every POST (draft-ietf-httpapi-idempotency-key-header).

A replay with the same key and the same request returns the first response, byte for byte, and
creates nothing. The same key with a different request is 422; while the first request is still
running, 409. Only completed outcomes are kept: 2xx, and 4xx that a retry would repeat. A 429,
408, 425 or 5xx releases the key, so a retry after Retry-After or a server failure runs again.
The outcome is stored before the response leaves, so a replay sent the moment the first response
arrives finds it (never 409 in progress).

Each surface passes its policy (which methods, which header), how it finds the request's
credential, and its error renderer, so the protocol's errors come in the surface's format.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailfleet.db import Database
from mailfleet.exception_handlers import ErrorRenderer, info_of, render_problem
from mailfleet.exceptions import MailfleetError
from mailfleet.idempotency import service
from mailfleet.idempotency.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from mailfleet.kit.crypto import SecretBox, sha256_hex
from mailfleet.models import IdempotencyRecord

log = logging.getLogger("mailfleet.idempotency")

HEADER = b"idempotency-key"
# The request's credential (an API key), or None when it sends none.
CredentialOf = Callable[[Scope], str | None]
# Headers worth replaying; hop-by-hop and per-request ones are not.
KEPT_HEADERS = {"content-type", "location", "cache-control"}
# 4xx a retry may not repeat: timeout, too early, rate limited.
TRANSIENT_4XX = frozenset({408, 425, 429})


def is_final(status: int) -> bool:
    """Whether a response is the request's outcome, to be replayed for the key's lifetime."""
    return 200 <= status < 300 or (400 <= status < 500 and status not in TRANSIENT_4XX)


@dataclass(frozen=True)
class IdempotencyPolicy:
    """Which requests a surface makes idempotent, and the header naming the key."""

    methods: frozenset[str] = frozenset({"POST"})
    header: str = "Idempotency-Key"
    replayed_header: str = "Idempotency-Replayed"


def bearer_token(scope: Scope) -> str | None:
    """The native credential: the token of `Authorization: <scheme> <token>`."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.partition(b" ")[2].strip().decode("latin-1") or None
    return None


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        secrets: SecretBox,
        ttl: timedelta,
        policy: IdempotencyPolicy | None = None,
        credential_of: CredentialOf = bearer_token,
        render: ErrorRenderer = render_problem,
    ) -> None:
        self.app = app
        self.database = database
        self.secrets = secrets
        self.ttl = ttl
        self.policy = policy or IdempotencyPolicy()
        self._header = self.policy.header.lower().encode("latin-1")
        self._replayed = self.policy.replayed_header.lower().encode("latin-1")
        self.credential_of = credential_of
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.policy.methods:
            await self.app(scope, receive, send)
            return
        raw_key = dict(scope["headers"]).get(self._header)
        token = self.credential_of(scope) if raw_key is not None else None
        if raw_key is None or not token:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > 255 or not key.isprintable():
            await self._refuse(
                scope,
                send,
                InvalidIdempotencyKey(
                    f"{self.policy.header} must be 1 to 255 printable characters."
                ),
            )
            return
        body = await _read_body(receive)
        request_hash = hashlib.sha256(scope.get("query_string", b"") + b"\n" + body).hexdigest()
        credential = sha256_hex(token)
        result = await run_in_threadpool(
            self._claim, credential, key, scope["method"], scope["path"], request_hash
        )
        outcome = result.outcome
        if outcome is service.Claim.UNKNOWN_CREDENTIAL:
            await self.app(scope, _replay_receive(body), send)
        elif outcome is service.Claim.MISMATCH:
            await self._refuse(
                scope,
                send,
                IdempotencyKeyReused(
                    f"This {self.policy.header} was used with a different request."
                ),
            )
        elif outcome is service.Claim.IN_PROGRESS:
            await self._refuse(
                scope,
                send,
                IdempotencyKeyInProgress(
                    f"A request with this {self.policy.header} is still being processed."
                ),
            )
        elif outcome is service.Claim.REPLAY:
            assert result.record is not None
            await self._send_stored(send, result.record)
        else:
            await self._run_and_store(scope, body, send, credential, key)

    def _claim(
        self, credential: str, key: str, method: str, path: str, request_hash: str
    ) -> service.ClaimResult:
        with self.database.transaction() as session:
            result = service.claim(
                session,
                scope=credential,
                key=key,
                method=method,
                path=path,
                request_hash=request_hash,
                ttl=self.ttl,
            )
            if result.record is not None:
                session.expunge(result.record)
            return result

    async def _run_and_store(
        self, scope: Scope, body: bytes, send: Send, credential: str, key: str
    ) -> None:
        # The whole response is held back until its outcome is stored: sent first, a client's
        # immediate replay could find the claim still open and get 409.
        start: Message | None = None
        chunks: list[bytes] = []
        done = False

        async def capture(message: Message) -> None:
            nonlocal start, done
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                done = not message.get("more_body", False)
            else:
                await send(message)

        try:
            await self.app(scope, _replay_receive(body), capture)
        except Exception:
            await run_in_threadpool(self._release, credential, key)
            raise
        if start is None or not done:
            # No complete response: nothing to replay, so the next try runs again.
            await run_in_threadpool(self._release, credential, key)
            if start is not None:
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
            return
        payload = b"".join(chunks)
        await self._record(credential, key, start, payload)
        await send(start)
        await send({"type": "http.response.body", "body": payload})

    async def _record(self, credential: str, key: str, start: Message, body: bytes) -> None:
        status = int(start["status"])
        if not is_final(status):
            await run_in_threadpool(self._release, credential, key)
            return
        kept = [
            [name.decode("latin-1"), value.decode("latin-1")]
            for name, value in start.get("headers", [])
            if name.decode("latin-1").lower() in KEPT_HEADERS
        ]
        try:
            await run_in_threadpool(self._finish, credential, key, status, body, kept)
        except Exception:
            # The request's own work is committed: answer it anyway, and free the key rather
            # than leave it "in progress" until it expires.
            log.exception("could not store the outcome of Idempotency-Key %r", key)
            await run_in_threadpool(self._release, credential, key)

    def _release(self, credential: str, key: str) -> None:
        with self.database.transaction() as session:
            service.release(session, scope=credential, key=key)

    def _finish(
        self, credential: str, key: str, status: int, body: bytes, headers: list[list[str]]
    ) -> None:
        secret = any(k.lower() == "cache-control" and "no-store" in v for k, v in headers)
        if secret:
            body = self.secrets.encrypt(body.decode()).encode()
        with self.database.transaction() as session:
            service.complete(
                session,
                scope=credential,
                key=key,
                status=status,
                body=body,
                headers=headers,
                encrypted=secret,
            )

    async def _send_stored(self, send: Send, record: IdempotencyRecord) -> None:
        headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in record.response_headers or []
        ]
        headers.append((self._replayed, b"true"))
        body = record.response_body or b""
        if record.body_encrypted:
            body = self.secrets.decrypt(body.decode()).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": record.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, scope: Scope, send: Send, error: MailfleetError) -> None:
        error.field = self.policy.header
        response = self.render(info_of(error), scope["path"])
        await response(scope, _replay_receive(b""), send)


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay_receive(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
