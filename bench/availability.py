"""Bulk availability: names/s of N names (2,000) checked through `POST /v1/domain-availability`
against the local registrar fakes with a realistic latency, and the best any client could do.

Each fake (tests/fakes/namecheap.py, tests/fakes/porkbun.py) sleeps `--latency` seconds (150 ms)
per request and serves at most `--limit` requests at once (8): one past it is answered 429 and
counted, and the fake records the peak of requests in flight. Porkbun's per-key check limit is
set above N here: its cost is `limit` checks per TTL whatever the client does, so only latency
and concurrency bind.

Mailfleet's path is the one the README documents for bulk: the API in process (TestClient over
the app on a fresh database; RDAP pre-filter off, since its bootstrap points at the real
registries; the workspace search quota off), N names as N/20 calls of 20 names (the API's
maximum) issued from `--threads` client threads (default: the fake's limit), as a user would.
One untimed call of 20 other names comes first (app, connections, Namecheap's pricing cache).

The baseline, in the same run, sends the same names straight to the fake with httpx from
`--limit` threads: Namecheap `namecheap.domains.check` in batches of 50 (its documented
maximum; one in batches of 20 too, Mailfleet's batch), Porkbun one `checkDomain` per name.
Every phase's verdicts are checked against the fake's taken and premium names.

Run: .venv/bin/python -m bench.availability [--names N] [--latency S] [--limit C]
     [--threads T] [--registrars namecheap,porkbun]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from bench.common import Env, fresh_environment, tenant
from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.registrars import namecheap
from tests.fakes import namecheap as nc_fake
from tests.fakes import porkbun as pb_fake

TAKEN_EVERY = 10
PREMIUM_EVERY = 97
API_BATCH = 20
NAMECHEAP_MAX_BATCH = 50


@dataclass
class Figures:
    label: str
    seconds: float
    names: int
    requests: int
    peak: int
    refused: int
    request_ms: float  # median wall time of one client request (API call or registrar call)

    @property
    def names_per_second(self) -> float:
        return self.names / self.seconds


def bench_names(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:05d}.com" for i in range(count)]


def expected(names: Sequence[str]) -> Counter[str]:
    verdicts: Counter[str] = Counter()
    for i, _ in enumerate(names):
        if i % TAKEN_EVERY == 0:
            verdicts["TAKEN"] += 1
        elif i % PREMIUM_EVERY == 0:
            verdicts["PREMIUM"] += 1
        else:
            verdicts["AVAILABLE"] += 1
    return verdicts


def mark(fake: Any, names: Sequence[str]) -> None:
    for i, name in enumerate(names):
        if i % TAKEN_EVERY == 0:
            fake.taken.add(name)
        elif i % PREMIUM_EVERY == 0:
            fake.premium.add(name)


def verify(label: str, names: Sequence[str], verdicts: Counter[str]) -> None:
    if verdicts != expected(names):
        raise SystemExit(f"{label}: expected {dict(expected(names))}, got {dict(verdicts)}")


def run_parallel(
    threads: int, work: Sequence[Any], call: Callable[[Any], Counter[str]]
) -> tuple[float, Counter[str], list[float]]:
    """Every item of `work` through `call` on `threads` threads: wall time, verdicts, and each
    call's own duration."""
    durations: list[float] = []

    def timed_call(item: Any) -> Counter[str]:
        started = time.perf_counter()
        verdicts = call(item)
        durations.append(time.perf_counter() - started)
        return verdicts

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(timed_call, work))
    seconds = time.perf_counter() - started
    return seconds, sum(results, Counter()), durations


def figures(
    label: str,
    fake: Any,
    names: Sequence[str],
    requests_before: int,
    measured: tuple[float, Counter[str], list[float]],
) -> Figures:
    seconds, verdicts, durations = measured
    verify(label, names, verdicts)
    return Figures(
        label,
        seconds,
        len(names),
        len(fake.log) - requests_before,
        fake.peak,
        fake.refused,
        statistics.median(durations) * 1000,
    )


def chunks(names: Sequence[str], size: int) -> list[list[str]]:
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


# --- Mailfleet: POST /v1/domain-availability in process ------------------------------------


def through_api(
    label: str,
    settings: Settings,
    environment: Env,
    fake: Any,
    names: Sequence[str],
    warm_up: Sequence[str],
    threads: int,
) -> Figures:
    owner = tenant(environment)
    with TestClient(create_app(settings, environment.database)) as client:

        def call(batch: list[str]) -> Counter[str]:
            response = client.post(
                "/v1/domain-availability", json={"names": batch}, headers=owner.headers
            )
            if response.status_code != 200:
                raise SystemExit(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
            return Counter(item["verdict"] for item in response.json()["items"])

        call(list(warm_up))
        reset(fake)
        before = len(fake.log)
        measured = run_parallel(threads, chunks(names, API_BATCH), call)
    return figures(label, fake, names, before, measured)


def reset(fake: Any) -> None:
    fake.peak = 0
    fake.refused = 0


# --- the baseline: httpx straight at the fake ------------------------------------------------


def namecheap_direct(
    fake: nc_fake.FakeNamecheap, names: Sequence[str], batch: int, limit: int
) -> Figures:
    auth = {
        "ApiUser": nc_fake.API_USER,
        "ApiKey": nc_fake.API_KEY,
        "UserName": nc_fake.API_USER,
        "ClientIp": nc_fake.CLIENT_IP,
        "Command": "namecheap.domains.check",
    }
    with httpx.Client(timeout=30) as client:

        def call(group: list[str]) -> Counter[str]:
            response = client.get(fake.base_url, params={**auth, "DomainList": ",".join(group)})
            root = ET.fromstring(response.content)
            verdicts: Counter[str] = Counter()
            for result in root.iter(f"{namecheap.NS}DomainCheckResult"):
                if result.get("Available") != "true":
                    verdicts["TAKEN"] += 1
                elif result.get("IsPremiumName") == "true":
                    verdicts["PREMIUM"] += 1
                else:
                    verdicts["AVAILABLE"] += 1
            return verdicts

        reset(fake)
        before = len(fake.log)
        measured = run_parallel(limit, chunks(names, batch), call)
    return figures(f"httpx, batches of {batch}", fake, names, before, measured)


def porkbun_direct(fake: pb_fake.FakePorkbun, names: Sequence[str], limit: int) -> Figures:
    body = {"apikey": pb_fake.API_KEY, "secretapikey": pb_fake.SECRET}
    with httpx.Client(base_url=fake.base_url, timeout=30) as client:

        def call(name: str) -> Counter[str]:
            answer = client.post(f"/domain/checkDomain/{name}", json=body).json()["response"]
            if answer["avail"] != "yes":
                return Counter(["TAKEN"])
            return Counter(["PREMIUM" if answer["premium"] == "yes" else "AVAILABLE"])

        reset(fake)
        before = len(fake.log)
        measured = run_parallel(limit, names, call)
    return figures("httpx, one name per call", fake, names, before, measured)


# --- the two registrars ----------------------------------------------------------------------


def bench_namecheap(args: argparse.Namespace, environment: Env) -> list[Figures]:
    names = bench_names(args.names, "ncbench")
    warm_up = bench_names(API_BATCH, "ncwarm")
    with nc_fake.FakeNamecheap(latency=args.latency, max_concurrency=args.limit) as fake:
        mark(fake, names)
        settings = Settings(
            registrar="namecheap",
            namecheap_api_base=fake.base_url,
            namecheap_api_user=nc_fake.API_USER,
            namecheap_api_key=nc_fake.API_KEY,
            namecheap_client_ip=nc_fake.CLIENT_IP,
            rdap_enabled=False,
            domain_search_limit=0,
            # The operator sets Mailfleet's cap to the registrar's limit.
            registrar_max_concurrency=args.limit,
        )  # type: ignore[call-arg]
        best = namecheap_direct(fake, names, NAMECHEAP_MAX_BATCH, args.limit)
        same_batch = namecheap_direct(fake, names, namecheap.BATCH, args.limit)
        ours = through_api(
            f"Mailfleet API, {args.threads} threads",
            settings,
            environment,
            fake,
            names,
            warm_up,
            args.threads,
        )
        pricing = len(fake.commands("namecheap.users.getpricing"))
    print(
        f"Namecheap: {len(names)} names, {args.latency * 1000:.0f} ms per request, at most "
        f"{args.limit} at once; Mailfleet batches {namecheap.BATCH} names per domains.check, "
        f"the API takes {API_BATCH} per call; users.getPricing called {pricing} time(s) in all"
    )
    ceiling = args.limit * NAMECHEAP_MAX_BATCH / args.latency
    report([best, same_batch, ours], best, ceiling)
    return [best, same_batch, ours]


def bench_porkbun(args: argparse.Namespace, environment: Env) -> list[Figures]:
    names = bench_names(args.names, "pbbench")
    warm_up = bench_names(API_BATCH, "pbwarm")
    fake = pb_fake.FakePorkbun(
        latency=args.latency, max_concurrency=args.limit, limit=10 * (args.names + API_BATCH)
    )
    with fake:
        mark(fake, names)
        settings = Settings(
            registrar="porkbun",
            porkbun_api_base=fake.base_url,
            porkbun_api_key=pb_fake.API_KEY,
            porkbun_secret_api_key=pb_fake.SECRET,
            rdap_enabled=False,
            domain_search_limit=0,
            # The operator sets Mailfleet's cap to the registrar's limit.
            registrar_max_concurrency=args.limit,
        )  # type: ignore[call-arg]
        best = porkbun_direct(fake, names, args.limit)
        ours = through_api(
            f"Mailfleet API, {args.threads} threads",
            settings,
            environment,
            fake,
            names,
            warm_up,
            args.threads,
        )
    print(
        f"Porkbun: {len(names)} names, {args.latency * 1000:.0f} ms per request, at most "
        f"{args.limit} at once; one checkDomain per name, the {API_BATCH} names of an API call "
        "asked one after another"
    )
    report([best, ours], best, args.limit / args.latency)
    return [best, ours]


def report(rows: list[Figures], best: Figures, ceiling: float) -> None:
    print(
        f"{'':<32} {'seconds':>8} {'requests':>8} {'ms/req':>7} {'names/s':>8} "
        f"{'x best':>7} {'peak':>5} {'429s':>5}"
    )
    for row in rows:
        print(
            f"{row.label:<32} {row.seconds:>8.2f} {row.requests:>8} {row.request_ms:>7.0f} "
            f"{row.names_per_second:>8.0f} {row.names_per_second / best.names_per_second:>7.2f} "
            f"{row.peak:>5} {row.refused:>5}"
        )
    print(
        f"ceiling at the fake's limit: {ceiling:.0f} names/s (limit x names per request / latency)"
    )
    over = [row.label for row in rows if row.refused]
    if over:
        print(f"PAST THE FAKE'S LIMIT (429s answered): {', '.join(over)}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.150, help="seconds per request")
    parser.add_argument("--limit", type=int, default=8, help="the fake's concurrency limit")
    parser.add_argument("--threads", type=int, default=0, help="API client threads (0: --limit)")
    parser.add_argument("--registrars", default="namecheap,porkbun")
    args = parser.parse_args()
    args.threads = args.threads or args.limit
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    with fresh_environment(
        MAILFLEET_JOB_QUEUE="memory",
        MAILFLEET_WORKER_IN_PROCESS="false",
        MAILFLEET_DNS_SERVER_ENABLED="false",
    ) as environment:
        for registrar in args.registrars.split(","):
            if registrar == "namecheap":
                bench_namecheap(args, environment)
            elif registrar == "porkbun":
                bench_porkbun(args, environment)
            else:
                raise SystemExit(f"unknown registrar {registrar!r}")


if __name__ == "__main__":
    main()
