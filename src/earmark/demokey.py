"""The demo client key (reference §6): a key anyone may use to try the service, that changes
every day and is derived from a secret, so it cannot be kept forever in shipped software.

The key of day D is the HMAC-MD5, keyed with ``<secret>:demo-client-api-key``, of D's proleptic
ordinal in lower-case hex; its first 8 bytes in URL-safe base64 without padding (11 characters),
with the second-to-last character forced to ``A`` (which tells it from a 10-character key).

The reference checks the days from today *forward*, so in practice a key works only on the day
it was issued (§17 quirk 7); Earmark accepts the keys of the last :data:`VALID_DAYS` days, the
intended week.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

VALID_DAYS = 7
KEY_LENGTH = 11


def demo_key(secret: str, day: dt.date) -> str:
    mac = hmac.new(
        f"{secret}:demo-client-api-key".encode(),
        format(day.toordinal(), "x").encode(),
        hashlib.md5,
    )
    text = base64.urlsafe_b64encode(mac.digest()[:8]).decode().rstrip("=")
    return text[:-2] + "A" + text[-1]


def looks_like_demo_key(key: str) -> bool:
    return len(key) == KEY_LENGTH and key[-2] == "A"


def is_demo_key(secret: str, key: str, today: dt.date) -> bool:
    """True when ``key`` is the demo key of today or one of the previous 6 days."""
    if not secret or not looks_like_demo_key(key):
        return False
    return any(
        hmac.compare_digest(key.encode(), demo_key(secret, today - dt.timedelta(days=n)).encode())
        for n in range(VALID_DAYS)
    )


@dataclass(frozen=True)
class DemoKeys:
    """The demo key configuration: off unless both a secret and an application are set."""

    secret: str = ""
    application_id: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.secret) and self.application_id > 0

    def today(self, today: dt.date | None = None) -> str | None:
        if not self.enabled:
            return None
        return demo_key(self.secret, today or dt.datetime.now(dt.UTC).date())

    def accepts(self, key: str, today: dt.date | None = None) -> bool:
        return self.enabled and is_demo_key(
            self.secret, key, today or dt.datetime.now(dt.UTC).date()
        )
