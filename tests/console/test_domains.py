"""Domain pages: submit a pasted list (the native batch submit), the batch's progress as JSON
for the page's script, the list, one domain; another workspace's are 404."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainBatch, DomainStatus, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import (
    Caller,
    count_rows,
    make_dns_record,
    make_domain,
    make_member,
    make_tenant,
)


def _submit(console: TestClient, pasted: str, **extra: str) -> object:
    token = csrf_of(console.get("/console/domains").text)
    return console.post(
        "/console/domains",
        data={"csrf_token": token, "domains": pasted, **extra},
        follow_redirects=False,
    )


def test_a_pasted_list_becomes_a_batch_with_its_nameservers(
    console: TestClient, owner: Caller, db: Database
) -> None:
    answer = _submit(console, "acme-mail.com\ngetacme.com, acme-mail.com", mailbox_type="SMTP")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    location = answer.headers["location"]  # type: ignore[attr-defined]
    batch_id = uuid.UUID(location.rsplit("/", 1)[1])
    assert count_rows(db, Domain, workspace_id=owner.workspace_id) == 2
    page = console.get(location)
    assert page.status_code == 200
    assert "Submitted 3, accepted 2, rejected 1." in page.text
    assert 'data-copy="ns1.mailfleet.local"' in page.text
    assert f'data-progress-url="/console/api/batches/{batch_id}"' in page.text
    progress = console.get(f"/console/api/batches/{batch_id}")
    assert progress.status_code == 200
    body = progress.json()
    assert list(body) == ["batch_id", "status", "counts", "domains"]
    assert body["batch_id"] == str(batch_id)
    assert [d["name"] for d in body["domains"]] == ["acme-mail.com", "getacme.com"]
    assert body["domains"][0]["status"] in ("QUEUED", "PENDING_NS")
    assert body["status"] == "PENDING"
    assert sum(body["counts"].values()) == 2


def test_progress_follows_the_domains_status(
    console: TestClient, owner: Caller, db: Database
) -> None:
    location = _submit(console, "follow-me.com").headers["location"]  # type: ignore[attr-defined]
    batch_id = location.rsplit("/", 1)[1]
    with db.transaction() as session:
        session.query(Domain).filter(Domain.name == "follow-me.com").update(
            {"status": DomainStatus.ACTIVE}
        )
    body = console.get(f"/console/api/batches/{batch_id}").json()
    assert body["status"] == "DONE"
    assert body["domains"][0]["status"] == "ACTIVE"
    assert body["counts"]["ACTIVE"] == 1


def test_a_list_with_nothing_acceptable_shows_the_reasons_and_changes_nothing(
    console: TestClient, owner: Caller, db: Database
) -> None:
    answer = _submit(console, "not a domain!!")
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert 'id="submit-error"' in answer.text  # type: ignore[attr-defined]
    # The reason per name, and the list as pasted, to correct and resend.
    assert "domains[0]:" in answer.text  # type: ignore[attr-defined]
    assert ">not a domain!!</textarea>" in answer.text  # type: ignore[attr-defined]
    assert count_rows(db, DomainBatch) == 0


def test_submitting_without_the_csrf_token_is_403_and_changes_nothing(
    console: TestClient, db: Database
) -> None:
    answer = console.post("/console/domains", data={"domains": "forged.com"})
    assert answer.status_code == 403
    assert count_rows(db, Domain) == 0


def test_the_domain_list_filters_by_status_and_name(
    console: TestClient, owner: Caller, db: Database
) -> None:
    make_domain(db, owner.workspace_id, name="alpha-one.com")
    make_domain(db, owner.workspace_id, name="beta-two.com", status=DomainStatus.PENDING_NS)
    everything = console.get("/console/domains").text
    assert "alpha-one.com" in everything
    assert "beta-two.com" in everything
    pending = console.get("/console/domains?status=PENDING_NS").text
    assert "beta-two.com" in pending
    assert "alpha-one.com" not in pending
    named = console.get("/console/domains?q=alpha").text
    assert "alpha-one.com" in named
    assert "beta-two.com" not in named


def test_a_domain_page_shows_its_nameservers(
    console: TestClient, owner: Caller, db: Database
) -> None:
    domain = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    page = console.get(f"/console/domains/{domain.id}")
    assert page.status_code == 200
    assert re.search(r'id="domain-status">PENDING_NS<', page.text)
    assert 'data-copy="ns2.mailfleet.local"' in page.text


def test_a_domain_page_shows_its_records_and_health(
    console: TestClient, owner: Caller, db: Database
) -> None:
    domain = make_domain(db, owner.workspace_id)
    make_dns_record(db, domain, type="MX", content="mx.mail.test.", priority=10, managed=True)
    make_dns_record(db, domain, name=f"www.{domain.name}", type="CNAME", content="acme.test.")
    html = console.get(f"/console/domains/{domain.id}").text
    records = html.split('<table id="record-list">')[1].split("</table>")[0]
    assert (
        '<td>MX</td><td class="content">mx.mail.test.</td><td>3600</td><td>10</td><td>yes</td>'
        in records
    )
    assert f"<td>www.{domain.name}</td><td>CNAME</td>" in records
    assert '<dd id="dns-health">not checked yet</dd>' in html
    with db.transaction() as session:
        found = session.get_one(Domain, domain.id)
        found.health_checked_at, found.dns_drift = clock.now(), True
    html = console.get(f"/console/domains/{domain.id}").text
    assert "records changed or missing at the last check" in html


def test_another_workspaces_domain_and_batch_are_404(console: TestClient, db: Database) -> None:
    stranger = make_tenant(db)
    theirs = make_domain(db, stranger.workspace_id)
    with db.transaction() as session:
        batch = DomainBatch(workspace_id=stranger.workspace_id)
        session.add(batch)
        session.flush()
        batch_id = batch.id
    page = console.get(f"/console/domains/{theirs.id}")
    assert page.status_code == 404
    assert theirs.name not in page.text
    assert console.get(f"/console/batches/{batch_id}").status_code == 404
    progress = console.get(f"/console/api/batches/{batch_id}")
    assert progress.status_code == 404
    assert progress.json()["code"] == "domain_batch_not_found"
    assert console.get("/console/domains/not-a-uuid").status_code == 404
    assert theirs.name not in console.get("/console/domains").text


def test_a_viewer_sees_no_submit_form_and_cannot_post(
    client: TestClient, owner: Caller, db: Database
) -> None:
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    page = client.get("/console/domains").text
    assert 'action="/console/domains"' in page  # the filter form (GET) stays
    assert 'method="post" action="/console/domains"' not in page
    answer = client.post("/console/domains", data={"csrf_token": token, "domains": "v.com"})
    assert answer.status_code == 403
    assert "insufficient_role" in answer.text
    assert count_rows(db, Domain) == 0


def test_the_progress_json_without_a_session_is_a_json_401(client: TestClient) -> None:
    answer = client.get(f"/console/api/batches/{uuid.uuid4()}", follow_redirects=False)
    assert answer.status_code == 401
    assert answer.json()["code"] == "console_sign_in_required"
