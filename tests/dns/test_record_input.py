"""What users type into records and DNS settings cannot reach outside its place in the zone.

An absolute record name outside the zone is refused (it used to be stored under the zone);
DMARC report addresses are validated as mailto URIs, so none can add a tag to the record.
On the builtin provider: what is stored is what the server serves.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import Caller, make_tenant
from tests.support.jobs import drain


def _zone(client: TestClient, caller: Caller, mailbox_type: str | None = None) -> tuple[str, str]:
    name = f"input-{uuid.uuid4().hex[:10]}.com"
    body: dict[str, Any] = {"domains": [name]}
    if mailbox_type:
        body["mailbox_type"] = mailbox_type
    response = client.post("/v1/domains", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    return f"/v1/domains/{response.json()['accepted'][0]['id']}", name


def _records(client: TestClient, caller: Caller, base: str) -> list[dict[str, Any]]:
    response = client.get(f"{base}/dns/records", headers=caller.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@pytest.mark.parametrize("outside", ["evil.other-zone.com.", "other-zone.com.", "."])
def test_an_absolute_name_outside_the_zone_is_refused(
    db: Database, client: TestClient, outside: str
) -> None:
    caller = make_tenant(db)
    base, name = _zone(client, caller)
    before = _records(client, caller, base)
    record = {"name": outside, "type": "A", "content": "192.0.2.66"}

    added = client.post(f"{base}/dns/records", json=record, headers=caller.headers)

    assert added.status_code == 422, added.text
    assert added.json()["code"] == "record_name_outside_zone"
    assert added.json()["field"] == "name"
    assert name in added.json()["detail"]
    # Nor through an update of a record of the zone.
    mine = {"name": "app", "type": "A", "content": "192.0.2.1"}
    created = client.post(f"{base}/dns/records", json=mine, headers=caller.headers).json()
    moved = client.put(f"{base}/dns/records/{created['id']}", json=record, headers=caller.headers)
    assert moved.status_code == 422, moved.text
    assert moved.json()["code"] == "record_name_outside_zone"
    names = {row["name"] for row in _records(client, caller, base)}
    assert names == {row["name"] for row in before} | {f"app.{name}"}


def test_relative_names_and_absolute_names_inside_the_zone_keep_working(
    db: Database, client: TestClient
) -> None:
    caller = make_tenant(db)
    base, name = _zone(client, caller)
    given = {
        "www": f"www.{name}",
        f"api.{name}.": f"api.{name}",
        f"API.{name.upper()}": f"api.{name}",
        "@": name,
        f"{name}.": name,
        # No final dot: relative, as in a zone file.
        "mail.other-zone.com": f"mail.other-zone.com.{name}",
    }
    for index, (written, stored) in enumerate(given.items()):
        record = {"name": written, "type": "A", "content": f"192.0.2.{index + 1}"}
        response = client.post(f"{base}/dns/records", json=record, headers=caller.headers)
        assert response.status_code == 201, (written, response.text)
        assert response.json()["name"] == stored


def _dmarc(client: TestClient, caller: Caller, base: str, name: str) -> list[str]:
    return [
        row["content"]
        for row in _records(client, caller, base)
        if row["name"] == f"_dmarc.{name}" and row["type"] == "TXT"
    ]


@pytest.mark.parametrize(
    "rua",
    [
        "mailto:x@example.com;p=reject",
        "x@example.com; p=reject",
        "x@example.com p=reject",
        "mailto:x@example.com!10m",
        "x@example.com,mailto:y@example.com;ruf=mailto:z@evil.example",
        "not-an-address",
        'x"@example.com',
    ],
)
def test_dmarc_report_addresses_cannot_inject_tags(
    db: Database, client: TestClient, rua: str
) -> None:
    caller = make_tenant(db)
    base, name = _zone(client, caller, "SMTP")
    [before] = _dmarc(client, caller, base, name)

    response = client.patch(base, json={"dmarc_rua": rua}, headers=caller.headers)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "dmarc_rua"
    assert response.json()["errors"][0]["code"] == "invalid_report_address"
    assert rua not in response.text  # the input is not echoed back
    assert _dmarc(client, caller, base, name) == [before]
    assert before.count("p=") == 1


def test_dmarc_report_addresses_are_published_as_mailto_uris(
    db: Database, client: TestClient
) -> None:
    caller = make_tenant(db)
    base, name = _zone(client, caller, "SMTP")

    response = client.patch(
        base,
        json={"dmarc_policy": "quarantine", "dmarc_rua": "Mailto:Reports@Example.com, b@y.test"},
        headers=caller.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["dmarc_rua"] == "reports@example.com,b@y.test"
    assert _dmarc(client, caller, base, name) == [
        "v=DMARC1; p=quarantine; rua=mailto:reports@example.com,mailto:b@y.test"
    ]
    cleared = client.patch(base, json={"dmarc_rua": None}, headers=caller.headers)
    assert cleared.status_code == 200, cleared.text
    assert _dmarc(client, caller, base, name) == ["v=DMARC1; p=quarantine"]
