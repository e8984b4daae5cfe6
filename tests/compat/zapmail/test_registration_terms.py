"""How a Zapmail purchase with several registration terms is priced: one native quote per
term, each name at its first-year price times its years (pure functions, no app)."""

from __future__ import annotations

import pytest

from mailfleet.compat.zapmail.registration import buying, searching
from mailfleet.registrars.errors import NamesNotForSale, TooManyYears
from mailfleet.registrars.protocol import Verdict
from mailfleet.registrars.service import Offer


def offer(name: str, cents: int | None = 1000, verdict: Verdict = Verdict.AVAILABLE) -> Offer:
    return Offer(name, verdict, "fake", cents, cents, cents, "USD", "")


def test_one_quote_per_term_with_the_total_of_its_names() -> None:
    offers = [offer("a.com"), offer("b.com", 2000), offer("c.com")]

    quotes = buying.terms(offers, [2, 1, 2], max_years=10)

    assert [(q.years, [o.name for o in q.offers], q.total_cents) for q in quotes] == [
        (1, ["b.com"], 2000),
        (2, ["a.com", "c.com"], 4000),
    ]


def test_the_longest_term_is_checked_against_the_registrar() -> None:
    with pytest.raises(TooManyYears) as refused:
        buying.terms([offer("a.com"), offer("b.com")], [1, 3], max_years=2)
    assert refused.value.field == "domains[1].years"


def test_every_name_must_be_for_sale() -> None:
    with pytest.raises(NamesNotForSale) as refused:
        buying.terms([offer("a.com"), offer("b.com", None, Verdict.TAKEN)], [1, 1], max_years=1)
    assert refused.value.field == "names[1]"


def test_search_candidates() -> None:
    assert searching.candidates("acme", ["io", "com", "IO"]) == [
        "acme.com",
        "acme.io",
        "getacme.com",
        "tryacme.com",
        "acmehq.com",
        "acmemail.com",
    ]
