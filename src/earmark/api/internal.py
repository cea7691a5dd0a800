"""The cluster control plane ``/v2/internal/*`` (reference §5.7), guarded by the cluster secret.

Every endpoint parses its parameters first (a bad one → error 2 naming it), is then admitted by
the rate limiter (a request carrying the right secret bypasses it, so a guessing attacker is
throttled while the operator's tools are not), and only then checks ``secret`` against
``services.config.cluster_secret`` in constant time (error 12; with no configured secret the
control plane is closed). As in the reference, ``update_application_status`` resolves the
application while parsing, so it answers 17 before the secret check.

"Master only" in the reference means: a non-master API server forwarded stats writes to the
master over these endpoints. Earmark has no cluster roles: every API process writes to the same
database, so every process serves every internal endpoint (docs/compatibility.md).
"""

from __future__ import annotations

import datetime as dt
import re

from earmark.api import errors
from earmark.api.call import Call, Handler, Payload
from earmark.api.params import parse_int
from earmark.db import accounts, applications, stats
from earmark.db.accounts import Account
from earmark.db.applications import Application
from earmark.db.engine import read_connection, write_transaction
from earmark.db.stats import DailyLookups, LookupCount, UserAgentCount

#: Ids and counts are 32-bit columns; larger numbers cannot be stored or exist.
_MAX_INT32 = 2**31 - 1
#: ``lookup_stats`` reports at most this many days back (bounds the date arithmetic).
_MAX_DAYS = 100 * 366
#: ``stats_user_agents.ip`` is a 64-character column.
_MAX_IP_LENGTH = 64
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
EXTERNAL_USER_NAME = "External User"


# --- parameters (each bad value is error 2 naming the parameter) ---------------------------


def _int(call: Call, name: str, low: int, high: int = _MAX_INT32) -> int:
    text = call.params.get(name)
    value = parse_int(text)
    if value is None or not low <= value <= high:
        raise errors.missing_parameter(name)
    return value


def _id(call: Call, name: str) -> int:
    return _int(call, name, 1)


def _parse_date(text: str | None, name: str) -> dt.date:
    if text is None or not _DATE.fullmatch(text):
        raise errors.missing_parameter(name)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise errors.missing_parameter(name) from None


def _optional_date(call: Call, name: str) -> dt.date | None:
    text = call.params.get(name)
    return None if text is None or text == "" else _parse_date(text, name)


def _present(call: Call, name: str) -> str:
    """A parameter that must be sent but may be empty (a request without a User-Agent)."""
    value = call.params.get(name)
    if value is None:
        raise errors.missing_parameter(name)
    return value


def _flag(call: Call, name: str) -> bool:
    """``1``/``true``/``yes`` or ``0``/``false``/``no``; anything else is error 2. The
    reference took Python's truthiness of the string, so ``0`` meant true (quirk 10, fixed)."""
    text = (call.params.get(name) or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise errors.missing_parameter(name)


async def _guard(call: Call) -> None:
    """Admit the request, then require the cluster secret (error 12)."""
    await call.admit()
    if not call.has_cluster_secret():
        raise errors.not_allowed()


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()  # the counters' days are UTC days


# --- statistics -----------------------------------------------------------------------------


async def update_lookup_stats(call: Call) -> Payload:
    """Add ``count`` hits (``type=hit``) or misses (any other type) of an application in one
    hour; an unknown application is error 17."""
    application_id = _id(call, "application_id")
    date = _parse_date(call.params.get("date"), "date")
    hour = _int(call, "hour", 0, 23)
    hit = call.required("type") == "hit"
    count = _int(call, "count", 0)
    await _guard(call)
    counted = LookupCount(
        application_id, date, hour, hits=count if hit else 0, misses=0 if hit else count
    )

    def write() -> bool:
        with write_transaction(call.services.dbs.app) as conn:
            if not stats.known_applications(conn, [application_id]):
                return False
            stats.add_lookup_counts(conn, [counted])
            return True

    if not await call.thread(write):
        raise errors.unknown_application()
    return {}


async def update_user_agent_stats(call: Call) -> Payload:
    """Add ``count`` requests of an application from one user agent and IP on one day."""
    application_id = _id(call, "application_id")
    date = _parse_date(call.params.get("date"), "date")
    user_agent = _present(call, "user_agent")
    ip = _present(call, "ip")
    if len(ip) > _MAX_IP_LENGTH:
        raise errors.missing_parameter("ip")
    count = _int(call, "count", 0)
    await _guard(call)
    counted = UserAgentCount(application_id, date, user_agent, ip, count)

    def write() -> bool:
        with write_transaction(call.services.dbs.app) as conn:
            if not stats.known_applications(conn, [application_id]):
                return False
            stats.add_user_agent_counts(conn, [counted])
            return True

    if not await call.thread(write):
        raise errors.unknown_application()
    return {}


async def lookup_stats(call: Call) -> Payload:
    """Lookups per day summed over the applications of the ``client`` keys (none known → 4),
    from ``from`` to ``to``; by default the ``days`` (30) days before today, today excluded."""
    keys = call.params.getlist("client")
    from_date = _optional_date(call, "from")
    to_date = _optional_date(call, "to")
    days = 30 if call.params.get("days") in (None, "") else _int(call, "days", 1, _MAX_DAYS)
    await _guard(call)
    first, last = stats.lookup_window(_today(), from_date, to_date, days)

    def read() -> list[DailyLookups] | None:
        with read_connection(call.services.dbs.app) as conn:
            ids = applications.ids_by_api_keys(conn, keys)
            if not ids:
                return None
            return stats.lookup_stats(conn, list(ids.values()), first, last)

    found = await call.thread(read)
    if found is None:
        raise errors.invalid_apikey()
    return {"stats": [day.to_json() for day in found]}


# --- accounts and applications --------------------------------------------------------------


async def create_account(call: Call) -> Payload:
    """A new account named "External User" (for users of an external site)."""
    await _guard(call)

    def create() -> Account:
        with write_transaction(call.services.dbs.app) as conn:
            return accounts.create(conn, name=EXTERNAL_USER_NAME)

    account = await call.thread(create)
    return {"id": account.id, "api_key": account.apikey}


async def create_application(call: Call) -> Payload:
    """A new active application of ``account_id`` (an unknown account is error 2: the
    reference failed with error 5 on the foreign key)."""
    account_id = _id(call, "account_id")
    name = call.required("name")
    version = call.required("version")
    await _guard(call)

    def create() -> Application | None:
        with write_transaction(call.services.dbs.app) as conn:
            if accounts.get(conn, account_id) is None:
                return None
            return applications.create(conn, name=name, version=version, account_id=account_id)

    app = await call.thread(create)
    if app is None:
        raise errors.missing_parameter("account_id")
    return {"id": app.id, "api_key": app.apikey}


async def update_application_status(call: Call) -> Payload:
    """Activate or deactivate an application of ``account_id``; an unknown application or one of
    another account is error 17, answered before the secret is checked (reference)."""
    account_id = _id(call, "account_id")
    application_id = _id(call, "application_id")
    active = _flag(call, "active")

    def owned() -> bool:
        with read_connection(call.services.dbs.app) as conn:
            app = applications.get(conn, application_id)
        return app is not None and app.account_id == account_id

    # Rate-limited before the ownership query, so nobody can probe ownership at will; 17 still
    # comes before the secret check, as in the reference.
    await call.admit()
    if not await call.thread(owned):
        raise errors.unknown_application()
    if not call.has_cluster_secret():
        raise errors.not_allowed()

    def write() -> bool:
        with write_transaction(call.services.dbs.app) as conn:
            return applications.set_active(conn, application_id, active)

    if not await call.thread(write):
        raise errors.unknown_application()
    # This process forgets its cached keys at once; others within the key cache TTL.
    call.services.keys.clear()
    return {"id": application_id, "active": active}


async def check_application(call: Call) -> Payload:
    """The id of the *active* application of ``api_key`` (uncached), or error 4."""
    apikey = call.required("api_key")
    await _guard(call)

    def read() -> Application | None:
        with read_connection(call.services.dbs.app) as conn:
            return applications.get_by_api_key(conn, apikey)

    app = await call.thread(read)
    if app is None or not app.active:
        raise errors.invalid_apikey()
    return {"id": app.id}


ROUTES: list[tuple[str, str, Handler]] = [
    ("/v2/internal/update_lookup_stats", "internal_update_lookup_stats", update_lookup_stats),
    (
        "/v2/internal/update_user_agent_stats",
        "internal_update_user_agent_stats",
        update_user_agent_stats,
    ),
    ("/v2/internal/lookup_stats", "internal_lookup_stats", lookup_stats),
    ("/v2/internal/create_account", "internal_create_account", create_account),
    ("/v2/internal/create_application", "internal_create_application", create_application),
    (
        "/v2/internal/update_application_status",
        "internal_update_application_status",
        update_application_status,
    ),
    ("/v2/internal/check_application", "internal_check_application", check_application),
]
