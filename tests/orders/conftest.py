from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def off(make_client: Callable[..., TestClient]) -> TestClient:
    """A client with the 24-hour rule off, so each test sees only the rule it is about."""
    return make_client(recent_creation_rule="off")
