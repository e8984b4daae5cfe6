"""A local fake of the Cloudflare API v4 endpoints Mailfleet's DNS provider calls.

It is a real HTTP server on 127.0.0.1 in a thread, so the official `cloudflare` client (httpx)
runs unchanged against it: zones, DNS records and the records batch, inside Cloudflare's envelope
`{"success", "errors", "messages", "result"[, "result_info"]}`, with its error codes, a bearer-token
check and validation of the fields a record needs. State lives in memory.

Tests can queue failures (`fail_next`: 429 with Retry-After, or 500) and read `log`, one entry per
request in arrival order, to count calls.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import FakeServer

PREFIX = "/client/v4"
TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA")
# Types whose value Cloudflare takes as structured `data` rather than `content`.
DATA_TYPES = frozenset({"SRV", "CAA"})
PROXIABLE = frozenset({"A", "AAAA", "CNAME"})
NAMESERVER_POOL = ("ada", "bob", "cruz", "dina", "elle", "finn", "gail", "hugo")
TXT_MAX = 4096

Json = dict[str, Any]
Chain = list[tuple[int, str]]


class ApiError(Exception):
    """An error answer; `chain` is Cloudflare's `error_chain` (the detail under code 1004)."""

    def __init__(self, status: int, code: int, message: str, chain: Chain | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.chain = chain or []

    def body(self) -> Json:
        error: Json = {"code": self.code, "message": self.message}
        if self.chain:
            error["error_chain"] = [{"code": c, "message": m} for c, m in self.chain]
        return {"success": False, "errors": [error], "messages": [], "result": None}


def validation_error(code: int, message: str) -> ApiError:
    return ApiError(400, 1004, "DNS Validation Error", [(code, message)])


@dataclass
class LoggedRequest:
    method: str
    path: str  # without the /client/v4 prefix
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Failure:
    status: int
    retry_after: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _envelope(result: Any, result_info: Json | None = None) -> Json:
    body: Json = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def _paginate(items: list[Json], query: dict[str, str], *, default: int, most: int) -> Json:
    try:
        page = int(query.get("page", "1"))
        per_page = int(float(query.get("per_page", str(default))))
    except ValueError as exc:
        raise ApiError(400, 1001, "page and per_page must be numbers") from exc
    if page < 1 or not 1 <= per_page <= most:
        raise ApiError(400, 1001, f"per_page must be between 1 and {most}")
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": max(1, -(-len(items) // per_page)),
    }
    return _envelope(chunk, info)


# --- TXT: Cloudflare keeps unquoted content verbatim; quoted strings come back cut at 255 bytes.


def parse_txt_strings(content: str) -> list[str]:
    """The character-strings of quoted presentation text (`"a" "b"`), escapes resolved."""
    strings: list[str] = []
    i = 0
    while i < len(content):
        if content[i].isspace():
            i += 1
            continue
        if content[i] != '"':
            raise validation_error(9004, "TXT content must consist of quoted character strings.")
        i += 1
        current: list[str] = []
        while i < len(content) and content[i] != '"':
            if content[i] == "\\" and i + 1 < len(content):
                i += 1
            current.append(content[i])
            i += 1
        if i >= len(content):
            raise validation_error(9004, "TXT content has an unterminated quoted string.")
        strings.append("".join(current))
        i += 1
    return strings


def _quote(chunk: str) -> str:
    return '"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _stored_txt(content: str) -> str:
    if not content.startswith('"'):
        return content
    chunks: list[str] = []
    for text in parse_txt_strings(content):
        raw = text.encode()
        chunks.extend(raw[i : i + 255].decode() for i in range(0, len(raw), 255))
    return " ".join(_quote(chunk) for chunk in chunks or [""])


# --- Record validation: what POST, PUT, PATCH and the batch accept.


def _int_field(body: Json, key: str, low: int, high: int, code: int, message: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise validation_error(code, message)
    if not low <= int(value) <= high:
        raise validation_error(code, message)
    return int(value)


def _full_name(name: Any, zone_name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise validation_error(9000, "DNS name is invalid.")
    name = name.strip().rstrip(".").lower()
    if name in ("@", zone_name):
        return zone_name
    # Like Cloudflare, a name outside the zone is taken as relative to it.
    return name if name.endswith("." + zone_name) else f"{name}.{zone_name}"


def _content(body: Json, rtype: str) -> str:
    content = body.get("content")
    if not isinstance(content, str) or not content:
        raise validation_error(9007, f"Content for {rtype} record is invalid.")
    if rtype in ("A", "AAAA"):
        version = 4 if rtype == "A" else 6
        try:
            address = ipaddress.ip_address(content)
        except ValueError:
            address = None
        if address is None or address.version != version:
            raise validation_error(
                9005 if rtype == "A" else 9006,
                f"Content for {rtype} record is invalid. Must be a valid IPv{version} address.",
            )
        return str(address)
    if rtype in ("CNAME", "MX", "NS"):
        host = content.rstrip(".").lower()
        if (
            not re.fullmatch(r"[a-z0-9_*-]+(\.[a-z0-9_-]+)*", host)
            or host.replace(".", "").isdigit()
        ):
            raise validation_error(9009, f"Content for {rtype} record must be a hostname.")
        return host
    if len(content) > TXT_MAX:
        raise validation_error(9004, f"Content for TXT record must be under {TXT_MAX} characters.")
    return _stored_txt(content)


def _data_content(body: Json, rtype: str) -> tuple[str, int | None, Json]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise validation_error(9101, f"data is required for {rtype} records.")
    if rtype == "SRV":
        priority = _int_field(data, "priority", 0, 65535, 9100, "priority is a required field.")
        weight = _int_field(data, "weight", 0, 65535, 9102, "weight is a required field.")
        port = _int_field(data, "port", 0, 65535, 9103, "port is a required field.")
        target = data.get("target")
        if not isinstance(target, str) or not target:
            raise validation_error(9104, "target is a required field.")
        target = target.rstrip(".").lower()
        clean = {"priority": priority, "weight": weight, "port": port, "target": target}
        return f"{weight} {port} {target}", priority, clean
    flags = _int_field(data, "flags", 0, 255, 9105, "flags must be between 0 and 255.")
    tag, value = data.get("tag"), data.get("value")
    if tag not in ("issue", "issuewild", "iodef") or not isinstance(value, str):
        raise validation_error(9106, "CAA tag must be issue, issuewild or iodef, with a value.")
    return f'{flags} {tag} "{value}"', None, {"flags": flags, "tag": tag, "value": value}


def validated_record(body: Any, zone_name: str, record_id: str, created_on: str) -> Json:
    """The stored record a request body describes, or the ApiError Cloudflare would answer."""
    if not isinstance(body, dict):
        raise ApiError(400, 9207, "Request body is invalid.")
    rtype = body.get("type")
    if rtype not in TYPES:
        raise validation_error(9020, f"Invalid DNS record type {rtype!r}.")
    name = _full_name(body.get("name"), zone_name)
    ttl = body.get("ttl", 1)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
        raise validation_error(
            9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."
        )
    proxied = body.get("proxied", False)
    if not isinstance(proxied, bool) or (proxied and rtype not in PROXIABLE):
        raise validation_error(9004, f"{rtype} records cannot be proxied.")
    record: Json = {"id": record_id, "name": name, "type": rtype, "ttl": ttl, "proxied": proxied}
    if rtype in DATA_TYPES:
        record["content"], priority, record["data"] = _data_content(body, rtype)
        if priority is not None:
            record["priority"] = priority
    else:
        record["content"] = _content(body, rtype)
    if rtype == "MX":
        record["priority"] = _int_field(
            body, "priority", 0, 65535, 9100, "priority is a required field."
        )
    comment = body.get("comment")
    stamp = _now()
    record.update(
        proxiable=rtype in PROXIABLE,
        comment=comment if isinstance(comment, str) else None,
        tags=[],
        settings={},
        meta={},
        created_on=created_on or stamp,
        modified_on=stamp,
    )
    return record


def _check_conflicts(records: dict[str, Json], record: Json) -> None:
    for other in records.values():
        if other["id"] == record["id"] or other["name"] != record["name"]:
            continue
        same = (other["type"], other["content"], other.get("priority"))
        if same == (record["type"], record["content"], record.get("priority")):
            raise ApiError(400, 81058, "An identical record already exists.")
        if "CNAME" in (other["type"], record["type"]):
            raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")


Route = tuple[str, re.Pattern[str], Callable[..., Any]]


class FakeCloudflare(FakeServer):
    """The fake API: `start()` it (or use it as a context manager) and point a client at
    `base_url` with `token`."""

    def __init__(self, *, token: str = "cf-test-token", account_id: str = "cf-account") -> None:
        self.token = token
        self.account_id = account_id
        self.zones: dict[str, Json] = {}
        self.records: dict[str, dict[str, Json]] = {}  # zone id -> record id -> record
        self.log: list[LoggedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        self._routes: list[Route] = self._route_table()

    # --- lifecycle and test helpers

    thread_name = "fake-cloudflare"

    def start(self) -> None:
        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def fail_next(
        self, count: int = 1, *, status: int = 429, retry_after: str | None = "1"
    ) -> None:
        """Answer the next `count` requests with `status` (429 or 5xx) instead of serving them."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def zone_by_name(self, name: str) -> Json | None:
        return next((z for z in self.zones.values() if z["name"] == name), None)

    def records_of(self, zone_name: str) -> list[Json]:
        zone = self.zone_by_name(zone_name)
        return list(self.records[zone["id"]].values()) if zone else []

    # --- dispatch (transport-independent, so the handler stays a thin adapter)

    def handle(
        self, method: str, target: str, authorization: str | None, raw: bytes
    ) -> tuple[int, dict[str, str], Json]:
        url = urlsplit(target)
        path = url.path[len(PREFIX) :] if url.path.startswith(PREFIX) else url.path
        query = dict(parse_qsl(url.query))
        with self._lock:
            body: Any = None
            headers: dict[str, str] = {}
            try:
                body = json.loads(raw) if raw else None
                status, payload = self._serve(method, path, query, authorization, body, headers)
            except json.JSONDecodeError:
                status, payload = 400, ApiError(400, 6007, "Malformed JSON in request body").body()
            except ApiError as exc:
                status, payload = exc.status, exc.body()
            self.log.append(LoggedRequest(method, path, query, body, status))
            return status, headers, payload

    def _serve(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        authorization: str | None,
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Json]:
        if self._failures:
            return self._injected(self._failures.popleft(), headers)
        if not authorization:
            raise ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        if authorization != f"Bearer {self.token}":
            raise ApiError(403, 10000, "Authentication error")
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return 200, handler(query=query, body=body, **match.groupdict())
        raise ApiError(
            404, 7003, f"Could not route to {path}, perhaps your object identifier is invalid?"
        )

    @staticmethod
    def _injected(failure: _Failure, headers: dict[str, str]) -> tuple[int, Json]:
        if failure.retry_after is not None:
            headers["Retry-After"] = failure.retry_after
        if failure.status == 429:
            error = ApiError(429, 971, "Please wait and consider throttling your request speed")
        else:
            error = ApiError(failure.status, 10002, "Internal server error")
        return failure.status, error.body()

    def _route_table(self) -> list[Route]:
        zone = r"/zones/(?P<zone_id>[^/]+)"
        record = zone + r"/dns_records/(?P<record_id>[^/]+)"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("POST", "/zones", self._create_zone),
            ("GET", "/zones", self._list_zones),
            ("GET", zone, self._get_zone),
            ("DELETE", zone, self._delete_zone),
            ("GET", zone + "/dns_records", self._list_records),
            ("POST", zone + "/dns_records/batch", self._batch),
            ("POST", zone + "/dns_records", self._create_record),
            ("GET", record, self._get_record),
            ("PATCH", record, self._patch_record),
            ("PUT", record, self._put_record),
            ("DELETE", record, self._delete_record),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    # --- zones

    def _zone(self, zone_id: str) -> Json:
        zone = self.zones.get(zone_id)
        if zone is None:
            raise ApiError(
                404,
                7003,
                f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?",
            )
        return zone

    def _create_zone(self, *, query: dict[str, str], body: Any) -> Json:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ApiError(400, 1001, "name is required")
        account = body.get("account")
        if not isinstance(account, dict) or account.get("id") != self.account_id:
            raise ApiError(403, 1068, "Permission denied: the account is not accessible")
        if body.get("type", "full") not in ("full", "partial", "secondary"):
            raise ApiError(400, 1001, "type must be full, partial or secondary")
        name = body["name"].strip().rstrip(".").lower()
        if "." not in name or not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", name):
            raise ApiError(400, 1097, "This zone name is invalid")
        if self.zone_by_name(name) is not None:
            raise ApiError(400, 1061, f"{name} already exists")
        return self._new_zone(name, body.get("type", "full"))

    def _new_zone(self, name: str, zone_type: str) -> Json:
        zone_id = uuid.uuid4().hex
        first = len(self.zones) % len(NAMESERVER_POOL)
        pair = [NAMESERVER_POOL[first], NAMESERVER_POOL[(first + 1) % len(NAMESERVER_POOL)]]
        stamp = _now()
        zone: Json = {
            "id": zone_id,
            "name": name,
            "status": "pending",
            "type": zone_type,
            "paused": False,
            "development_mode": 0,
            "name_servers": [f"{label}.ns.cloudflare.com" for label in pair],
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "account": {"id": self.account_id, "name": "Fake account"},
            "owner": {"id": None, "name": None, "type": "user"},
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website"},
            "meta": {"step": 4, "phishing_detected": False},
            "permissions": [],
            "activated_on": None,
            "created_on": stamp,
            "modified_on": stamp,
        }
        self.zones[zone_id] = zone
        self.records[zone_id] = {}
        return _envelope(zone)

    def _list_zones(self, *, query: dict[str, str], body: Any) -> Json:
        zones = list(self.zones.values())
        if "name" in query:
            zones = [z for z in zones if z["name"] == query["name"].rstrip(".").lower()]
        if "account.id" in query:
            zones = [z for z in zones if z["account"]["id"] == query["account.id"]]
        if "status" in query:
            zones = [z for z in zones if z["status"] == query["status"]]
        return _paginate(zones, query, default=20, most=50)

    def _get_zone(self, *, zone_id: str, query: dict[str, str], body: Any) -> Json:
        return _envelope(self._zone(zone_id))

    def _delete_zone(self, *, zone_id: str, query: dict[str, str], body: Any) -> Json:
        self._zone(zone_id)
        del self.zones[zone_id]
        del self.records[zone_id]
        return _envelope({"id": zone_id})

    # --- DNS records

    def _record(self, zone_id: str, record_id: str, records: dict[str, Json] | None = None) -> Json:
        found = (records if records is not None else self.records[zone_id]).get(record_id)
        if found is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return found

    def _list_records(self, *, zone_id: str, query: dict[str, str], body: Any) -> Json:
        self._zone(zone_id)
        records = list(self.records[zone_id].values())
        name = query.get("name.exact", query.get("name"))
        if name is not None:
            records = [r for r in records if r["name"] == name.rstrip(".").lower()]
        if "type" in query:
            records = [r for r in records if r["type"] == query["type"]]
        content = query.get("content.exact", query.get("content"))
        if content is not None:
            records = [r for r in records if r["content"] == content]
        return _paginate(records, query, default=100, most=5_000_000)

    def _write(self, zone_id: str, records: dict[str, Json], body: Any, record_id: str) -> Json:
        previous = records.get(record_id)
        created_on = previous["created_on"] if previous else ""
        record = validated_record(body, self._zone(zone_id)["name"], record_id, created_on)
        _check_conflicts(records, record)
        records[record_id] = record
        return record

    def _patched_body(self, existing: Json, body: Any) -> Json:
        if not isinstance(body, dict):
            raise ApiError(400, 9207, "Request body is invalid.")
        merged = {k: v for k, v in existing.items() if k not in ("id", "created_on")}
        merged.update({k: v for k, v in body.items() if k != "id"})
        return merged

    def _create_record(self, *, zone_id: str, query: dict[str, str], body: Any) -> Json:
        self._zone(zone_id)
        return _envelope(self._write(zone_id, self.records[zone_id], body, uuid.uuid4().hex))

    def _get_record(self, *, zone_id: str, record_id: str, query: Any, body: Any) -> Json:
        self._zone(zone_id)
        return _envelope(self._record(zone_id, record_id))

    def _patch_record(self, *, zone_id: str, record_id: str, query: Any, body: Any) -> Json:
        self._zone(zone_id)
        merged = self._patched_body(self._record(zone_id, record_id), body)
        return _envelope(self._write(zone_id, self.records[zone_id], merged, record_id))

    def _put_record(self, *, zone_id: str, record_id: str, query: Any, body: Any) -> Json:
        self._zone(zone_id)
        self._record(zone_id, record_id)
        return _envelope(self._write(zone_id, self.records[zone_id], body, record_id))

    def _delete_record(self, *, zone_id: str, record_id: str, query: Any, body: Any) -> Json:
        self._zone(zone_id)
        self._record(zone_id, record_id)
        del self.records[zone_id][record_id]
        return _envelope({"id": record_id})

    def _batch(self, *, zone_id: str, query: dict[str, str], body: Any) -> Json:
        """Deletes, patches, puts, posts in that order, on a copy kept only if all succeed."""
        self._zone(zone_id)
        if not isinstance(body, dict):
            raise ApiError(400, 9207, "Request body is invalid.")
        work = copy.deepcopy(self.records[zone_id])
        result: dict[str, list[Json]] = {"deletes": [], "patches": [], "puts": [], "posts": []}
        for op in ("deletes", "patches", "puts", "posts"):
            items = body.get(op) or []
            if not isinstance(items, list):
                raise ApiError(400, 9207, f"{op} must be an array.")
            for item in items:
                result[op].append(self._batch_op(zone_id, work, op, item))
        self.records[zone_id] = work
        return _envelope(result)

    def _batch_op(self, zone_id: str, work: dict[str, Json], op: str, item: Any) -> Json:
        if op == "posts":
            return self._write(zone_id, work, item, uuid.uuid4().hex)
        record_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(record_id, str):
            raise ApiError(400, 9207, f"{op} entries need an id.")
        existing = self._record(zone_id, record_id, work)
        if op == "deletes":
            return work.pop(record_id)
        if op == "patches":
            item = self._patched_body(existing, item)
        return self._write(zone_id, work, item, record_id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake: FakeCloudflare = self.server.fake  # type: ignore[attr-defined]
        status, headers, payload = fake.handle(
            self.command, self.path, self.headers.get("Authorization"), raw
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake's own log is `FakeCloudflare.log`."""
