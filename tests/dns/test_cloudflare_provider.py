"""CloudflareProvider through the official client against the local Cloudflare API fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare
import pytest

from mailfleet.config import Settings
from mailfleet.dns.providers import cloudflare as cf_provider
from mailfleet.dns.providers.base import DnsProviderError, Zone
from mailfleet.dns.providers.cloudflare import CloudflareProvider, cloudflare_ttl, txt_text
from mailfleet.dns.records import Record, RRset, group_rrsets
from tests.fakes.cloudflare import FakeCloudflare

ZONE = "acme.test"
ASKED_NS = ["ns1.mailfleet.local", "ns2.mailfleet.local"]
ZONE_PATH = r"/zones/[0-9a-f]+"
RECORDS_PATH = ZONE_PATH + "/dns_records"
BATCH_PATH = RECORDS_PATH + "/batch"
SPF = "v=spf1 include:_spf.google.com ~all"
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9  # > 255 bytes


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    with FakeCloudflare() as server:
        yield server


def settings_for(fake: FakeCloudflare, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "cloudflare_api_token": fake.token,
        "cloudflare_account_id": fake.account_id,
        "cloudflare_base_url": fake.base_url,
    }
    values.update(overrides)
    return Settings(**values)


def settings_for_url(url: str) -> Settings:
    return Settings(cloudflare_api_token="t", cloudflare_account_id="a", cloudflare_base_url=url)


@pytest.fixture
def provider(fake: FakeCloudflare) -> Iterator[CloudflareProvider]:
    instance = CloudflareProvider(settings_for(fake))
    yield instance
    instance.close()


@pytest.fixture
def zone(provider: CloudflareProvider) -> Zone:
    return provider.ensure_zone(ZONE, ASKED_NS, serial=1)


def mail_records(spf: str = SPF) -> list[RRset]:
    return group_rrsets(
        [
            Record(ZONE, "MX", "aspmx.l.google.com", 3600, priority=1),
            Record(ZONE, "MX", "alt1.aspmx.l.google.com", 3600, priority=5),
            Record(ZONE, "TXT", spf, 3600),
            Record(ZONE, "TXT", "google-site-verification=abc123", 3600),
            Record(f"_dmarc.{ZONE}", "TXT", "v=DMARC1; p=none", 3600),
            Record(f"www.{ZONE}", "CNAME", "acme.test.", 300),
            Record(f"track.{ZONE}", "A", "192.0.2.10", 300),
        ]
    )


def by_key(fake: FakeCloudflare) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["name"], r["type"], r["content"]): r for r in fake.records_of(ZONE)}


# --- zones


def test_ensure_zone_creates_a_full_zone_with_cloudflares_nameservers(
    fake: FakeCloudflare, provider: CloudflareProvider
) -> None:
    zone = provider.ensure_zone("Acme.Test.", ASKED_NS, serial=2026010101)

    stored = fake.zone_by_name(ZONE)
    assert stored is not None
    assert zone.zone_id == stored["id"]
    # Cloudflare's pair, not the one asked for: that is what the registrar must delegate to.
    assert zone.nameservers == tuple(stored["name_servers"])
    assert len(zone.nameservers) == 2
    assert all(ns.endswith(".ns.cloudflare.com") for ns in zone.nameservers)
    (create,) = fake.calls("POST", "/zones")
    assert create.body == {"account": {"id": fake.account_id}, "name": ZONE, "type": "full"}


def test_ensure_zone_twice_creates_one_zone(
    fake: FakeCloudflare, provider: CloudflareProvider
) -> None:
    first = provider.ensure_zone(ZONE, ASKED_NS, serial=1)
    second = provider.ensure_zone(ZONE, ASKED_NS, serial=2)

    assert first == second
    assert len(fake.calls("POST", "/zones")) == 1
    assert len(fake.zones) == 1
    lookups = fake.calls("GET", "/zones")
    assert [call.query["name"] for call in lookups] == [ZONE, ZONE]
    assert all(call.query["account.id"] == fake.account_id for call in lookups)


def test_zone_held_by_another_account_is_a_permanent_error(
    fake: FakeCloudflare, provider: CloudflareProvider
) -> None:
    provider.ensure_zone(ZONE, ASKED_NS, serial=1)
    next(iter(fake.zones.values()))["account"]["id"] = "someone-else"

    with pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone(ZONE, ASKED_NS, serial=1)

    assert caught.value.retryable is False
    assert "already exists (1061)" in str(caught.value)


def test_delete_zone_removes_it_and_tolerates_a_second_delete(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    provider.replace_rrsets(zone, ZONE, mail_records())

    provider.delete_zone(zone, ZONE)
    provider.delete_zone(zone, ZONE)

    assert fake.zones == {}
    assert fake.records == {}
    assert [call.status for call in fake.calls("DELETE", ZONE_PATH)] == [200, 404]


def test_delete_zone_with_a_wrong_token_is_not_taken_for_gone(fake: FakeCloudflare) -> None:
    good = CloudflareProvider(settings_for(fake))
    zone = good.ensure_zone(ZONE, ASKED_NS, serial=1)
    bad = CloudflareProvider(settings_for(fake, cloudflare_api_token="wrong"))

    with pytest.raises(DnsProviderError) as caught:
        bad.delete_zone(zone, ZONE)

    assert caught.value.retryable is False
    assert fake.zone_by_name(ZONE) is not None


# --- records


def test_replace_rrsets_creates_cloudflare_records(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    fake.log.clear()

    ids = provider.replace_rrsets(zone, ZONE, mail_records())

    stored = by_key(fake)
    mx = stored[(ZONE, "MX", "aspmx.l.google.com")]
    assert (mx["priority"], mx["ttl"], mx["proxied"]) == (1, 3600, False)
    assert stored[(ZONE, "MX", "alt1.aspmx.l.google.com")]["priority"] == 5
    assert stored[(f"www.{ZONE}", "CNAME", ZONE)]["ttl"] == 300
    assert stored[(f"track.{ZONE}", "A", "192.0.2.10")]["proxied"] is False
    assert (ZONE, "TXT", f'"{SPF}"') in stored
    assert len(stored) == 7
    # Ids come back keyed by the content as Mailfleet wrote it.
    assert ids[(ZONE, "TXT", SPF)] == stored[(ZONE, "TXT", f'"{SPF}"')]["id"]
    assert (
        ids[(f"www.{ZONE}", "CNAME", "acme.test.")] == stored[(f"www.{ZONE}", "CNAME", ZONE)]["id"]
    )
    assert sorted(ids.values()) == sorted(r["id"] for r in stored.values())
    # One listing, one batch.
    assert [(call.method, call.path.rsplit("/", 1)[-1]) for call in fake.log] == [
        ("GET", "dns_records"),
        ("POST", "batch"),
    ]


def test_replace_with_the_same_records_changes_nothing(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    first = provider.replace_rrsets(zone, ZONE, mail_records())
    before = {r["id"]: r["modified_on"] for r in fake.records_of(ZONE)}

    second = provider.replace_rrsets(zone, ZONE, mail_records())

    assert second == first
    assert len(fake.calls("POST", BATCH_PATH)) == 1
    assert {r["id"]: r["modified_on"] for r in fake.records_of(ZONE)} == before


def test_one_changed_txt_only_touches_that_record(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    first = provider.replace_rrsets(zone, ZONE, mail_records())
    before = {r["id"]: dict(r) for r in fake.records_of(ZONE)}
    new_spf = "v=spf1 include:_spf.google.com -all"

    second = provider.replace_rrsets(zone, ZONE, mail_records(spf=new_spf))

    batch = fake.calls("POST", BATCH_PATH)[-1].body
    spf_id = first[(ZONE, "TXT", SPF)]
    assert batch.get("deletes", []) == []
    assert batch.get("posts", []) == []
    assert [patch["id"] for patch in batch["patches"]] == [spf_id]
    assert batch["patches"][0]["content"] == f'"{new_spf}"'
    after = {r["id"]: r for r in fake.records_of(ZONE)}
    assert after.keys() == before.keys()
    assert after[spf_id]["content"] == f'"{new_spf}"'
    assert {i: r for i, r in after.items() if i != spf_id} == {
        i: r for i, r in before.items() if i != spf_id
    }
    assert second[(ZONE, "TXT", new_spf)] == spf_id
    assert (ZONE, "TXT", SPF) not in second


def test_changed_ttl_patches_in_place(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    rrsets = [RRset(f"_dmarc.{ZONE}", "TXT", 3600, [Record(f"_dmarc.{ZONE}", "TXT", "v=DMARC1")])]
    ids = provider.replace_rrsets(zone, ZONE, rrsets)
    rrsets[0].ttl = 300

    again = provider.replace_rrsets(zone, ZONE, rrsets)

    (record,) = fake.records_of(ZONE)
    assert record["ttl"] == 300
    assert again == ids


def test_shrinking_an_rrset_and_deleting_another(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    provider.replace_rrsets(zone, ZONE, mail_records())
    one_mx = RRset(ZONE, "MX", 3600, [Record(ZONE, "MX", "aspmx.l.google.com", priority=1)])

    ids = provider.replace_rrsets(
        zone, ZONE, [one_mx], delete=[(f"_dmarc.{ZONE}", "TXT"), (f"www.{ZONE}", "CNAME")]
    )

    kinds = sorted((name, rtype) for name, rtype, _ in by_key(fake))
    assert kinds == [(ZONE, "MX"), (ZONE, "TXT"), (ZONE, "TXT"), (f"track.{ZONE}", "A")]
    assert list(ids) == [(ZONE, "MX", "aspmx.l.google.com")]
    batch = fake.calls("POST", BATCH_PATH)[-1].body
    assert len(batch["deletes"]) == 3
    assert batch.get("patches", []) == []
    assert batch.get("posts", []) == []


def test_long_txt_goes_unsplit_and_cloudflare_splits_it(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    name = f"mailfleet._domainkey.{ZONE}"
    rrsets = [RRset(name, "TXT", 3600, [Record(name, "TXT", DKIM)])]

    ids = provider.replace_rrsets(zone, ZONE, rrsets)

    (sent,) = fake.calls("POST", BATCH_PATH)[0].body["posts"]
    assert sent["content"] == f'"{DKIM}"'
    (stored,) = fake.records_of(ZONE)
    first, rest = DKIM[:255], DKIM[255:]
    assert stored["content"] == f'"{first}" "{rest}"'
    assert txt_text(stored["content"]) == DKIM
    # The split form Cloudflare hands back reads as the same text: nothing to change.
    assert provider.replace_rrsets(zone, ZONE, rrsets) == ids
    assert len(fake.calls("POST", BATCH_PATH)) == 1


def test_txt_quotes_and_backslashes_survive(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    text = 'say "hi" \\ bye'
    rrsets = [RRset(ZONE, "TXT", 3600, [Record(ZONE, "TXT", text)])]

    provider.replace_rrsets(zone, ZONE, rrsets)
    provider.replace_rrsets(zone, ZONE, rrsets)

    (stored,) = fake.records_of(ZONE)
    assert txt_text(stored["content"]) == text
    assert len(fake.calls("POST", BATCH_PATH)) == 1


def test_srv_and_caa_use_structured_data(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    srv_name = f"_autodiscover._tcp.{ZONE}"
    rrsets = group_rrsets(
        [
            Record(srv_name, "SRV", "5 443 autodiscover.outlook.com.", priority=10),
            Record(ZONE, "CAA", '0 issue "letsencrypt.org"'),
        ]
    )

    provider.replace_rrsets(zone, ZONE, rrsets)
    provider.replace_rrsets(zone, ZONE, rrsets)

    stored = {r["type"]: r for r in fake.records_of(ZONE)}
    assert stored["SRV"]["data"] == {
        "priority": 10,
        "weight": 5,
        "port": 443,
        "target": "autodiscover.outlook.com",
    }
    assert stored["CAA"]["data"] == {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}
    assert len(fake.calls("POST", BATCH_PATH)) == 1


def test_mx_without_priority_gets_the_usual_default(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    provider.replace_rrsets(zone, ZONE, [RRset(ZONE, "MX", 3600, [Record(ZONE, "MX", "mx.a.b")])])

    (stored,) = fake.records_of(ZONE)
    assert stored["priority"] == 10


def test_apex_ns_is_left_to_cloudflare(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    apex_ns = RRset(ZONE, "NS", 3600, [Record(ZONE, "NS", ns) for ns in ASKED_NS])
    sub_ns = RRset(f"sub.{ZONE}", "NS", 3600, [Record(f"sub.{ZONE}", "NS", "ns.elsewhere.test")])

    ids = provider.replace_rrsets(zone, ZONE, [apex_ns, sub_ns])

    assert [(r["name"], r["type"]) for r in fake.records_of(ZONE)] == [(f"sub.{ZONE}", "NS")]
    assert list(ids) == [(f"sub.{ZONE}", "NS", "ns.elsewhere.test")]


def test_records_beyond_one_page_are_all_seen(
    fake: FakeCloudflare,
    provider: CloudflareProvider,
    zone: Zone,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cf_provider, "LIST_PAGE_SIZE", 5)
    names = [f"h{i}.{ZONE}" for i in range(12)]
    rrsets = [RRset(n, "A", 300, [Record(n, "A", f"192.0.2.{i}")]) for i, n in enumerate(names)]
    provider.replace_rrsets(zone, ZONE, rrsets)
    fake.log.clear()

    provider.replace_rrsets(zone, ZONE, rrsets)

    assert [call.query["page"] for call in fake.calls("GET", RECORDS_PATH)] == ["1", "2", "3"]
    assert fake.calls("POST", BATCH_PATH) == []
    assert len(fake.records_of(ZONE)) == 12


# --- errors


def test_wrong_token_is_a_permanent_error_with_cloudflares_message(fake: FakeCloudflare) -> None:
    provider = CloudflareProvider(settings_for(fake, cloudflare_api_token="not-the-token"))

    with pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone(ZONE, ASKED_NS, serial=1)

    assert caught.value.retryable is False
    assert "HTTP 403" in str(caught.value)
    assert "Authentication error (10000)" in str(caught.value)
    assert len(fake.log) == 1  # a 403 is not retried


def test_rate_limit_is_retried_by_the_client_then_succeeds(
    fake: FakeCloudflare, provider: CloudflareProvider
) -> None:
    fake.fail_next(2, status=429, retry_after="0.01")

    zone = provider.ensure_zone(ZONE, ASKED_NS, serial=1)

    assert zone.zone_id == fake.zone_by_name(ZONE)["id"]  # type: ignore[index]
    lookups = fake.calls("GET", "/zones")
    assert [call.status for call in lookups] == [429, 429, 200]
    assert len(fake.calls("POST", "/zones")) == 1
    assert len(fake.log) == 4


def test_rate_limit_past_the_retries_is_retryable(
    fake: FakeCloudflare, provider: CloudflareProvider
) -> None:
    fake.fail_next(3, status=429, retry_after="0.01")

    with pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone(ZONE, ASKED_NS, serial=1)

    assert caught.value.retryable is True
    assert "HTTP 429" in str(caught.value)
    assert len(fake.log) == 3


def test_persistent_server_error_is_retryable(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    fake.log.clear()
    fake.fail_next(10, status=500, retry_after="0.01")

    with pytest.raises(DnsProviderError) as caught:
        provider.replace_rrsets(zone, ZONE, mail_records())

    assert caught.value.retryable is True
    assert "HTTP 500" in str(caught.value)
    assert [call.status for call in fake.log] == [500, 500, 500]  # one try, two client retries
    assert fake.records_of(ZONE) == []


def test_unreachable_api_is_retryable(fake: FakeCloudflare) -> None:
    url = fake.base_url
    fake.stop()
    provider = CloudflareProvider(settings_for_url(url), max_retries=0, timeout=2)

    with pytest.raises(DnsProviderError) as caught:
        provider.ensure_zone(ZONE, ASKED_NS, serial=1)

    assert caught.value.retryable is True


def test_rejected_record_is_permanent_and_the_batch_applies_nothing(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    rrsets = group_rrsets(
        [
            Record(f"_dmarc.{ZONE}", "TXT", "v=DMARC1; p=none"),
            Record(ZONE, "MX", "192.0.2.1", priority=10),  # an MX must name a host
        ]
    )

    with pytest.raises(DnsProviderError) as caught:
        provider.replace_rrsets(zone, ZONE, rrsets)

    assert caught.value.retryable is False
    assert "DNS Validation Error (1004)" in str(caught.value)
    assert "must be a hostname. (9009)" in str(caught.value)
    assert fake.records_of(ZONE) == []


def test_missing_token_is_refused_up_front() -> None:
    with pytest.raises(DnsProviderError) as caught:
        CloudflareProvider(Settings(cloudflare_api_token=""))
    assert caught.value.retryable is False


# --- the fake itself, where the provider never goes


@pytest.fixture
def client(fake: FakeCloudflare) -> Iterator[cloudflare.Cloudflare]:
    raw = cloudflare.Cloudflare(api_token=fake.token, base_url=fake.base_url, max_retries=0)
    yield raw
    raw.close()


def test_fake_rejects_mx_without_priority(
    fake: FakeCloudflare, client: cloudflare.Cloudflare, zone: Zone
) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        client.dns.records.create(
            zone_id=zone.zone_id, type="MX", name=ZONE, content="mx.a.b", ttl=1
        )

    (error,) = caught.value.body["errors"]  # type: ignore[index]
    assert error["code"] == 1004
    assert error["error_chain"] == [{"code": 9100, "message": "priority is a required field."}]
    assert fake.records_of(ZONE) == []


@pytest.mark.parametrize("ttl", [0, 30, 86401])
def test_fake_rejects_ttl_outside_cloudflares_range(
    client: cloudflare.Cloudflare, zone: Zone, ttl: int
) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        client.dns.records.create(zone_id=zone.zone_id, type="TXT", name=ZONE, content="x", ttl=ttl)
    assert caught.value.body["errors"][0]["error_chain"][0]["code"] == 9021  # type: ignore[index]


def test_fake_duplicate_zone_is_1061(client: cloudflare.Cloudflare, zone: Zone) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        client.zones.create(account={"id": "cf-account"}, name=ZONE, type="full")
    body: Any = caught.value.body
    assert body == {
        "success": False,
        "errors": [{"code": 1061, "message": f"{ZONE} already exists"}],
        "messages": [],
        "result": None,
    }


def test_fake_single_record_routes_and_filters(client: cloudflare.Cloudflare, zone: Zone) -> None:
    created = client.dns.records.create(
        zone_id=zone.zone_id, type="A", name="www", content="192.0.2.1", ttl=300
    )
    assert created is not None
    assert created.name == f"www.{ZONE}"
    client.dns.records.edit(
        created.id, zone_id=zone.zone_id, type="A", name="www", content="192.0.2.2", ttl=300
    )
    page = client.dns.records.list(zone_id=zone.zone_id, name={"exact": f"www.{ZONE}"}, type="A")
    assert [r.content for r in page.result] == ["192.0.2.2"]
    assert client.dns.records.list(zone_id=zone.zone_id, type="MX").result == []
    client.dns.records.delete(created.id, zone_id=zone.zone_id)
    with pytest.raises(cloudflare.NotFoundError):
        client.dns.records.delete(created.id, zone_id=zone.zone_id)


def test_fake_batch_is_all_or_nothing_in_documented_order(
    fake: FakeCloudflare, client: cloudflare.Cloudflare, zone: Zone
) -> None:
    keep = client.dns.records.create(
        zone_id=zone.zone_id, type="A", name=ZONE, content="192.0.2.1", ttl=60
    )
    assert keep is not None
    # The delete runs before the post, so re-creating the same record in one batch is allowed.
    client.dns.records.batch(
        zone_id=zone.zone_id,
        deletes=[{"id": keep.id}],
        posts=[{"type": "A", "name": ZONE, "content": "192.0.2.1", "ttl": 60}],
    )
    (survivor,) = fake.records_of(ZONE)
    assert survivor["id"] != keep.id

    with pytest.raises(cloudflare.BadRequestError):
        client.dns.records.batch(
            zone_id=zone.zone_id,
            deletes=[{"id": survivor["id"]}],
            posts=[{"type": "CNAME", "name": ZONE, "content": "192.0.2.9", "ttl": 60}],
        )
    assert fake.records_of(ZONE) == [survivor]


# --- pure mapping helpers


@pytest.mark.parametrize(("ttl", "expected"), [(1, 60), (60, 60), (3600, 3600), (604800, 86400)])
def test_cloudflare_ttl_range(ttl: int, expected: int) -> None:
    assert cloudflare_ttl(ttl) == expected


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain text", "plain text"),
        ('"one"', "one"),
        ('"a" "b"', "ab"),
        ('"q\\"uote\\\\"', 'q"uote\\'),
    ],
)
def test_txt_text_reads_cloudflares_forms(content: str, text: str) -> None:
    assert txt_text(content) == text


def test_malformed_srv_content_is_a_permanent_error(
    fake: FakeCloudflare, provider: CloudflareProvider, zone: Zone
) -> None:
    name = f"_sip._tcp.{ZONE}"
    rrsets = [RRset(name, "SRV", 3600, [Record(name, "SRV", "443 sip.acme.test", priority=1)])]

    with pytest.raises(DnsProviderError) as caught:
        provider.replace_rrsets(zone, ZONE, rrsets)

    assert caught.value.retryable is False
    assert fake.calls("POST", BATCH_PATH) == []
