"""Token-bucket rate limit per token, API key or session (security.md DOS-2).

In-process: each node limits on its own (a client spread over N nodes gets N times the rate,
which DOS-2 accepts as the protection is against one runaway client, not exact accounting).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

_MAX_KEYS = 50_000


@dataclass(slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # seconds until one request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        out = {
            "X-RATELIMIT-LIMIT": str(self.limit),
            "X-RATELIMIT-REMAINING": str(self.remaining),
            "X-RATELIMIT-RESET": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, self.retry_after_s))
        return out


class TokenBucket:
    """``rate`` requests per second on average, bursts up to ``burst``; rate 0 never limits."""

    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> Decision:
        now: float = self._clock()  # type: ignore[operator]
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if key not in self._buckets and len(self._buckets) >= _MAX_KEYS:
                self._prune(now)
            self._buckets[key] = (tokens, now)
        missing = self.burst - tokens
        return Decision(
            allowed=allowed,
            limit=self.burst,
            remaining=max(0, int(tokens)),
            reset_s=math.ceil(missing / self.rate) if missing > 0 else 0,
            retry_after_s=0 if allowed else math.ceil((1.0 - tokens) / self.rate),
        )

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        stale = [k for k, (_, last) in self._buckets.items() if now - last >= full_after]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) >= _MAX_KEYS:  # still full: drop the oldest half
            for k, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[: _MAX_KEYS // 2]:
                del self._buckets[k]
