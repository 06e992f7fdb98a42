"""What the send engine needs from a transport, and a rate limiter relays share."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Envelope", "RateLimit", "Transport"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message for one recipient: the SMTP envelope and the bytes for DATA."""

    mail_from: str
    recipient: str
    data: bytes


class Transport(Protocol):
    """Hands messages to relays. `send` returns the relay's reply to DATA (250 …) or raises
    `TransientSendError` (4xx; `ConnectionFailed` for no answer) or `PermanentSendError`."""

    @property
    def concurrency(self) -> int:
        """How many `send` calls may usefully run at once."""
        ...

    async def send(self, envelope: Envelope, /) -> str: ...

    async def close(self) -> None: ...


class RateLimit:
    """At most `per_second` messages a second and `per_hour` an hour (0: no limit).

    Two token buckets: the second's holds one second's worth (bursts stay short), the hour's
    refills continuously at per_hour / 3600 a second."""

    def __init__(self, per_second: float = 0.0, per_hour: int = 0) -> None:
        self._buckets: list[list[float]] = []  # [rate per second, capacity, tokens, last]
        now = time.monotonic()
        if per_second > 0:
            capacity = max(1.0, per_second)
            self._buckets.append([per_second, capacity, capacity, now])
        if per_hour > 0:
            capacity = max(1.0, min(float(per_hour), per_hour / 60))  # a minute's worth
            self._buckets.append([per_hour / 3600, capacity, capacity, now])
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more message is allowed, then take it."""
        if not self._buckets:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                wait = 0.0
                for bucket in self._buckets:
                    rate, capacity, tokens, last = bucket
                    tokens = min(capacity, tokens + (now - last) * rate)
                    bucket[2], bucket[3] = tokens, now
                    if tokens < 1:
                        wait = max(wait, (1 - tokens) / rate)
                if wait <= 0:
                    for bucket in self._buckets:
                        bucket[2] -= 1
                    return
                await asyncio.sleep(wait)
