"""TXT values survive the trip to presentation format and the wire, whatever their length."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from mailfleet.dns.records import Record, quote_txt, rdata_text, txt_strings


@pytest.mark.parametrize(
    "value",
    ["v=spf1 mx -all", "a" * 255, "a" * 256, "p=" + "Q" * 700, 'quote " and \\ slash', "é" * 300],
)
def test_txt_values_round_trip_through_dnspython(value: str) -> None:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, quote_txt(value))
    assert b"".join(rdata.strings).decode() == value  # type: ignore[attr-defined]
    assert all(len(piece) <= 255 for piece in rdata.strings)  # type: ignore[attr-defined]


def test_pieces_never_split_a_character() -> None:
    pieces = txt_strings("é" * 200)
    assert [len(piece.encode()) for piece in pieces] == [254, 146]


def test_mx_is_written_absolute_with_its_priority() -> None:
    assert rdata_text(Record("acme.com", "MX", "mx.acme.com", priority=5)) == "5 mx.acme.com."
