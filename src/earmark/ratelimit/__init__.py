"""Rate limits (reference §6): sliding windows per application (or user), globally, per IP.

:class:`~earmark.ratelimit.policy.RateLimits` decides which buckets a request is charged to;
a :class:`~earmark.ratelimit.window.Window` counts: in memory for one process
(:class:`MemoryWindow`, ``earmark serve``), in Redis for a fleet
(:class:`~earmark.ratelimit.redis_window.RedisWindow`, ``earmark run api``).
"""

from __future__ import annotations

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from earmark.ratelimit.policy import RateLimits, Rates, Rejection, canonical_ip, parse_overrides
from earmark.ratelimit.redis_window import RedisWindow
from earmark.ratelimit.window import Charge, MemoryWindow, Verdict, Window
from earmark.settings import Settings

__all__ = [
    "Charge",
    "MemoryWindow",
    "RateLimits",
    "Rates",
    "RedisWindow",
    "Rejection",
    "Verdict",
    "Window",
    "canonical_ip",
    "open_rate_limits",
    "parse_overrides",
    "rates_from_settings",
]

#: Every API request waits for the limiter: a stalled Redis may hold it this long at most
#: (then the request is allowed unchecked, see RedisWindow).
REDIS_TIMEOUT_S = 0.5


def rates_from_settings(settings: Settings) -> Rates:
    """The rates of the ``rate_limit_*`` settings (raises ConfigError on bad overrides)."""
    apps, ips = parse_overrides(settings.rate_limit_overrides)
    return Rates(
        application=settings.rate_limit_application,
        global_=settings.rate_limit_global,
        ip=settings.rate_limit_ip,
        user=settings.rate_limit_user,
        applications=apps,
        ips=ips,
    )


def open_rate_limits(settings: Settings) -> RateLimits:
    """The limits of the settings: counted in Redis when ``redis_url`` is set (keys under
    ``redis_prefix``, shared by every API process), else in this process's memory.
    ``RateLimits.close()`` closes the Redis client."""
    rates = rates_from_settings(settings)
    if not settings.redis_url:
        return RateLimits(MemoryWindow(), rates)
    client = redis.asyncio.Redis.from_url(
        str(settings.redis_url),
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
    )
    return RateLimits(RedisWindow(client, settings.redis_prefix), rates)
