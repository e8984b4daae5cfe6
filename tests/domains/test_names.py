import pytest

from mailfleet.domains.names import DomainName, NameError_, nameserver_pair, normalise


@pytest.mark.parametrize(
    ("raw", "ascii_name", "unicode_name"),
    [
        ("Example.COM", "example.com", "example.com"),
        ("  example.com.  ", "example.com", "example.com"),
        ("bücher.de", "xn--bcher-kva.de", "bücher.de"),
        ("XN--BCHER-KVA.DE", "xn--bcher-kva.de", "bücher.de"),
        ("example.co.uk", "example.co.uk", "example.co.uk"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai", "пример.рф"),
    ],
)
def test_valid_names_are_normalised(raw: str, ascii_name: str, unicode_name: str) -> None:
    assert normalise(raw) == DomainName(ascii_name, unicode_name)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("com", "invalid_syntax"),
        ("-bad.com", "invalid_syntax"),
        ("bad-.com", "invalid_syntax"),
        ("under_score.com", "invalid_syntax"),
        ("a" * 64 + ".com", "invalid_syntax"),
        ("x" * 250 + ".com", "too_long"),
        ("sub.example.com", "not_registrable"),
        ("co.uk", "public_suffix"),
        ("xn--zz.com", "invalid_idna"),
        ("http://example.com", "invalid_syntax"),
        ("1.2.3.4", "invalid_syntax"),
    ],
)
def test_invalid_names_say_why(raw: str, code: str) -> None:
    result = normalise(raw)
    assert isinstance(result, NameError_)
    assert result.code == code


def test_nameserver_pair_is_stable_and_spread() -> None:
    pairs = [("a1", "a2"), ("b1", "b2"), ("c1", "c2")]
    picked = {nameserver_pair(f"d{i}.com", pairs) for i in range(100)}
    assert picked == set(pairs)
    assert nameserver_pair("x.com", pairs) == nameserver_pair("x.com", pairs)
