"""The RDAP pre-filter: registered names (200) are TAKEN without asking the registrar; a 404, a
failure or a TLD the bootstrap does not know leaves the name to the registrar. Checked against a
local RDAP server named by a test bootstrap file, and the shipped bootstrap's content."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.registrars import rdap
from tests.factories import make_tenant
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun
from tests.fakes.rdap import FakeRdap


@pytest.fixture
def registry() -> Iterator[FakeRdap]:
    with FakeRdap(registered={"held.com", "owned.com"}, broken={"broken.com"}) as fake:
        yield fake


@pytest.fixture
def porkbun() -> Iterator[FakePorkbun]:
    with FakePorkbun() as fake:
        yield fake


@pytest.fixture
def selling(
    make_client: Callable[..., TestClient],
    porkbun: FakePorkbun,
    registry: FakeRdap,
    tmp_path: Path,
) -> TestClient:
    return make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=porkbun.base_url,
        rdap_enabled=True,
        rdap_bootstrap_file=str(registry.bootstrap(tmp_path / "dns.json", ["com"])),
    )


def checked(porkbun: FakePorkbun) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in porkbun.calls("POST", r".*/checkDomain/.*")]


def test_registered_names_are_taken_without_asking_the_registrar(
    db: Database, selling: TestClient, porkbun: FakePorkbun, registry: FakeRdap
) -> None:
    owner = make_tenant(db)
    response = selling.post(
        "/v1/domain-availability",
        json={"names": ["held.com", "free.com", "broken.com", "acme.io", "owned.com"]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["name"], i["verdict"]) for i in items] == [
        ("held.com", "TAKEN"),
        ("free.com", "AVAILABLE"),
        ("broken.com", "AVAILABLE"),
        ("acme.io", "AVAILABLE"),
        ("owned.com", "TAKEN"),
    ]
    assert items[0]["reason"] == "Registered (RDAP)"
    assert items[0]["price_cents"] is None
    # 404 and 500 went on to the registrar; .io is not in the test bootstrap: no RDAP query.
    assert checked(porkbun) == ["free.com", "broken.com", "acme.io"]
    assert sorted(r.path for r in registry.log) == [
        "/domain/broken.com",
        "/domain/free.com",
        "/domain/held.com",
        "/domain/owned.com",
    ]


def test_turned_off_it_asks_nothing(
    db: Database, make_client: Callable[..., TestClient], porkbun: FakePorkbun, registry: FakeRdap
) -> None:
    client = make_client(
        registrar="porkbun",
        porkbun_api_key=API_KEY,
        porkbun_secret_api_key=SECRET,
        porkbun_api_base=porkbun.base_url,
        rdap_enabled=False,
    )
    owner = make_tenant(db)
    response = client.get("/v1/domain-availability?name=held.com", headers=owner.headers)
    assert response.json()["verdict"] == "AVAILABLE"  # the fake registrar's own answer
    assert registry.log == []


def test_without_a_registrar_rdap_is_not_asked(
    db: Database, make_client: Callable[..., TestClient], registry: FakeRdap, tmp_path: Path
) -> None:
    client = make_client(
        rdap_enabled=True,
        rdap_bootstrap_file=str(registry.bootstrap(tmp_path / "dns.json", ["com"])),
    )
    owner = make_tenant(db)
    response = client.get("/v1/domain-availability?name=held.com", headers=owner.headers)
    assert response.status_code == 409
    assert registry.log == []


def test_lookups_run_in_parallel(registry: FakeRdap, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        rdap_bootstrap_file=str(registry.bootstrap(tmp_path / "dns.json", ["com"])),
        rdap_concurrency=3,
    )
    registry.release.clear()
    found: dict[str, set[str]] = {}
    worker = threading.Thread(
        target=lambda: found.update(taken=rdap.registered(settings, ["a.com", "held.com", "c.com"]))
    )
    worker.start()
    try:
        # All three are at the server at once, none answered yet.
        assert registry.held(3)
    finally:
        registry.release.set()
        worker.join(30)
    assert found["taken"] == {"held.com"}


def test_an_unreachable_rdap_server_leaves_it_to_the_registrar(tmp_path: Path) -> None:
    with FakeRdap(registered={"held.com"}) as gone:
        path = gone.bootstrap(tmp_path / "dns.json", ["com"])
    settings = Settings(data_dir=tmp_path, rdap_bootstrap_file=str(path))
    assert rdap.registered(settings, ["held.com"]) == set()


def test_the_shipped_bootstrap_covers_the_common_tlds_over_https() -> None:
    shipped = resources.files("mailfleet.registrars").joinpath("rdap_bootstrap.json")
    data = json.loads(shipped.read_text(encoding="utf-8"))
    tlds = {tld: urls for tlds, urls in data["services"] for tld in tlds}
    assert {"com", "net", "org", "io", "co"} <= set(tlds)
    assert all(url.startswith("https://") for urls in tlds.values() for url in urls)
    assert {"version", "publication", "services"} <= set(data)
