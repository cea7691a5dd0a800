"""Who may call the catalog, and how often: the application keys of /v2 and the rate limits.

A request names its application with the header ``X-Api-Key`` or the parameter ``client``
(the same keys as ``/v2``). A keyed request is charged to its application, the whole service
and its IP address (:class:`earmark.ratelimit.RateLimits`, the ``rate_limit_*`` settings); a
request without a key is anonymous: charged to a per-IP bucket of its own
(``catalog_anonymous_rate``; 0 refuses anonymous requests with 401) and the global one. The
catalog counts in its own buckets (its own key prefix in Redis), apart from /v2's.
"""

from __future__ import annotations

from dataclasses import dataclass

from earmark.auth import KeyCache
from earmark.catalog import errors
from earmark.ratelimit import Charge, RateLimits, canonical_ip

#: Keys are short printable strings; anything else is refused without a query.
MAX_KEY_LENGTH = 64


@dataclass
class CatalogLimits:
    limits: RateLimits
    anonymous_rate: float

    async def admit(self, application_id: int | None, ip: str) -> None:
        """Count the request or raise 429 (with Retry-After) when one of its buckets is full."""
        if application_id is not None:
            rejection = await self.limits.check(
                application_id=application_id, account_id=None, ip=ip
            )
            if rejection is not None:
                raise errors.too_many_requests(rejection.rate, rejection.retry_after)
            return
        if self.anonymous_rate <= 0:
            raise errors.key_required()
        charges = [Charge("anonymous", canonical_ip(ip), self.anonymous_rate)]
        charges += [
            c
            for c in self.limits.charges(application_id=None, account_id=None, ip=ip)
            if c.bucket == "global"
        ]
        verdict = await self.limits.window.charge(charges)
        if not verdict.checked and self.limits.on_unavailable is not None:
            self.limits.on_unavailable()
        if not verdict.allowed and verdict.rejected is not None:
            full = charges[verdict.rejected]
            raise errors.too_many_requests(full.rate, max(1, int(verdict.retry_after + 0.999)))

    async def close(self) -> None:
        await self.limits.close()


def plausible_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def application_id(keys: KeyCache, key: str) -> int:
    """The id of the active application of ``key`` (blocking: a worker thread); 401 else."""
    if not plausible_key(key):
        raise errors.invalid_key()
    found = keys.application(key)
    if found is None:
        raise errors.invalid_key()
    return found.id
