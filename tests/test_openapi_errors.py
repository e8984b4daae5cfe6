"""The OpenAPI document lists per route the error codes it can answer with, from one registry.

Each operation carries `x-error-codes` (every code it can answer) and, per status, a response
whose description names them and, on the native surface, whose problem schema enumerates
`code`. Whether the codes routes really answer are listed is checked over the whole test run
by tests/support/problems.py; here the document is checked against the registry, and the
declarations themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from mailfleet.app import create_app
from mailfleet.exception_handlers import PROBLEM_CONTENT_TYPE
from mailfleet.exceptions import ERROR_CODES, Conflict
from mailfleet.kit.errordocs import EXTENSION, declares, errors
from mailfleet.surfaces.native import native_surface
from mailfleet.surfaces.recipe import SurfaceApp, build_surface
from tests.conftest import base_settings
from tests.support import problems
from tests.surfaces.testsurface import PREFIX as TEST_PREFIX
from tests.surfaces.testsurface import make_test_surface

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    app = create_app(base_settings(tmp, f"sqlite:///{tmp}/mailfleet.db"))
    return TestClient(app).get("/openapi.json").json()


def _operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _enum(operation: dict[str, Any], status: int) -> list[str]:
    schema = operation["responses"][str(status)]["content"][PROBLEM_CONTENT_TYPE]["schema"]
    enum: list[str] = schema["allOf"][1]["properties"]["code"]["enum"]
    return enum


def test_every_code_in_the_document_is_in_the_registry_under_its_status(
    document: dict[str, Any],
) -> None:
    api = [(m, p, op) for m, p, op in _operations(document) if p.startswith("/v1/")]
    assert len(api) > 50
    for method, path, operation in api:
        listed = operation[EXTENSION]
        assert set(listed) <= set(ERROR_CODES), (method, path)
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or PROBLEM_CONTENT_TYPE not in response.get(
                "content", {}
            ):
                continue
            if "schema" not in response["content"][PROBLEM_CONTENT_TYPE]:
                continue  # a status the surface documents for every route, no code of its own
            for code in _enum(operation, int(status)):
                assert code in listed, (method, path, status, code)
                assert int(status) in ERROR_CODES[code].statuses, (method, path, status, code)
                assert f"`{code}`" in response["description"]
        # Every code listed appears under each of its statuses.
        for code in listed:
            for status in ERROR_CODES[code].statuses:
                assert code in _enum(operation, status), (method, path, code, status)


def test_a_route_lists_its_services_codes_its_dependencies_and_the_surfaces(
    document: dict[str, Any],
) -> None:
    order = document["paths"]["/v1/mailbox-orders"]["post"]
    assert {"quota_exceeded", "domain_mailbox_limit", "username_taken"} <= set(_enum(order, 409))
    assert "idempotency_key_in_progress" in _enum(order, 409)  # POST is idempotent
    assert {"missing_credentials", "invalid_api_key"} == set(_enum(order, 401))
    assert "insufficient_role" in _enum(order, 403)  # Editor
    assert "operator_required" not in order[EXTENSION]
    assert {"malformed_json"} <= set(_enum(order, 400))  # it takes a body
    assert "request_too_large" in _enum(order, 413)
    assert "rate_limited" in _enum(order, 429)

    domain = document["paths"]["/v1/domains/{domain_id}"]["get"]
    assert set(_enum(domain, 404)) == {"domain_not_found", "workspace_not_found"}
    assert "idempotency_key_in_progress" not in domain[EXTENSION]
    assert "malformed_json" not in domain[EXTENSION]
    # 409 is documented for every route, but no code of this one answers it.
    assert "schema" not in domain["responses"]["409"]["content"][PROBLEM_CONTENT_TYPE]

    operator = document["paths"]["/v1/operator/mailbox-orders/{order_id}/start"]["post"]
    assert "operator_required" in _enum(operator, 403)
    assert "order_not_pending" in _enum(operator, 409)
    assert "invalid_cursor" in document["paths"]["/v1/domains"]["get"][EXTENSION]

    # A public route (signed by the payment provider) has neither key nor idempotency errors.
    public = set(document["paths"]["/v1/payments/stripe/webhook"]["post"][EXTENSION])
    assert not public & {"missing_credentials", "invalid_api_key", "idempotency_key_in_progress"}


def test_the_errors_it_names_are_described_with_their_meaning(document: dict[str, Any]) -> None:
    response = document["paths"]["/v1/api-keys/{key_id}"]["delete"]["responses"]["404"]
    assert (
        f"`api_key_not_found`: {ERROR_CODES['api_key_not_found'].meaning}"
        in (response["description"])
    )


def test_a_code_outside_the_registry_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="no_such_code"):
        errors("domain_not_found", "no_such_code")
    with pytest.raises(ValueError, match="no_such_code"):
        declares("no_such_code")


def _surface_app(tmp_path: Path, router: APIRouter) -> SurfaceApp:
    parent = create_app(base_settings(tmp_path, f"sqlite:///{tmp_path}/mailfleet.db"))
    return build_surface(native_surface((router,)), parent, version="test")


def test_the_run_check_tells_a_documented_code_from_an_undocumented_one(tmp_path: Path) -> None:
    # Never called: asking the recorder is enough, and no such answer is recorded for the run.
    router = APIRouter()

    @router.post("/declared/{thing_id}", openapi_extra=errors("domain_removed"))
    def declared(thing_id: str) -> None:
        raise Conflict("gone", code="domain_removed")

    @router.post("/undeclared/{thing_id}")
    def undeclared(thing_id: str) -> None:
        raise Conflict("gone", code="domain_removed")

    app = _surface_app(tmp_path, router)
    declared_route = problems.route_of(app, "POST", "/v1/declared/abc")
    undeclared_route = problems.route_of(app, "POST", "/v1/undeclared/abc")
    assert (declared_route, undeclared_route) == (
        "/v1/declared/{thing_id}",
        "/v1/undeclared/{thing_id}",
    )
    assert problems.documented(app, "POST", declared_route, 409, "domain_removed")
    assert not problems.documented(app, "POST", undeclared_route, 409, "domain_removed")
    assert not problems.documented(app, "POST", declared_route, 422, "domain_removed")
    # What the surface adds for every route is documented without a declaration.
    assert problems.documented(app, "POST", undeclared_route, 409, "idempotency_key_in_progress")
    assert problems.route_of(app, "GET", "/v1/declared/abc") is None  # 405: no route answers


def test_another_surface_documents_the_same_codes_in_its_own_format(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, f"sqlite:///{tmp_path}/mailfleet.db")
    app = create_app(settings, surfaces=[native_surface(), make_test_surface()])
    own = TestClient(app).get(f"{TEST_PREFIX}/openapi.json").json()
    things = own["paths"][f"{TEST_PREFIX}/things"]["post"]
    assert {"missing_credentials", "insufficient_role", "validation_error"} <= set(
        things[EXTENSION]
    )
    unauthorized = things["responses"]["401"]
    assert "`missing_credentials`" in unauthorized["description"]
    assert PROBLEM_CONTENT_TYPE not in unauthorized["content"]  # its envelope, not problem+json
