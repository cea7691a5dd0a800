"""Rate limits (reference §6): sliding windows per application, globally, per IP, per user.

:class:`~earmark.ratelimit.policy.RateLimits` decides which buckets a request is charged to;
a :class:`~earmark.ratelimit.window.Window` counts (in memory for one process, in Redis for a
fleet).
"""

from __future__ import annotations

from earmark.ratelimit.policy import RateLimits, Rates, Rejection, parse_overrides
from earmark.ratelimit.window import MemoryWindow, Window
from earmark.settings import Settings

__all__ = [
    "MemoryWindow",
    "RateLimits",
    "Rates",
    "Rejection",
    "Window",
    "open_rate_limits",
    "parse_overrides",
]


def rates_from_settings(settings: Settings) -> Rates:
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
    """The limits of the settings, counted in this process's memory."""
    return RateLimits(MemoryWindow(), rates_from_settings(settings))
