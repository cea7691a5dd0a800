"""Which buckets a request is charged to, and at what rate (reference §6, beets #6510)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from earmark.errors import ConfigError
from earmark.ratelimit.window import Window


@dataclass(frozen=True)
class Rates:
    """Requests per second per bucket; 0 means unlimited."""

    application: float = 10.0
    global_: float = 100.0
    ip: float = 4.0
    #: Per user key; 0 turns the per-user bucket off.
    user: float = 0.0
    applications: dict[int, float] = field(default_factory=dict)
    ips: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    bucket: str
    rate: float
    retry_after: int


def parse_overrides(text: str) -> tuple[dict[int, float], dict[str, float]]:
    """``application.<id>=<rate>`` and ``ip.<address>=<rate>`` items, space or comma separated."""
    apps: dict[int, float] = {}
    ips: dict[str, float] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        kind, dot, key = name.partition(".")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not dot or not key or rate < 0 or not math.isfinite(rate):
            raise ConfigError(f"rate_limit_overrides: cannot read {item!r}")
        if kind == "application" and key.isdigit():
            apps[int(key)] = rate
        elif kind == "ip":
            ips[key] = rate
        else:
            raise ConfigError(f"rate_limit_overrides: cannot read {item!r}")
    return apps, ips


class RateLimits:
    """Charges a request to its buckets in the reference's order: application (or user), global,
    IP. The first bucket that is full rejects the request."""

    def __init__(self, window: Window, rates: Rates) -> None:
        self.window = window
        self.rates = rates

    async def check(
        self, *, application_id: int | None, account_id: int | None, ip: str
    ) -> Rejection | None:
        rates = self.rates
        checks: list[tuple[str, str, float]] = []
        explicit = application_id is not None and application_id in rates.applications
        if account_id is not None and rates.user > 0:
            checks.append(("user", str(account_id), rates.user))
        elif application_id is not None:
            checks.append(
                (
                    "app",
                    str(application_id),
                    rates.applications.get(application_id, rates.application),
                )
            )
        checks.append(("global", "", rates.global_))
        if not explicit:
            checks.append(("ip", ip, rates.ips.get(ip, rates.ip)))
        for bucket, key, rate in checks:
            if rate <= 0:
                continue
            verdict = await self.window.hit(bucket, key, rate)
            if not verdict.allowed:
                return Rejection(bucket, rate, math.ceil(verdict.retry_after))
        return None

    async def close(self) -> None:
        await self.window.close()
