"""The sliding window in Redis, shared by every API process of a deployment (reference §6).

Keys, as the reference's limiter: ``<prefix>rl:{bucket}:{key}:{slot}``, an integer counter per
5-second slot that expires 25 s after its last hit (it must outlive the 20 s window).

One request is one round trip: a Lua script (loaded once, then run by EVALSHA) does, for each
bucket in order, INCR of the current slot + EXPIRE, sums the current and three previous slots,
and, when the sum passes the bucket's budget, DECRs that bucket *and every bucket it already
incremented* before answering "rejected". Redis runs a script atomically, so concurrent API
processes can never overshoot a budget, and a rejected request consumes nothing.

Clock: by default the script reads the Redis server's ``TIME``, so every API process (whatever
its host's clock says) agrees on the slot. A ``clock`` callable replaces it (tests; a deployment
that prefers its own time); a window never mixes the two. ``TIME`` inside a writing script
needs Redis >= 5 (effects replication).

Outages: when Redis cannot be reached the request is allowed unchecked (a limiter must not
take the service down with it), the outage is logged at most once a minute and the verdict
says ``checked=False`` (the API counts those in its metrics); for ``retry_interval`` seconds
after a failure Redis is not asked at all, so a black-holed server costs one timeout per
interval instead of one per request.

Redis Cluster is not supported: a request's keys live in different hash slots. Use a single
Redis (optionally behind Sentinel).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import redis
import redis.asyncio

from earmark.ratelimit.window import (
    ALLOWED,
    INTERVAL_S,
    STEP_S,
    STEPS,
    Charge,
    Verdict,
    Window,
    budget,
)

log = logging.getLogger(__name__)

#: Lifetime of a slot counter after its last hit: longer than the window it is read in.
KEY_TTL_S = INTERVAL_S + 5
_WARN_EVERY_S = 60.0

# KEYS[i]: "<prefix>rl:<bucket>:<key>:" of bucket i; ARGV[1]: now in seconds, or "" for the
# server's TIME; ARGV[1 + i]: budget of bucket i. Returns {0} when allowed, else
# {i, retry_after_ms} for the first bucket that rejected (nothing stays counted).
_CHARGE = f"""
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local step = {STEP_S}
local steps = {STEPS}
local slot = math.floor(now / step)
local current = string.format('%d', slot)
for i = 1, #KEYS do
  local limit = tonumber(ARGV[i + 1])
  local key = KEYS[i] .. current
  local n = redis.call('INCR', key)
  redis.call('EXPIRE', key, {KEY_TTL_S})
  local counts = {{}}
  local total = n
  for j = steps - 1, 1, -1 do
    local c = tonumber(redis.call('GET', KEYS[i] .. string.format('%d', slot - j)) or '0')
    counts[#counts + 1] = c
    total = total + c
  end
  if total > limit then
    redis.call('DECR', key)
    for k = 1, i - 1 do
      redis.call('DECR', KEYS[k] .. current)
    end
    counts[#counts + 1] = n - 1
    local remaining = total - 1
    for k = 1, steps do
      remaining = remaining - counts[k]
      if remaining + 1 <= limit then
        return {{i, math.ceil(((slot + k) * step - now) * 1000)}}
      end
    end
    return {{i, math.ceil(((slot + steps) * step - now) * 1000)}}
  end
end
return {{0}}
"""


class RedisWindow(Window):
    """Counts in Redis (``earmark run api``); see the module docstring."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        prefix: str = "earmark:",
        *,
        clock: Callable[[], float] | None = None,
        retry_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.retry_interval = retry_interval
        self._script = client.register_script(_CHARGE)
        self._down_until = 0.0
        self._unchecked = 0
        self._warned = -_WARN_EVERY_S

    def key(self, bucket: str, key: str) -> str:
        """The key prefix of a bucket's slot counters (the slot number follows)."""
        return f"{self.prefix}rl:{bucket}:{key}:"

    async def charge(self, charges: Sequence[Charge]) -> Verdict:
        if not charges:
            return ALLOWED
        if time.monotonic() < self._down_until:
            return self._unavailable(None)
        keys = [self.key(c.bucket, c.key) for c in charges]
        now = "" if self.clock is None else repr(float(self.clock()))
        args = [now, *(repr(budget(c.rate)) for c in charges)]
        try:
            reply = await self._script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            self._down_until = time.monotonic() + self.retry_interval
            return self._unavailable(exc)
        index = int(reply[0])
        if index == 0:
            return ALLOWED
        return Verdict(False, int(reply[1]) / 1000, index - 1)

    def _unavailable(self, exc: BaseException | None) -> Verdict:
        self._unchecked += 1
        now = time.monotonic()
        if exc is not None and now - self._warned >= _WARN_EVERY_S:
            log.warning(
                "rate limits unavailable (Redis: %s); %d request(s) allowed unchecked "
                "since the last warning",
                type(exc).__name__,
                self._unchecked,
            )
            self._warned = now
            self._unchecked = 0
        return Verdict(True, checked=False)

    async def close(self) -> None:
        await self.client.aclose()
