"""Tenant isolation, generated from the route table.

Every route that takes a resource id is called by a caller from another workspace with the id of
a resource in the victim's workspace: the answer is 404 and nothing in the database changes.
Every write route is refused to a VIEWER. A route added later without a sample body or a known
path parameter makes these tests fail until it is described here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import ApiKey, Base, DomainStatus, Invoice, MailboxType, OrderStatus, Role
from tests.factories import (
    Caller,
    fund_wallet,
    give_slots,
    make_dns_record,
    make_domain,
    make_domain_purchase,
    make_domain_renewal,
    make_domain_swap,
    make_mailbox,
    make_member,
    make_order,
    make_quick_setup,
    make_subscription,
    make_tenant,
    make_webhook,
    seed_plans,
)

# Routes that act on the caller's own user rather than on a workspace's resources.
USER_LEVEL = {
    ("POST", "/v1/workspaces"),
    ("POST", "/v1/api-keys"),
    ("POST", "/v1/invitations/{invitation_id}/accept"),
    ("POST", "/v1/invitations/{invitation_id}/reject"),
    ("DELETE", "/v1/api-keys/{key_id}"),
}

RECORD = {"name": "intruder", "type": "TXT", "content": "owned"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# Routes authenticated by something else than an API key (a payment provider's signature):
# no caller of any workspace reaches them with a key.
PUBLIC_ROUTES = {("POST", "/v1/payments/stripe/webhook")}

# GET routes without an id that answer about their query, not a workspace's objects.
NOT_LISTS = {("GET", "/v1/domain-availability")}

SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/domain-availability"): {"names": ["isolation-test.com"]},
    ("POST", "/v1/domain-purchases"): {"names": ["isolation-test.com"]},
    ("POST", "/v1/quick-setups"): {"names": ["isolation-test.com"]},
    ("POST", "/v1/domain-swaps"): {
        "from_domain_id": "01a24000-0000-7000-8000-000000000000",
        "to_domain": "isolation-test.com",
    },
    ("POST", "/v1/domain-suggestions"): {"seed": "isolation-test"},
    ("POST", "/v1/wallet/top-ups"): {"amount_cents": 2500},
    ("PUT", "/v1/wallet/auto-recharge"): {"enabled": False},
    ("POST", "/v1/operator/workspaces/{workspace_id}/wallet/adjustments"): {
        "amount_cents": 100,
        "reason": "intruder",
    },
    ("POST", "/v1/workspaces"): {"name": "Another"},
    ("PATCH", "/v1/workspaces/{workspace_id}"): {"name": "Renamed"},
    ("PATCH", "/v1/workspaces/{workspace_id}/members/{user_id}"): {"role": "VIEWER"},
    ("PUT", "/v1/workspaces/{workspace_id}/billing"): {
        "company_name": "Acme",
        "contact_email": "billing@acme.test",
        "address_line1": "1 Road",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    },
    ("POST", "/v1/workspaces/{workspace_id}/invitations"): {
        "email": "new@example.com",
        "role": "EDITOR",
    },
    ("POST", "/v1/api-keys"): {"name": "k"},
    ("POST", "/v1/domains"): {"domains": ["isolation-test.com"]},
    ("POST", "/v1/mailbox-orders"): None,  # filled per test: names the victim's domain
    ("PATCH", "/v1/mailboxes/{mailbox_id}"): {"first_name": "Changed"},
    ("PUT", "/v1/operator/workspaces/{workspace_id}/allocations/{mailbox_type}"): {"slots": 99},
    ("POST", "/v1/operator/domains/{domain_id}/status"): {"status": "FAILED", "reason": "x"},
    ("PATCH", "/v1/operator/mailbox-orders/{order_id}"): {"operator_notes": "x"},
    ("POST", "/v1/operator/mailboxes/{mailbox_id}/complete"): {
        "password": "S3cret-pass!",
        "smtp_host": "smtp.x.test",
        "smtp_port": 587,
        "imap_host": "imap.x.test",
        "imap_port": 993,
    },
    ("POST", "/v1/operator/mailboxes/{mailbox_id}/fail"): {"reason": "x"},
    ("PATCH", "/v1/domains/{domain_id}"): {"dmarc_policy": "reject"},
    ("PUT", "/v1/mailboxes/{mailbox_id}/picture"): PNG,
    ("POST", "/v1/domains/{domain_id}/dns/records"): RECORD,
    ("PUT", "/v1/domains/{domain_id}/dns/records/{record_id}"): RECORD,
    ("POST", "/v1/webhooks"): {
        "url": "https://hooks.example.com/x",
        "events": ["domain.status_changed"],
    },
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"enabled": False},
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): {},
    ("POST", "/v1/subscriptions"): {"lookup_key": "google_starter_monthly"},
    ("PATCH", "/v1/subscriptions/{subscription_id}"): {"notes": "intruder"},
    ("POST", "/v1/subscriptions/{subscription_id}/cancel"): {"revert": False},
    ("POST", "/v1/subscriptions/{subscription_id}/upgrade"): {"lookup_key": "google_pro_monthly"},
    ("POST", "/v1/subscriptions/{subscription_id}/addons"): {
        "mailbox_type": "GOOGLE",
        "quantity": 1,
    },
    ("POST", "/v1/operator/plans"): {
        "lookup_key": "intruder_plan",
        "name": "X",
        "tier": "X",
        "period": "MONTHLY",
        "mailbox_types": ["SMTP"],
        "slots": 1,
        "price_cents": 1,
        "addon_price_cents": 1,
    },
    ("PATCH", "/v1/operator/plans/{lookup_key}"): {"price_cents": 1},
    ("POST", "/v1/domains/{domain_id}/scheduled-mailboxes"): {
        "mailboxes": [{"username": "intruder", "first_name": "A", "last_name": "B"}]
    },
    ("PATCH", "/v1/scheduled-mailboxes/{scheduled_id}"): {"username": "intruder"},
    ("POST", "/v1/export-accounts"): {
        "app": "INSTANTLY",
        "label": "intruder",
        "credentials": {"api_key": "k"},
    },
    ("PATCH", "/v1/export-accounts/{account_id}"): {"label": "intruder"},
    ("POST", "/v1/exports"): {"app": "INSTANTLY", "filter": {}},
    ("POST", "/v1/integrations"): {
        "kind": "dns",
        "provider": "cloudflare",
        "label": "intruder",
        "credentials": {"api_token": "t"},
    },
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    state = {}
    with db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            columns = [
                c for c in table.columns if (table.name, c.name) != ("api_keys", "last_used_at")
            ]
            rows = session.execute(select(*columns)).all()
            state[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return state


class Victim:
    def __init__(self, db: Database, client: TestClient) -> None:
        self.owner = make_tenant(db)
        self.domain = make_domain(
            db, self.owner.workspace_id, status=DomainStatus.ACTIVE, mailbox_type=MailboxType.GOOGLE
        )
        give_slots(db, self.owner.workspace_id, MailboxType.GOOGLE, 10)
        self.mailbox_id = make_mailbox(db, self.domain)
        self.record_id = make_dns_record(db, self.domain)
        self.order_id = make_order(
            db, self.owner.workspace_id, self.domain.id, status=OrderStatus.PENDING
        )
        batch = client.post(
            "/v1/domains", json={"domains": ["victim-batch.com"]}, headers=self.owner.headers
        )
        self.batch_id = batch.json()["batch_id"]
        invitation = client.post(
            f"/v1/workspaces/{self.owner.workspace_id}/invitations",
            json={"email": "invitee@example.com", "role": "EDITOR"},
            headers=self.owner.headers,
        )
        assert invitation.status_code == 201, invitation.text
        self.invitation_id = invitation.json()["id"]
        self.webhook_id, self.delivery_id = make_webhook(db, self.owner.workspace_id)
        seed_plans(db)
        self.subscription_id = make_subscription(db, self.owner.workspace_id)
        fund_wallet(db, self.owner.workspace_id, 100_000)
        addon = client.post(
            f"/v1/subscriptions/{self.subscription_id}/addons",
            json={"mailbox_type": "GOOGLE", "quantity": 1},
            headers=self.owner.headers,
        )
        assert addon.status_code == 201, addon.text
        self.addon_id = addon.json()["id"]
        scheduled = client.post(
            f"/v1/domains/{self.domain.id}/scheduled-mailboxes",
            json={"mailboxes": [{"username": "later", "first_name": "A", "last_name": "B"}]},
            headers=self.owner.headers,
        )
        assert scheduled.status_code == 201, scheduled.text
        self.scheduled_id = scheduled.json()["items"][0]["id"]
        with db.transaction(write=False) as session:
            self.invoice_id = session.scalar(
                select(Invoice.id).where(Invoice.workspace_id == self.owner.workspace_id).limit(1)
            )
        self.purchase_id = make_domain_purchase(db, self.owner.workspace_id)
        self.renewal_id = make_domain_renewal(db, self.domain)
        self.setup_id = make_quick_setup(db, self.owner.workspace_id)
        self.swap_id = make_domain_swap(db, self.owner.workspace_id, self.domain.id)
        with db.transaction(write=False) as session:
            self.key_id = session.scalar(
                select(ApiKey.id).where(ApiKey.user_id == self.owner.user_id)
            )
        account = client.post(
            "/v1/export-accounts",
            json={"app": "INSTANTLY", "label": "victim", "credentials": {"api_key": "k"}},
            headers=self.owner.headers,
        )
        assert account.status_code == 201, account.text
        self.account_id = account.json()["id"]
        export = client.post(
            "/v1/exports",
            json={"app": "INSTANTLY", "mailbox_ids": [str(self.mailbox_id)]},
            headers=self.owner.headers,
        )
        assert export.status_code == 202, export.text
        self.export_id = export.json()["id"]
        installation = client.post(
            "/v1/integrations",
            json={
                "kind": "dns",
                "provider": "cloudflare",
                "label": "victim",
                "credentials": {"api_token": "victim-token"},
            },
            headers=self.owner.headers,
        )
        assert installation.status_code == 201, installation.text
        self.installation_id = installation.json()["id"]

    def ids(self) -> dict[str, str]:
        return {
            "workspace_id": str(self.owner.workspace_id),
            "user_id": str(self.owner.user_id),
            "domain_id": str(self.domain.id),
            "batch_id": str(self.batch_id),
            "order_id": str(self.order_id),
            "mailbox_id": str(self.mailbox_id),
            "invitation_id": str(self.invitation_id),
            "key_id": str(self.key_id),
            "mailbox_type": "GOOGLE",
            "record_id": str(self.record_id),
            "setup_id": str(self.setup_id),
            "swap_id": str(self.swap_id),
            "webhook_id": str(self.webhook_id),
            "delivery_id": str(self.delivery_id),
            "subscription_id": str(self.subscription_id),
            "addon_id": str(self.addon_id),
            "scheduled_id": str(self.scheduled_id),
            "invoice_id": str(self.invoice_id),
            "lookup_key": "google_starter_monthly",
            # The payment provider says which cards are the workspace's (none here).
            "pm_id": "pm_card_visa",
            # Refunds are operator routes: a non-operator is refused before any lookup.
            "payment_id": "01900000-0000-7000-8000-000000000000",
            "account_id": str(self.account_id),
            "export_id": str(self.export_id),
            "installation_id": str(self.installation_id),
            "purchase_id": str(self.purchase_id),
            "renewal_id": str(self.renewal_id),
        }

    def body(self, method: str, path: str) -> Any:
        if (method, path) == ("POST", "/v1/mailbox-orders"):
            return {
                "domain": str(self.domain.id),
                "type": "GOOGLE",
                "mailboxes": [{"first_name": "A", "last_name": "B", "username": "intruder"}],
            }
        if method in ("POST", "PUT", "PATCH") and (method, path) not in SAMPLE_BODIES:
            return None
        return SAMPLE_BODIES.get((method, path))


def _fill(path: str, ids: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"add a victim resource for path parameter {{{name}}}"
        return ids[name]

    return re.sub(r"\{(\w+)\}", replace, path)


def _call(client: TestClient, caller: Caller, method: str, path: str, body: Any) -> Any:
    kwargs: dict[str, Any] = {"headers": caller.headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
        kwargs["headers"] = {**caller.headers, "content-type": "image/png"}
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, path, **kwargs)


def test_every_route_with_an_id_hides_other_workspaces(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    ids = victim.ids()
    checked = 0
    for method, path in _routes(client):
        if "{" not in path or path.startswith("/v1/operator/"):
            continue
        before = _snapshot(db)
        response = _call(client, intruder, method, _fill(path, ids), victim.body(method, path))
        assert response.status_code == 404, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        assert response.headers["content-type"] == "application/problem+json"
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    assert checked >= 20


def test_operator_routes_refuse_non_operators(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    ids = victim.ids()
    operator_routes = [(m, p) for m, p in _routes(client) if p.startswith("/v1/operator/")]
    assert operator_routes
    for method, path in operator_routes:
        before = _snapshot(db)
        response = _call(client, victim.owner, method, _fill(path, ids), victim.body(method, path))
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert response.json()["code"] == "operator_required"
        assert _snapshot(db) == before


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_a_viewer_cannot_write(db: Database, client: TestClient, role: Role) -> None:
    victim = Victim(db, client)
    viewer = make_member(db, victim.owner, role)
    ids = victim.ids()
    checked = 0
    for method, path in _routes(client):
        if method == "GET" or (method, path) in USER_LEVEL | PUBLIC_ROUTES:
            continue
        before = _snapshot(db)
        response = _call(client, viewer, method, _fill(path, ids), victim.body(method, path))
        assert response.status_code == 403, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    assert checked >= 15


def test_every_list_route_shows_only_the_callers_workspace(
    db: Database, client: TestClient
) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    victim_ids = {v for k, v in victim.ids().items() if k not in ("mailbox_type", "lookup_key")}
    for method, path in _routes(client):
        if method != "GET" or "{" in path or path.startswith("/v1/operator/") or path == "/health":
            continue
        if (method, path) in NOT_LISTS:
            continue
        response = _call(client, intruder, method, path, None)
        assert response.status_code == 200, f"{path}: {response.text}"
        leaked = [v for v in victim_ids if v in response.text]
        assert not leaked, f"GET {path} shows another workspace's ids {leaked}"
