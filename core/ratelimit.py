"""Fixed-window counters in the cache (shared by every worker when REDIS_URL is set), for the
limits that are not DRF throttles: sign-ins, sign-ups, sockets, new conversations, content gaps.

A limit is a name, a key (who), a number and a window in seconds. ``hit`` counts one and says
whether the caller is still within the limit; ``exceeded`` only looks.
"""

import hashlib
from dataclasses import dataclass

from django.core.cache import cache


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
