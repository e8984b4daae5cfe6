"""Time-ordered UUIDs (RFC 9562 version 7), so that ordering by id is ordering by creation.

Keyset pagination relies on ids being unique and totally ordered; being roughly time-ordered
also keeps B-tree inserts local, which matters when 10,000 rows arrive in one request. Within
one process they are also strictly increasing (RFC 9562 6.2, method 2): an id made in the same
millisecond as the one before it is that one plus one in its random bits, so "newest first" is
exact for what one process creates, however fast.
"""

import os
import threading
import time
import uuid

_RAND_B = (1 << 62) - 1
_lock = threading.Lock()
_last = 0


def _compose(millis: int) -> int:
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 64) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & _RAND_B  # rand_b
    return value


def uuid7() -> uuid.UUID:
    global _last
    millis = time.time_ns() // 1_000_000
    value = _compose(millis)
    with _lock:
        if value <= _last:
            # The next id after the last; when its rand_b is spent, the next millisecond's.
            spent = _last & _RAND_B == _RAND_B
            value = _compose((_last >> 80) + 1) if spent else _last + 1
        _last = value
    return uuid.UUID(int=value)
