"""Time-ordered UUIDs (RFC 9562 version 7), so that ordering by id is ordering by creation.

Keyset pagination relies on ids being unique and totally ordered; being roughly time-ordered
also keeps B-tree inserts local, which matters when 10,000 rows arrive in one request.
"""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 64) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)
