"""The query budget, counted at the DNSBL: no second of the bucket's clock carries more queries
than `dnsbl_queries_per_second`, however many run in parallel. The clock is fake (no timing):
a query's second is the fake time at which the server received it, and the fake sleep moves
time on only once every earlier query has arrived, so each query is stamped with its own slot.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import Counter
from pathlib import Path

from mailfleet.reputation import checks
from tests.conftest import base_settings
from tests.reputation.conftest import dnsbl_settings
from tests.reputation.dnsbl_server import DnsblServer

RATE = 8  # a power of two: slots k/8 are exact in binary, so seconds split cleanly
# A guard against a query that never arrives (the test fails instead of hanging); no assertion
# rests on it.
ARRIVAL_POLLS = 10_000


class FakeTime:
    def __init__(self, server: DnsblServer) -> None:
        self.now = 0.0
        self.server = server

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + seconds
        slot = round(target * RATE)
        for _ in range(ARRIVAL_POLLS):
            if self.server.count >= slot:
                break
            await asyncio.sleep(0.001)
        else:
            raise AssertionError(f"query {slot - 1} never reached the server")
        self.now = max(self.now, target)


def test_parallel_checks_stay_within_the_budget(dnsbl: DnsblServer, tmp_path: Path) -> None:
    settings = base_settings(tmp_path, "sqlite:///:memory:", **dnsbl_settings(dnsbl))
    domains = [f"d{i}.com" for i in range(30)]
    for name in domains[:5]:
        dnsbl.list(f"{name}.dbl.test", "127.0.1.2", "listed")  # each adds a TXT query
    fake = FakeTime(dnsbl)
    dnsbl.clock = fake.clock
    bucket = checks.TokenBucket(RATE, clock=fake.clock, sleep=fake.sleep)

    queries = checks.queries_for(domains, [], settings)
    verdicts = checks.run(queries, settings, bucket)

    assert sum(v.listed for v in verdicts) == 5
    total = len(queries) + 5
    assert dnsbl.count == total
    per_second = Counter(math.floor(stamp) for _, _, stamp in dnsbl.received)
    assert max(per_second.values()) <= RATE
    # Paced, not merely slow: every full second used the whole budget.
    last = math.floor(dnsbl.received[-1][2])
    assert all(per_second[second] == RATE for second in range(last))
    assert last == (total - 1) // RATE


def test_one_bucket_paces_every_thread_of_a_process() -> None:
    """Worker threads and requests share the process's bucket: each reservation gets its own
    slot, so two sweeps at once do not double the rate."""
    bucket = checks.TokenBucket(RATE, clock=lambda: 0.0)
    waits: list[float] = []

    def reserve_many() -> None:
        for _ in range(50):
            waits.append(bucket.reserve())

    threads = [threading.Thread(target=reserve_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(wait * RATE) for wait in waits) == list(range(200))
