"""19-digit ids that sort by creation (zoho-rest-compat.md §3.7).

``id = (milliseconds since the Unix epoch << 20) | (sequence << 6) | node``: today's clock gives
19 decimal digits (until the year 2248 the value stays below 2**63), ids of one process increase
strictly, and the 6 node bits keep ids of up to 64 concurrently running processes apart. The node
number is claimed from the database at start (``orgs.node_counter``) so two nodes sharing one
PostgreSQL never hold the same one.
"""

from __future__ import annotations

import threading
import time
from typing import Final

NODE_BITS: Final = 6
SEQ_BITS: Final = 14
TIME_SHIFT: Final = NODE_BITS + SEQ_BITS  # 20
MAX_NODE: Final = (1 << NODE_BITS) - 1


class IdGenerator:
    """Thread-safe, strictly increasing ids for one process."""

    def __init__(self, node: int = 0) -> None:
        self.node = node & MAX_NODE
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0

    def next_id(self) -> int:
        with self._lock:
            ms = int(time.time() * 1000)
            if ms <= self._last_ms:
                # Same millisecond, or the clock stepped back: continue from the last one.
                ms = self._last_ms
                self._seq += 1
                if self._seq >> SEQ_BITS:
                    ms += 1  # 16,384 ids in one millisecond: borrow the next one
                    self._seq = 0
            else:
                self._seq = 0
            self._last_ms = ms
            return (ms << TIME_SHIFT) | (self._seq << NODE_BITS) | self.node

    def take(self, n: int) -> list[int]:
        return [self.next_id() for _ in range(n)]


def id_time_ms(record_id: int) -> int:
    """The creation millisecond encoded in an id."""
    return record_id >> TIME_SHIFT
