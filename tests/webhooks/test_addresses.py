"""Webhooks go to public addresses only: refused when the URL is set and again at delivery.

Nothing here leaves the machine: hosts are literal addresses or `localhost`, and the tests that
need a name resolved answer it themselves in place of the system resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import WebhookEndpoint
from mailfleet.webhooks.addresses import AddressRefused, refusal, resolve
from tests.factories import make_domain, make_tenant
from tests.webhooks.receiver import receiver
from tests.webhooks.test_delivery import fail_domain, log, register, tick

EVENTS = ["domain.status_changed"]

REFUSED_HOSTS = [
    "127.0.0.1",
    "127.3.4.5",
    "[::1]",
    "localhost",
    "LOCALHOST.",
    "api.localhost",
    "10.0.0.7",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.10.20",
    "[fe80::1]",
    "[fd00:ec2::254]",
    "[fd12:3456::1]",
    "224.0.0.251",
    "[ff02::1]",
    "0.0.0.0",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "100.64.0.1",
    # Spellings the URL parser turns into 127.0.0.1.
    "2130706433",
    "0x7f.1",
]


def create(client: TestClient, headers: dict[str, str], url: str) -> Any:
    return client.post("/v1/webhooks", json={"url": url, "events": EVENTS}, headers=headers)


def stored_urls(db: Database) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(WebhookEndpoint.url)))


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_a_non_public_host_is_refused_at_creation(
    db: Database, client: TestClient, host: str
) -> None:
    owner = make_tenant(db)
    response = create(client, owner.headers, f"http://{host}:8080/hook")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("webhook_url_not_public", "url")
    assert "public addresses only" in problem["detail"]
    assert stored_urls(db) == []


def test_the_reason_names_the_kind_of_address(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    reasons = {
        host: create(client, owner.headers, f"https://{host}/x").json()["detail"]
        for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "[fd00:ec2::254]", "[fe80::2]")
    }
    assert "loopback" in reasons["127.0.0.1"]
    assert "private" in reasons["10.1.2.3"]
    assert "metadata" in reasons["169.254.169.254"]
    assert "metadata" in reasons["[fd00:ec2::254]"]
    assert "link-local" in reasons["[fe80::2]"]


def test_a_non_public_host_is_refused_on_update(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    created = create(client, owner.headers, "https://hooks.example.com/x")
    assert created.status_code == 201, created.text
    path = f"/v1/webhooks/{created.json()['id']}"
    for url in ("http://127.0.0.1/x", "http://[fd00:ec2::254]/latest", "http://localhost:9/"):
        response = client.patch(path, json={"url": url}, headers=owner.headers)
        assert response.status_code == 422, url
        assert (response.json()["code"], response.json()["field"]) == (
            "webhook_url_not_public",
            "url",
        )
    assert stored_urls(db) == ["https://hooks.example.com/x"]


def test_public_hosts_and_names_are_accepted(db: Database, client: TestClient) -> None:
    # Names are not resolved when set (they are when delivered to): no DNS query here.
    owner = make_tenant(db)
    for url in ("https://hooks.example.com/x", "https://8.8.8.8/x", "https://[2606:4700::1]/x"):
        assert create(client, owner.headers, url).status_code == 201, url


def test_the_setting_allows_private_addresses(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(webhook_allow_private_addresses=True)
    owner = make_tenant(db)
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://localhost/x"):
        assert create(client, owner.headers, url).status_code == 201, url


@pytest.mark.parametrize("bad", ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x85"])
def test_control_characters_in_the_url_are_refused_not_dropped(
    db: Database, client: TestClient, bad: str
) -> None:
    owner = make_tenant(db)
    url = f"https://hooks.example.com/a{bad}b"
    response = create(client, owner.headers, url)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == "url"
    assert problem["errors"][0]["code"] == "control_character"
    created = create(client, owner.headers, "https://hooks.example.com/ab")
    patched = client.patch(
        f"/v1/webhooks/{created.json()['id']}", json={"url": url}, headers=owner.headers
    )
    assert patched.status_code == 422
    assert patched.json()["errors"][0]["code"] == "control_character"
    assert stored_urls(db) == ["https://hooks.example.com/ab"]


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "64:ff9b::808:808"],
)
def test_public_unicast_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.fixture
def strict_and_allowing(
    make_client: Callable[..., TestClient],
) -> tuple[TestClient, TestClient]:
    """The default client, and one whose settings let an endpoint be set to a loopback URL (as
    one set before this rule, or a name that resolved elsewhere when it was set).

    The strict one is made last: jobs go to the queue of the app made last on the database."""
    allowing = make_client(webhook_allow_private_addresses=True)
    return make_client(), allowing


def test_a_loopback_endpoint_is_not_delivered_to_and_says_why(
    db: Database, strict_and_allowing: tuple[TestClient, TestClient]
) -> None:
    strict, allowing = strict_and_allowing
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as hook:
        webhook = register(allowing, owner, hook.url)
        fail_domain(strict, owner, domain.id)
        tick(strict)
    assert hook.received == []
    [entry] = log(strict, owner, webhook["id"])
    assert (entry["status"], entry["attempts"], entry["last_response_status"]) == (
        "PENDING",
        1,
        None,
    )
    assert "127.0.0.1 is a loopback address" in entry["last_error"]


def test_a_name_resolving_to_loopback_is_refused_after_resolution(
    db: Database, strict_and_allowing: tuple[TestClient, TestClient]
) -> None:
    strict, allowing = strict_and_allowing
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as hook:
        webhook = register(allowing, owner, hook.url.replace("127.0.0.1", "localhost"))
        fail_domain(strict, owner, domain.id)
        tick(strict)
    assert hook.received == []
    [entry] = log(strict, owner, webhook["id"])
    assert "localhost resolves to" in entry["last_error"]
    assert "loopback address" in entry["last_error"]


class FakeResolver:
    """Answers names from a table in place of the system resolver and counts the questions;
    any other name is an error, so nothing is ever asked of a real DNS server. `later` answers
    every question after the first (as a rebinding DNS server would)."""

    def __init__(self, table: dict[str, list[str]], later: dict[str, list[str]]) -> None:
        self.table = table
        self.later = later
        self.asked: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in self.table:
                raise socket.gaierror(socket.EAI_NONAME, "not in the test's table") from None
            answers = self.later.get(name, self.table[name]) if name in self.asked else None
            self.asked.append(name)
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in answers or self.table[name]
            ]
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeResolver]:
    def install(
        table: dict[str, list[str]], later: dict[str, list[str]] | None = None
    ) -> FakeResolver:
        fake = FakeResolver(table, later or {})
        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return fake

    return install


def test_the_attempt_connects_to_the_checked_address_without_resolving_again(
    db: Database,
    make_client: Callable[..., TestClient],
    resolver: Callable[..., FakeResolver],
) -> None:
    client = make_client(webhook_allow_private_addresses=True)
    owner = make_tenant(db, operator=True)
    domain = make_domain(db, owner.workspace_id)
    with receiver() as hook:
        port = hook.url.split(":")[2].split("/")[0]
        webhook = register(client, owner, f"http://hooks.invalid:{port}/hooks")
        # A second question would be answered with another loopback address, where nothing
        # listens: a client resolving again after the check would fail to connect.
        fake = resolver({"hooks.invalid": ["127.0.0.1"]}, later={"hooks.invalid": ["127.0.0.2"]})
        fail_domain(client, owner, domain.id)
        tick(client)
    # Resolved once, by the check; the HTTP client went to the address it returned.
    assert fake.asked == ["hooks.invalid"]
    [request] = hook.received
    assert request.headers["host"] == f"hooks.invalid:{port}"
    assert request.path == "/hooks"
    [entry] = log(client, owner, webhook["id"])
    assert (entry["status"], entry["last_response_status"]) == ("SUCCEEDED", 200)


def test_a_name_with_any_private_address_is_refused(
    resolver: Callable[..., FakeResolver],
) -> None:
    # One public and one private answer: the HTTP client could pick either, so neither is used.
    # Checked on the resolver alone, so that no connection could go anywhere if it passed.
    resolver({"rebind.invalid": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(AddressRefused) as refused:
        resolve("rebind.invalid", 443, allow_private=False)
    assert "rebind.invalid resolves to 169.254.169.254" in str(refused.value)
    assert "metadata" in str(refused.value)
    assert resolve("rebind.invalid", 443, allow_private=True).address == ipaddress.ip_address(
        "93.184.215.14"
    )
