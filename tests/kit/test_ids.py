"""Ids are version-7 UUIDs, strictly increasing within a process even when many are made in
one millisecond: lists ordered by id are in creation order."""

from __future__ import annotations

import threading
import uuid

from mailfleet.kit.ids import uuid7


def test_ids_made_in_one_burst_are_strictly_increasing_and_valid() -> None:
    made = [uuid7() for _ in range(50_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    for value in (made[0], made[-1]):
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_threads_never_share_an_id() -> None:
    found: list[uuid.UUID] = []
    lock = threading.Lock()

    def make() -> None:
        mine = [uuid7() for _ in range(5_000)]
        with lock:
            found.extend(mine)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == len(found) == 20_000
