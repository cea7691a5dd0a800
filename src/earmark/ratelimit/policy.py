"""Which buckets a request is charged to, and at what rate (reference §6, beets #6510).

The reference's order: the application (keyed by its id), then the whole service (``global``),
then the client's IP address. The first full bucket rejects the request. An application with
its own rate in ``rate_limit_overrides`` skips the IP bucket (a trusted server-side client
sends everything from one address). Endpoints without a client key skip the application bucket.

Earmark's addition (beets #6510, the 10/s of a popular application's key is shared by all of its
users): when ``rate_limit_user`` is above 0, a request that carries a user key is charged to a
per-user bucket *instead of* the application bucket. A rate of 0 means unlimited.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from earmark.errors import ConfigError
from earmark.ratelimit.window import Charge, Window

log = logging.getLogger(__name__)

_APP_ID = re.compile(r"[0-9]{1,18}")
_RATE = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


@dataclass(frozen=True)
class Rates:
    """Requests per second per bucket; 0 means unlimited."""

    application: float = 10.0
    global_: float = 100.0
    ip: float = 4.0
    #: Per user key; 0 turns the per-user bucket off.
    user: float = 0.0
    #: Explicit rates per application id (these applications skip the IP bucket).
    applications: dict[int, float] = field(default_factory=dict)
    #: Explicit rates per IP address (canonical text form, see :func:`canonical_ip`).
    ips: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    bucket: str
    rate: float
    #: Whole seconds for the Retry-After header (at least 1).
    retry_after: int


def canonical_ip(text: str) -> str:
    """The bucket of a client address: an IPv4 address as is (also when IPv4-mapped), an IPv6
    address by its /64 network (one subscriber gets a whole /64, so per-address buckets would
    let one client rotate addresses past the limit); anything else unchanged, so an odd client
    address still gets a bucket of its own."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def parse_overrides(text: str) -> tuple[dict[int, float], dict[str, float]]:
    """``application.<id>=<rate>`` and ``ip.<address>=<rate>`` items, space or comma separated
    (the reference's ``[rate_limiter]`` keys). Anything else is a :class:`ConfigError`: a typo
    here would otherwise silently leave a client at the default rate."""
    apps: dict[int, float] = {}
    ips: dict[str, float] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        kind, _, key = name.partition(".")
        if not sep or not _RATE.fullmatch(value) or not math.isfinite(float(value)):
            raise ConfigError(f"rate_limit_overrides: cannot read {item!r} (want kind.key=rate)")
        rate = float(value)
        if kind == "application" and _APP_ID.fullmatch(key):
            if int(key) in apps:
                raise ConfigError(f"rate_limit_overrides: {name!r} is given twice")
            apps[int(key)] = rate
        elif kind == "ip":
            try:
                ipaddress.ip_address(key)
                address = canonical_ip(key)  # an IPv6 override covers the address's /64
            except ValueError:
                raise ConfigError(
                    f"rate_limit_overrides: {key!r} in {item!r} is not an IP address"
                ) from None
            if address in ips:
                raise ConfigError(f"rate_limit_overrides: {name!r} is given twice")
            ips[address] = rate
        else:
            raise ConfigError(
                f"rate_limit_overrides: cannot read {item!r} "
                "(want application.<id>=<rate> or ip.<address>=<rate>)"
            )
    return apps, ips


class RateLimits:
    """Charges a request to its buckets (see the module docstring) in one window call.

    ``on_unavailable`` is called for every request let through unchecked because the window's
    store is away (the API counts them in its metrics).
    """

    def __init__(
        self,
        window: Window,
        rates: Rates,
        *,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self.window = window
        self.rates = rates
        self.on_unavailable = on_unavailable

    def charges(
        self, *, application_id: int | None, account_id: int | None, ip: str
    ) -> list[Charge]:
        """The buckets of one request, in order, without the unlimited ones."""
        rates = self.rates
        found: list[Charge] = []
        explicit = application_id is not None and application_id in rates.applications
        if account_id is not None and rates.user > 0:
            found.append(Charge("user", str(account_id), rates.user))
        elif application_id is not None:
            rate = rates.applications.get(application_id, rates.application)
            found.append(Charge("app", str(application_id), rate))
        found.append(Charge("global", "", rates.global_))
        if not explicit:
            address = canonical_ip(ip)
            found.append(Charge("ip", address, rates.ips.get(address, rates.ip)))
        return [c for c in found if c.rate > 0]

    async def check(
        self, *, application_id: int | None, account_id: int | None, ip: str
    ) -> Rejection | None:
        """Count the request, or say which bucket is full (then nothing is counted)."""
        charges = self.charges(application_id=application_id, account_id=account_id, ip=ip)
        if not charges:
            return None
        verdict = await self.window.charge(charges)
        if not verdict.checked and self.on_unavailable is not None:
            self.on_unavailable()
        if verdict.allowed or verdict.rejected is None:
            return None
        full = charges[verdict.rejected]
        return Rejection(full.bucket, full.rate, max(1, math.ceil(verdict.retry_after)))

    async def close(self) -> None:
        await self.window.close()
