"""Fixed-window counters in the cache (shared by every worker when REDIS_URL is set), for the
limits that are not DRF throttles: sign-ins, sign-ups, sockets, new conversations, content gaps.

A limit is a name, a key (who), a number and a window in seconds. ``hit`` counts one and says
whether the caller is still within the limit; ``exceeded`` only looks. ``Slots`` counts what is
held open (sockets) rather than what happened in a window. A service refused by a limit raises
``RateLimited``: a 429 page or JSON answer, or an ``error`` frame ``rate_limited`` on a socket.
"""

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError


class RateLimited(ValidationError):
    """A write refused because its caller is over a limit (code ``rate_limited``)."""

    def __init__(self, message: str):
        super().__init__(message, code="rate_limited")


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds

    def key(self, who: str) -> str:
        # Hashed: keys stay short and carry no address or username in the clear.
        digest = hashlib.sha256(who.encode()).hexdigest()[:32]
        return f"ratelimit:{self.name}:{digest}"

    def hits(self, who: str) -> int:
        return cache.get(self.key(who)) or 0

    def exceeded(self, who: str) -> bool:
        return self.hits(who) >= self.count

    def hit(self, who: str) -> bool:
        """Count one; True while within the limit (this hit included)."""
        key = self.key(who)
        cache.add(key, 0, timeout=self.window)  # the window starts with the first hit
        try:
            value = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=self.window)
            value = 1
        return value <= self.count

    def reset(self, who: str) -> None:
        cache.delete(self.key(who))


class Slots:
    """How many things each key holds open at once (sockets per address), in this process's
    memory: a count in a shared cache would stay up forever for a worker that died holding it,
    and each process bounding its own sockets is what protects that process."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, who: str, limit: int) -> bool:
        """Take one slot; False (nothing taken) when ``who`` already holds ``limit``."""
        with self._lock:
            if self._held[who] >= limit:
                return False
            self._held[who] += 1
            return True

    def release(self, who: str) -> None:
        with self._lock:
            self._held[who] -= 1
            if self._held[who] <= 0:
                del self._held[who]

    def held(self, who: str) -> int:
        with self._lock:
            return self._held[who]

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
