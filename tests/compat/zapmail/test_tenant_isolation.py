"""Tenant isolation of /zapmail, generated from its own route table (as for /v1).

Zapmail names objects in the query (`?id=`, `?memberId=`) and in bodies (`mailboxIds`,
`assignedDomainId`), not in the path, so every operation has a sample call here, built from
a victim's objects; an operation added later without one fails these tests. Another account
calling with the victim's ids gets 404 and changes nothing; a VIEWER is refused every write;
no list shows another account's objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType, Role
from tests.factories import (
    Caller,
    fund_wallet,
    give_slots,
    make_dns_record,
    make_domain,
    make_mailbox,
    make_member,
    make_quick_setup,
    make_subscription,
    make_tenant,
    seed_plans,
)
from tests.test_tenant_isolation import _snapshot


@dataclass
class Call:
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # Names one of the victim's objects: another account must get 404.
    names_victim: bool = True
    # A read sent as POST (the document's list-by-filters and lookups): a VIEWER may call it.
    read: bool = False
    # Answers about the outside world (a registrar's availability), not the caller's objects:
    # not walked by the list check.
    listing: bool = True


BILLING = {
    "firstName": "A",
    "lastName": "B",
    "company": "Intruder Ltd",
    "addressLineOne": "1 Main St",
    "city": "Berlin",
    "state": "BE",
    "country": "DE",
    "postalCode": "10115",
    "phoneCc": "49",
    "phone": "301234567",
    "languagePreference": "en",
}


class Victim:
    def __init__(self, db: Database, client: TestClient) -> None:
        seed_plans(db)
        self.owner = make_tenant(db)
        self.domain = make_domain(
            db, self.owner.workspace_id, status=DomainStatus.ACTIVE, mailbox_type=MailboxType.GOOGLE
        )
        give_slots(db, self.owner.workspace_id, MailboxType.GOOGLE, 10)
        self.mailbox = make_mailbox(db, self.domain)
        self.record = make_dns_record(db, self.domain)
        fund_wallet(db, self.owner.workspace_id, 100_000)
        self.subscription = make_subscription(db, self.owner.workspace_id)
        invited = client.post(
            f"/v1/workspaces/{self.owner.workspace_id}/invitations",
            json={"email": "invitee@example.com", "role": "EDITOR"},
            headers=self.owner.headers,
        )
        assert invited.status_code == 201, invited.text
        self.invitation = invited.json()["id"]
        self.export_account, self.export_number = _export_objects(client, self.owner, self.mailbox)
        self.quick_setup = make_quick_setup(db, self.owner.workspace_id)

    def secrets(self) -> set[str]:
        return {
            str(self.domain.id),
            self.domain.name,
            str(self.mailbox),
            str(self.record),
            str(self.subscription),
            str(self.owner.user_id),
            str(self.owner.workspace_id),
        }

    def samples(self) -> dict[tuple[str, str], Callable[[], Call]]:
        d, m = str(self.domain.id), str(self.mailbox)
        entry = [
            {
                "firstName": "A",
                "lastName": "B",
                "mailboxUsername": "intruder",
                "domainName": self.domain.name,
            }
        ]
        record = {"host": "x", "value": "203.0.113.9", "recordType": "A"}
        none = Call(names_victim=False)
        w, u = str(self.owner.workspace_id), str(self.owner.user_id)
        return {
            # Domain search and purchase name no object of anyone's; the registrar decides.
            ("POST", "/api/v2/domains/available"): lambda: Call(
                body={"domainName": "example.com"}, names_victim=False, read=True, listing=False
            ),
            ("POST", "/api/v2/domains/available-bulk"): lambda: Call(
                body={"domainNames": ["example.com"]}, names_victim=False, read=True, listing=False
            ),
            ("POST", "/api/v2/domains/buy"): lambda: Call(
                body={"domains": [{"domainName": "example.com"}]},
                names_victim=False,
                read=True,
                listing=False,
            ),
            ("POST", "/api/v2/quick-setup"): lambda: Call(
                body={}, names_victim=False, read=True, listing=False
            ),
            ("GET", "/api/v2/workspaces"): lambda: none,
            ("GET", "/api/v1/workspace/list"): lambda: none,
            # Anyone may create a workspace of their own, a VIEWER elsewhere too.
            ("POST", "/api/v2/workspaces"): lambda: Call(
                body={"name": "Mine", "billingDetails": BILLING}, names_victim=False, read=True
            ),
            ("POST", "/api/v1/workspace/create"): lambda: Call(
                body={"name": "Mine v1"}, names_victim=False, read=True
            ),
            ("PUT", "/api/v2/workspaces"): lambda: Call(body={"id": w, "name": "Stolen"}),
            ("DELETE", "/api/v2/workspaces"): lambda: Call({"id": w}),
            ("POST", "/api/v2/billing"): lambda: Call(body=BILLING, names_victim=False),
            ("PUT", "/api/v2/billing"): lambda: Call(body=BILLING, names_victim=False),
            ("POST", "/api/v1/billing-details/add-or-update"): lambda: Call(
                body={**BILLING, "workspaceId": w}
            ),
            ("GET", "/api/v2/workspaces/members"): lambda: none,
            ("PUT", "/api/v2/workspaces/members"): lambda: Call(
                {"memberId": u}, body={"role": "VIEWER"}
            ),
            ("DELETE", "/api/v2/workspaces/members"): lambda: Call({"memberId": u}),
            ("POST", "/api/v2/workspaces/invitations"): lambda: Call(
                body={"email": "someone@example.com", "role": "VIEWER"}, names_victim=False
            ),
            ("GET", "/api/v2/workspaces/invitations"): lambda: none,
            ("DELETE", "/api/v2/workspaces/invitations"): lambda: Call(
                {"invitationId": str(self.invitation)}
            ),
            ("GET", "/api/v2/users"): lambda: none,
            ("GET", "/api/v1/user/details"): lambda: none,
            ("GET", "/api/v2/mailboxes/list"): lambda: none,
            ("GET", "/api/v1/mailbox/list"): lambda: none,
            ("GET", "/api/v2/mailboxes"): lambda: Call({"id": m}),
            ("GET", "/api/v1/mailbox/details"): lambda: Call({"id": m}),
            ("POST", "/api/v2/mailboxes"): lambda: Call(body={d: entry}),
            ("POST", "/api/v1/mailbox/assign-new"): lambda: Call(body={d: entry}),
            ("PUT", "/api/v2/mailboxes/scheduled-removal"): lambda: Call(
                body={"mailboxIds": [m], "remove": True}
            ),
            ("PUT", "/api/v1/mailbox/remove-mailboxes-on-next-renewal"): lambda: Call(
                body={"mailboxIds": [m], "remove": True}
            ),
            ("GET", "/api/v2/mailboxes/authenticator-code"): lambda: Call({"mailboxId": m}),
            ("POST", "/api/v2/mailboxes/remove-mailboxes-instantly"): lambda: Call(
                body={"mailboxIds": [m], "remove": True}
            ),
            ("POST", "/api/v2/mailboxes/schedule"): lambda: Call(body={d: entry}),
            ("PUT", "/api/v2/mailboxes/retry-failed"): lambda: Call(body={"domainIds": [d]}),
            ("GET", "/api/v2/domains"): lambda: none,
            ("GET", "/api/v1/domain/list"): lambda: none,
            ("POST", "/api/v2/domains"): lambda: Call(body={}, names_victim=False, read=True),
            ("GET", "/api/v2/domains/assignable"): lambda: none,
            ("GET", "/api/v2/domains/tags"): lambda: none,
            ("GET", "/api/v2/quick-setup/status"): lambda: Call({"id": str(self.quick_setup)}),
            ("POST", "/api/v2/domains/dmarc"): lambda: Call(
                body={"domainIds": [d], "email": "reports@intruder.example"}
            ),
            ("POST", "/api/v2/domains/forwarding"): lambda: Call(
                body={"domainIds": [d], "forwardTo": "intruder.example"}
            ),
            ("POST", "/api/v2/domains/email-forwarding"): lambda: Call(
                body={"domainIds": [d], "email": "copy@intruder.example"}
            ),
            ("DELETE", "/api/v2/domains/email-forwarding"): lambda: Call(body={"domainIds": [d]}),
            ("POST", "/api/v2/domains/catch-all"): lambda: Call(
                body={"domainIds": [d], "email": "all@intruder.example"}
            ),
            ("DELETE", "/api/v2/domains/catch-all"): lambda: Call(body={"domainIds": [d]}),
            ("POST", "/api/v2/domains/add-client-id"): lambda: Call(
                body={"domainIds": [d], "clientId": "1-x.apps.googleusercontent.com", "app": "X"}
            ),
            ("POST", "/api/v2/domains/update-auto-renew"): lambda: Call(
                body={"domainIds": [d], "autoRenew": False}
            ),
            ("POST", "/api/v2/workspaces/update-domain-renewal-settings"): lambda: Call(
                body={"domainRenewalSettings": False}, names_victim=False
            ),
            ("DELETE", "/api/v2/domains"): lambda: Call(body={"ids": [d]}),
            ("GET", "/api/v2/domains/health-score"): lambda: Call({"domainId": d}),
            ("POST", "/api/v2/domains/check-dns"): lambda: Call(body={"domainIds": [d]}),
            # Names are free to try: a name another account holds is refused, never shown.
            ("POST", "/api/v2/domains/name-servers"): lambda: Call(
                body={"domainName": self.domain.name, "maskForwarding": False},
                names_victim=False,
            ),
            ("POST", "/api/v2/domains/name-servers/verify"): lambda: Call(
                body={"domainName": self.domain.name}
            ),
            ("POST", "/api/v2/domains/connect-domain"): lambda: Call(
                body={"domainNames": [self.domain.name]}, names_victim=False
            ),
            ("GET", "/api/v2/domains/connection-requests"): lambda: none,
            ("DELETE", "/api/v2/domains/connection-requests"): lambda: Call(body={"ids": [d]}),
            ("GET", "/api/v2/dns"): lambda: Call({"id": d}),
            ("POST", "/api/v2/dns"): lambda: Call(
                body={"assignedDomainId": d, "records": [record]}
            ),
            ("PUT", "/api/v2/dns"): lambda: Call(
                body={"assignedDomainId": d, "records": [{**record, "id": str(self.record)}]}
            ),
            ("DELETE", "/api/v2/dns"): lambda: Call(
                body={"assignedDomainId": d, "ids": [str(self.record)]}
            ),
            ("GET", "/api/v2/wallet/balance"): lambda: none,
            ("POST", "/api/v2/wallet/balance"): lambda: Call(
                body={"amount": 10}, names_victim=False
            ),
            ("POST", "/api/v2/wallet/enable-auto-recharge"): lambda: Call(
                body={"enable": False}, names_victim=False
            ),
            ("POST", "/api/v2/wallet/buy-addon-mailboxes"): lambda: Call(
                {"quantity": "1"}, names_victim=False
            ),
            ("POST", "/api/v2/payment/invoices"): lambda: Call(
                body={"subscriptionId": str(self.subscription)}, read=True
            ),
            ("GET", "/api/v2/subscriptions"): lambda: none,
            ("GET", "/api/v1/user/subscriptions"): lambda: none,
            ("POST", "/api/v2/subscriptions/purchase"): lambda: Call(
                body={"lookupKey": "google_starter_monthly"}, names_victim=False
            ),
            ("POST", "/api/v2/subscriptions/cancel"): lambda: Call(
                body={"subscriptionId": str(self.subscription), "revertCancellation": False}
            ),
            ("POST", "/api/v2/subscriptions/upgrade"): lambda: Call(
                body={
                    "subscriptionId": str(self.subscription),
                    "lookupKey": "google_growth_monthly",
                }
            ),
            ("POST", "/api/v2/subscriptions/mailboxes"): lambda: Call(
                body={"subscriptionId": str(self.subscription)}, read=True
            ),
            **self.export_samples(),
        }

    def export_samples(self) -> dict[tuple[str, str], Callable[[], Call]]:
        a, m = self.export_account, str(self.mailbox)
        export = {"apps": ["INSTANTLY"], "ids": [m], "thirdPartyAccountId": a}
        login = {"email": "intruder@example.com", "password": "pw", "app": "INSTANTLY"}
        return {
            ("POST", "/api/v2/exports/mailboxes"): lambda: Call(body=export),
            ("POST", "/api/v1/exports/export-mailboxes"): lambda: Call(body=export),
            ("GET", "/api/v2/exports/status"): lambda: Call({"exportId": self.export_number}),
            ("POST", "/api/v2/exports/accounts/third-party"): lambda: Call(
                body=login, names_victim=False
            ),
            ("POST", "/api/v1/exports/add-third-party-account"): lambda: Call(
                body=login, names_victim=False
            ),
            ("PUT", "/api/v2/exports/accounts/third-party"): lambda: Call(
                body={**login, "accountId": a}
            ),
            ("POST", "/api/v1/exports/update-third-party-account"): lambda: Call(
                body={**login, "accountId": a}
            ),
            ("GET", "/api/v2/exports/accounts/third-party"): lambda: Call(
                {"app": "INSTANTLY"}, names_victim=False
            ),
            ("GET", "/api/v2/exports/fetch-workspaces"): lambda: Call(
                {"app": "INSTANTLY", "accountId": a}
            ),
        }


def _export_objects(client: TestClient, owner: Caller, mailbox: object) -> tuple[str, str]:
    """A third-party account and an export (number 1) of the victim's, through the surface."""
    login = {"email": "victim@example.com", "password": "key", "app": "INSTANTLY"}
    headers = owner.zapmail_headers
    added = client.post("/zapmail/api/v2/exports/accounts/third-party", json=login, headers=headers)
    assert added.status_code == 200, added.text
    account = client.get("/v1/export-accounts", headers=owner.headers).json()["items"][0]["id"]
    body = {"apps": ["INSTANTLY"], "ids": [str(mailbox)]}
    exported = client.post("/zapmail/api/v2/exports/mailboxes", json=body, headers=headers)
    assert exported.status_code == 200, exported.text
    return account, exported.headers["X-Export-Ids"]


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/zapmail/openapi.json").json()["paths"]
    return [
        (method.upper(), path.removeprefix("/zapmail"))
        for path, ops in paths.items()
        for method in ops
    ]


def _call(client: TestClient, method: str, path: str, call: Call, headers: dict[str, str]) -> Any:
    return client.request(
        method, f"/zapmail{path}", params=call.query, json=call.body, headers=headers
    )


def _samples(victim: Victim, client: TestClient) -> list[tuple[str, str, Call]]:
    samples = victim.samples()
    found = []
    for method, path in _routes(client):
        assert (method, path) in samples, f"add a sample call for {method} {path}"
        found.append((method, path, samples[(method, path)]()))
    return found


def test_every_operation_naming_an_object_hides_other_accounts(
    db: Database, client: TestClient
) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    give_slots(db, intruder.workspace_id, MailboxType.GOOGLE, 10)
    checked = 0
    for method, path, call in _samples(victim, client):
        if not call.names_victim:
            continue
        before = _snapshot(db)
        response = _call(client, method, path, call, intruder.zapmail_headers)
        assert response.status_code == 404, f"{method} {path}: {response.text}"
        assert response.json()["status"] == 404
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    assert checked >= 15


def test_a_viewer_cannot_write(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    viewer = make_member(db, victim.owner, Role.VIEWER)
    checked = 0
    for method, path, call in _samples(victim, client):
        if method == "GET" or call.read:
            continue
        before = _snapshot(db)
        response = _call(client, method, path, call, viewer.zapmail_headers)
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert response.json()["code"] == "insufficient_role"
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    assert checked >= 15


def test_no_list_shows_another_accounts_objects(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    secrets = victim.secrets()
    for method, path, call in _samples(victim, client):
        if call.names_victim or not call.listing or not (method == "GET" or call.read):
            continue
        response = _call(client, method, path, call, intruder.zapmail_headers)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        leaked = [s for s in secrets if s in response.text]
        assert not leaked, f"{method} {path} shows another account's {leaked}"
