"""The Porkbun adapter against a local fake of its documented API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mailfleet.config import Settings
from mailfleet.registrars.porkbun import Porkbun, cents
from mailfleet.registrars.protocol import RegistrarError, Verdict
from tests.fakes.porkbun import API_KEY, SECRET, FakePorkbun


@pytest.fixture
def fake() -> Iterator[FakePorkbun]:
    with FakePorkbun(taken={"taken.com"}, premium={"gold.com"}, unsupported_tlds={"uk"}) as fake:
        yield fake


def porkbun(fake: FakePorkbun, tmp_path: Path, **overrides: Any) -> tuple[Porkbun, list[float]]:
    slept: list[float] = []
    settings = Settings(
        data_dir=tmp_path,
        porkbun_api_key=SecretStr(overrides.pop("api_key", API_KEY)),
        porkbun_secret_api_key=SecretStr(SECRET),
        porkbun_api_base=fake.base_url,
        **overrides,
    )

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fake.release()

    return Porkbun(settings, sleep=sleep), slept


def test_each_verdict_with_prices_in_cents(fake: FakePorkbun, tmp_path: Path) -> None:
    client, _ = porkbun(fake, tmp_path)
    answers = client.check(["free.com", "taken.com", "gold.com", "acme.uk"])
    assert [a.verdict for a in answers] == [
        Verdict.AVAILABLE,
        Verdict.TAKEN,
        Verdict.PREMIUM,
        Verdict.UNSUPPORTED,
    ]
    assert (answers[0].price_cents, answers[0].renewal_cents) == (1108, 1108)
    assert answers[2].price_cents == 240_000
    assert "not supported" in answers[3].reason
    first = fake.log[0]
    assert first.path == "/api/json/v3/domain/checkDomain/free.com"
    assert first.body == {"apikey": API_KEY, "secretapikey": SECRET}


def test_waits_out_the_rate_limit_then_goes_on(fake: FakePorkbun, tmp_path: Path) -> None:
    fake.limit, fake.ttl = 1, 10
    client, slept = porkbun(fake, tmp_path)
    answers = client.check(["one.com", "two.com"])
    assert [a.verdict for a in answers] == [Verdict.AVAILABLE, Verdict.AVAILABLE]
    assert slept == [10.0]


def test_gives_up_past_the_longest_wait(fake: FakePorkbun, tmp_path: Path) -> None:
    fake.limit, fake.ttl = 1, 10
    client, _ = porkbun(fake, tmp_path, registrar_max_wait_seconds=5)
    client.check(["one.com"])
    with pytest.raises(RegistrarError) as refused:
        client.check(["two.com"])
    assert refused.value.retry_after == 10.0
    assert "limit" in refused.value.message


def test_a_bad_key_is_an_error_not_a_verdict(fake: FakePorkbun, tmp_path: Path) -> None:
    client, _ = porkbun(fake, tmp_path, api_key="pk1_wrong")
    with pytest.raises(RegistrarError, match="Invalid API key"):
        client.check(["free.com"])


def test_an_unreachable_registrar_is_an_error(tmp_path: Path) -> None:
    fake = FakePorkbun()
    fake.start()
    base = fake.base_url
    fake.stop()
    settings = Settings(
        data_dir=tmp_path,
        porkbun_api_key=SecretStr(API_KEY),
        porkbun_secret_api_key=SecretStr(SECRET),
        porkbun_api_base=base,
    )
    with pytest.raises(RegistrarError, match="could not be reached"):
        Porkbun(settings).check(["free.com"])


def test_prices_are_read_exactly() -> None:
    assert cents("11.08") == 1108
    assert cents("0.10") == 10
    assert cents("2400") == 240_000
    assert cents(None) is None
    assert cents("n/a") is None
