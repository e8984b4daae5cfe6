"""`mailfleet plans seed|list|retire` on the test database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Plan
from tests.cli.conftest import RunCli
from tests.factories import count_rows, make_tenant


def test_plans_seed_list_and_retire(cli: RunCli, db: Database, client: TestClient) -> None:
    seeded = cli("plans", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert "36 plan(s) created" in seeded.output
    assert "0 plan(s) created" in cli("plans", "seed").output
    assert count_rows(db, Plan) == 36
    listed = cli("plans", "list")
    assert listed.exit_code == 0
    assert "google_starter_monthly" in listed.output
    retired = cli("plans", "retire", "google_starter_monthly")
    assert retired.exit_code == 0, retired.output
    owner = make_tenant(db)
    keys = [p["lookup_key"] for p in client.get("/v1/plans", headers=owner.headers).json()["items"]]
    assert "google_starter_monthly" not in keys
    assert len(keys) == 35
    unknown = cli("plans", "retire", "nope")
    assert unknown.exit_code == 1
    assert "plan_not_found" in unknown.output
