"""Idempotency-Key on every POST (draft-ietf-httpapi-idempotency-key-header).

A replay with the same key and the same request returns the first response, byte for byte, and
creates nothing. The same key with a different request is 422; while the first request is still
running, 409. Responses of 5xx are not kept, so a retry after a server failure runs again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailfleet.db import Database
from mailfleet.exception_handlers import problem_response
from mailfleet.idempotency import service
from mailfleet.kit.crypto import SecretBox, sha256_hex
from mailfleet.models import IdempotencyRecord

HEADER = b"idempotency-key"
# Headers worth replaying; hop-by-hop and per-request ones are not.
KEPT_HEADERS = {"content-type", "location", "cache-control"}


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, *, database: Database, secrets: SecretBox, ttl: timedelta
    ) -> None:
        self.app = app
        self.database = database
        self.secrets = secrets
        self.ttl = ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        authorization = headers.get(b"authorization", b"")
        token = authorization.partition(b" ")[2].strip()
        if raw_key is None or not token:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > 255 or not key.isprintable():
            await _send_problem(
                scope,
                send,
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 printable characters.",
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
            await _send_problem(
                scope,
                send,
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request.",
            )
        elif outcome is service.Claim.IN_PROGRESS:
            await _send_problem(
                scope,
                send,
                409,
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is still being processed.",
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
        status = 500
        kept: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode("latin-1").lower() in KEPT_HEADERS:
                        kept.append([name.decode("latin-1"), value.decode("latin-1")])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, _replay_receive(body), capture)
        finally:
            await run_in_threadpool(self._finish, credential, key, status, b"".join(chunks), kept)

    def _finish(
        self, credential: str, key: str, status: int, body: bytes, headers: list[list[str]]
    ) -> None:
        secret = any(k.lower() == "cache-control" and "no-store" in v for k, v in headers)
        if secret:
            body = self.secrets.encrypt(body.decode()).encode()
        with self.database.transaction() as session:
            if status >= 500:
                service.release(session, scope=credential, key=key)
            else:
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
        headers.append((b"idempotency-replayed", b"true"))
        body = record.response_body or b""
        if record.body_encrypted:
            body = self.secrets.decrypt(body.decode()).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": record.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


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


async def _send_problem(scope: Scope, send: Send, status: int, code: str, detail: str) -> None:
    response = problem_response(
        status=status,
        code=code,
        title="Idempotency error",
        detail=detail,
        instance=scope["path"],
        field="Idempotency-Key",
    )
    await response(scope, _replay_receive(b""), send)
