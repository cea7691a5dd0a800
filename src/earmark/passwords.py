"""Password hashes of the website's local accounts: argon2id (argon2-cffi's defaults, RFC 9106's
second recommended profile: 64 MiB, 3 passes), verified in constant time.

Hashing costs tens of milliseconds and 64 MiB on purpose: callers run it in a worker thread and
rate-limit sign-in attempts (see earmark.web.pages.account).
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The shortest and longest password accepted (a very long one would only cost hashing time).
MIN_LENGTH = 8
MAX_LENGTH = 1024

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or a damaged hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def problem(password: str) -> str | None:
    """Why ``password`` is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password may have at most {MAX_LENGTH} characters."
    return None


@functools.cache
def dummy_hash() -> str:
    """Checked against when no account has the login, so that a wrong login costs as long as
    a wrong password (the response time does not tell which logins exist)."""
    return _HASHER.hash("earmark: no such account")
