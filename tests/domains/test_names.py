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
    assert normalise(raw, local_tlds=()) == DomainName(ascii_name, unicode_name)


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
        ("probe-x.notarealtld", "unknown_tld"),
        ("acme.test", "unknown_tld"),
        ("acme.local", "unknown_tld"),
    ],
)
def test_invalid_names_say_why(raw: str, code: str) -> None:
    result = normalise(raw, local_tlds=())
    assert isinstance(result, NameError_)
    assert result.code == code


def test_nameserver_pair_is_stable_and_spread() -> None:
    pairs = [("a1", "a2"), ("b1", "b2"), ("c1", "c2")]
    picked = {nameserver_pair(f"d{i}.com", pairs) for i in range(100)}
    assert picked == set(pairs)
    assert nameserver_pair("x.com", pairs) == nameserver_pair("x.com", pairs)


def test_an_unknown_tld_is_named_in_the_reason() -> None:
    result = normalise("Probe-X.NotARealTLD", local_tlds=())
    assert isinstance(result, NameError_)
    assert "probe-x.notarealtld" in result.detail
    assert ".notarealtld" in result.detail
    assert "public suffix list" in result.detail


@pytest.mark.parametrize(
    ("raw", "ascii_name"), [("acme.test", "acme.test"), ("Acme.Lab.", "acme.lab")]
)
def test_local_tlds_are_accepted(raw: str, ascii_name: str) -> None:
    assert normalise(raw, local_tlds=("test", "lab")) == DomainName(ascii_name, ascii_name)


def test_under_a_local_tld_only_registrable_names_are_accepted() -> None:
    result = normalise("sub.acme.test", local_tlds=("test",))
    assert isinstance(result, NameError_)
    assert result.code == "not_registrable"


def test_a_local_tld_does_not_open_other_unknown_tlds() -> None:
    result = normalise("acme.notarealtld", local_tlds=("test",))
    assert isinstance(result, NameError_)
    assert result.code == "unknown_tld"
