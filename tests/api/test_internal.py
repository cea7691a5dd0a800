"""The cluster control plane /v2/internal/* (reference §5.7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa

from earmark.api.services import ApiConfig
from earmark.db import accounts, applications, stats
from earmark.db.engine import Databases
from earmark.db.stats import LookupCount
from earmark.db.tables import stats_user_agents
from earmark.ratelimit import Rates
from tests.api.harness import CLUSTER_SECRET, ApiHarness

Params = Sequence[tuple[str, str]] | dict[str, str]
TODAY = dt.datetime.now(dt.UTC).date()


def post(api: ApiHarness, path: str, params: Params) -> Any:
    items = list(params.items()) if isinstance(params, dict) else list(params)
    return api.client.post(
        path,
        content=urlencode(items, errors="surrogateescape"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def internal(api: ApiHarness, name: str, params: Params = (), *, secret: bool = True) -> Any:
    items = list(params.items()) if isinstance(params, dict) else list(params)
    if secret:
        items.append(("secret", CLUSTER_SECRET))
    return post(api, f"/v2/internal/{name}", items)


def error_of(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert body["status"] == "error", body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def ok(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert body.pop("status") == "ok"
    return body


def other_application(api: ApiHarness) -> tuple[int, int, str]:
    """An application of another account: (account id, application id, client key)."""
    with api.dbs.write() as conns:
        owner = accounts.create(conns.app, name="someone else")
        app = applications.create(conns.app, name="Other", version="1", account_id=owner.id)
    return owner.id, app.id, app.apikey


# Valid parameters of each endpoint, given the harness.
VALID: dict[str, Callable[[ApiHarness], dict[str, str]]] = {
    "update_lookup_stats": lambda h: {
        "application_id": str(h.application_id),
        "date": "2026-01-02",
        "hour": "5",
        "type": "hit",
        "count": "3",
    },
    "update_user_agent_stats": lambda h: {
        "application_id": str(h.application_id),
        "date": "2026-01-02",
        "user_agent": "pyacoustid/1.3",
        "ip": "192.0.2.1",
        "count": "2",
    },
    "lookup_stats": lambda h: {"client": h.client_key},
    "create_account": lambda h: {},
    "create_application": lambda h: {
        "account_id": str(h.account_id),
        "name": "App",
        "version": "1.0",
    },
    "update_application_status": lambda h: {
        "account_id": str(h.account_id),
        "application_id": str(h.application_id),
        "active": "1",
    },
    "check_application": lambda h: {"api_key": h.client_key},
}
ENDPOINTS = sorted(VALID)


# --- the secret -------------------------------------------------------------------------------


SECRETS: list[str | None] = [
    None,
    "",
    "wrong",
    CLUSTER_SECRET.upper(),
    CLUSTER_SECRET + " ",
    "\udcff",
]


def test_a_wrong_or_missing_secret_is_not_allowed(api: ApiHarness) -> None:
    for name in ENDPOINTS:
        for secret in SECRETS:
            params = VALID[name](api)
            if secret is not None:
                params["secret"] = secret
            response = post(api, f"/v2/internal/{name}", params)
            assert error_of(response) == (400, 12, "not allowed"), (name, secret)


def test_the_secret_opens_every_endpoint(api: ApiHarness) -> None:
    for name in ENDPOINTS:
        assert internal(api, name, VALID[name](api)).status_code == 200, name


@pytest.fixture
def closed(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    """A service without a configured cluster secret."""
    h = ApiHarness(dbs, tmp_path / "index", config=ApiConfig(cluster_secret=""))
    yield h
    h.close()


def test_no_configured_secret_closes_everything(closed: ApiHarness) -> None:
    for name in ENDPOINTS:
        for secret in ("", CLUSTER_SECRET):
            params = {**VALID[name](closed), "secret": secret}
            response = post(closed, f"/v2/internal/{name}", params)
            assert error_of(response)[:2] == (400, 12), (name, secret)


@pytest.fixture
def limited(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    h = ApiHarness(dbs, tmp_path / "index", rates=Rates(application=0, global_=0, ip=0.1))
    yield h
    h.close()


def test_the_secret_bypasses_rate_limits_and_guessing_is_limited(limited: ApiHarness) -> None:
    for _ in range(5):
        assert internal(limited, "create_account").status_code == 200
    for _ in range(2):
        assert error_of(internal(limited, "create_account", secret=False))[:2] == (400, 12)
    assert error_of(internal(limited, "create_account", secret=False))[:2] == (429, 14)
    assert internal(limited, "create_account").status_code == 200


# --- parameters (parsed before the secret is checked) ---------------------------------------

HUGE = "9" * 5000

PARAM_ERRORS: list[tuple[str, Mapping[str, str | None], str]] = [
    # (endpoint, changes to the valid params (None: leave out), parameter named)
    *[
        ("update_lookup_stats", {"application_id": v}, "application_id")
        for v in (None, "", "abc", "0", "-1", "1.0", str(2**31), HUGE)
    ],
    *[
        ("update_lookup_stats", {"date": v}, "date")
        for v in (None, "", "2026-13-01", "2026-02-30", "2026-1-2", "20260102", "٢٠٢٦-01-01")
    ],
    *[("update_lookup_stats", {"hour": v}, "hour") for v in (None, "24", "-1", "x")],
    *[("update_lookup_stats", {"type": v}, "type") for v in (None, "")],
    *[("update_lookup_stats", {"count": v}, "count") for v in (None, "-1", str(2**31), "1e3")],
    ("update_user_agent_stats", {"application_id": "x"}, "application_id"),
    ("update_user_agent_stats", {"date": "yesterday"}, "date"),
    ("update_user_agent_stats", {"user_agent": None}, "user_agent"),
    ("update_user_agent_stats", {"ip": None}, "ip"),
    ("update_user_agent_stats", {"ip": "1" * 65}, "ip"),
    ("update_user_agent_stats", {"count": HUGE}, "count"),
    *[("lookup_stats", {"from": v}, "from") for v in ("2026", "2026-02-29", "\udcff")],
    ("lookup_stats", {"to": "tomorrow"}, "to"),
    *[("lookup_stats", {"days": v}, "days") for v in ("0", "-5", "x", "40000", HUGE)],
    *[("create_application", {"account_id": v}, "account_id") for v in (None, "a", "0", HUGE)],
    ("create_application", {"name": None}, "name"),
    ("create_application", {"version": ""}, "version"),
    ("update_application_status", {"account_id": "x"}, "account_id"),
    ("update_application_status", {"application_id": None}, "application_id"),
    *[
        ("update_application_status", {"active": v}, "active")
        for v in (None, "", "2", "maybe", "on", "-1", "truee")
    ],
    ("check_application", {"api_key": None}, "api_key"),
    ("check_application", {"api_key": ""}, "api_key"),
]


def test_bad_parameters(api: ApiHarness) -> None:
    """Error 2 naming the parameter, with or without the secret (parameters are parsed first)."""
    for name, changes, named in PARAM_ERRORS:
        params = VALID[name](api)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        for secret in (True, False):
            assert error_of(internal(api, name, params, secret=secret)) == (
                400,
                2,
                f'missing required parameter "{named}"',
            ), (name, changes, secret)


def test_format_comes_first(api: ApiHarness) -> None:
    response = internal(api, "update_lookup_stats", {"format": "csv"}, secret=False)
    assert error_of(response)[:2] == (400, 1)


# --- statistics -------------------------------------------------------------------------------


def test_update_lookup_stats_adds_up(api: ApiHarness) -> None:
    base = VALID["update_lookup_stats"](api)
    for kind, count in (("hit", "3"), ("hit", "4"), ("nohit", "5"), ("anything", "1")):
        assert (
            ok(internal(api, "update_lookup_stats", {**base, "type": kind, "count": count})) == {}
        )
    ok(internal(api, "update_lookup_stats", {**base, "hour": "6", "count": "10"}))
    ok(internal(api, "update_lookup_stats", {**base, "date": "2026-01-03", "count": "0"}))
    answer = ok(
        internal(
            api,
            "lookup_stats",
            {"client": api.client_key, "from": "2026-01-01", "to": "2026-01-31"},
        )
    )
    assert answer == {
        "stats": [
            {"date": "2026-01-02", "count_hits": 17, "count_nohits": 6, "count": 23},
            {"date": "2026-01-03", "count_hits": 0, "count_nohits": 0, "count": 0},
        ]
    }


def test_stats_of_an_unknown_application(api: ApiHarness) -> None:
    for name in ("update_lookup_stats", "update_user_agent_stats"):
        params = {**VALID[name](api), "application_id": "987654"}
        assert error_of(internal(api, name, params)) == (400, 17, "unknown application"), name


def test_update_user_agent_stats_adds_up(api: ApiHarness) -> None:
    base = VALID["update_user_agent_stats"](api)
    ok(internal(api, "update_user_agent_stats", base))
    ok(internal(api, "update_user_agent_stats", {**base, "count": "5"}))
    ok(internal(api, "update_user_agent_stats", {**base, "user_agent": "", "ip": ""}))
    with api.dbs.read() as conns:
        rows = conns.app.execute(
            sa.select(
                stats_user_agents.c.user_agent, stats_user_agents.c.ip, stats_user_agents.c.count
            ).order_by(stats_user_agents.c.user_agent)
        ).all()
    assert [tuple(r) for r in rows] == [("", "", 2), ("pyacoustid/1.3", "192.0.2.1", 7)]


@pytest.fixture
def lookups(api: ApiHarness) -> dict[str, str]:
    """Lookup counts of the harness' application, another one and an inactive one, on several
    days around today; returns their client keys."""
    _, other_id, other_key = other_application(api)
    with api.dbs.write() as conns:
        old = applications.create(conns.app, name="Old", version="0", account_id=api.account_id)
        applications.set_active(conns.app, old.id, False)
        counts = []
        for app_id, factor in ((api.application_id, 1), (other_id, 10), (old.id, 100)):
            for days_ago in (0, 1, 5, 40):
                day = TODAY - dt.timedelta(days=days_ago)
                counts.append(LookupCount(app_id, day, 3, hits=factor, misses=2 * factor))
        stats.add_lookup_counts(conns.app, counts)
    return {"mine": api.client_key, "other": other_key, "old": old.apikey}


def _day(days_ago: int, hits: int) -> dict[str, Any]:
    return {
        "date": (TODAY - dt.timedelta(days=days_ago)).isoformat(),
        "count_hits": hits,
        "count_nohits": 2 * hits,
        "count": 3 * hits,
    }


LOOKUP_STATS_CASES: list[tuple[str, list[tuple[str, str]], list[tuple[int, int]]]] = [
    # (case, params with client names, expected (days ago, hits) newest last)
    ("default 30 days without today", [("client", "mine")], [(5, 1), (1, 1)]),
    ("days=3", [("client", "mine"), ("days", "3")], [(1, 1)]),
    ("days=60", [("client", "mine"), ("days", "60")], [(40, 1), (5, 1), (1, 1)]),
    ("to today includes today", [("client", "mine"), ("to", "TODAY")], [(5, 1), (1, 1), (0, 1)]),
    ("summed over keys", [("client", "mine"), ("client", "other")], [(5, 11), (1, 11)]),
    ("unknown keys ignored", [("client", "nope"), ("client", "mine")], [(5, 1), (1, 1)]),
    ("inactive apps count", [("client", "old")], [(5, 100), (1, 100)]),
    ("from", [("client", "mine"), ("from", "DAYS_AGO_1"), ("to", "TODAY")], [(1, 1), (0, 1)]),
    ("from after to", [("client", "mine"), ("from", "TODAY"), ("to", "DAYS_AGO_1")], []),
]


def test_lookup_stats(api: ApiHarness, lookups: dict[str, str]) -> None:
    dates = {"TODAY": TODAY.isoformat(), "DAYS_AGO_1": (TODAY - dt.timedelta(1)).isoformat()}
    for case, params, expected in LOOKUP_STATS_CASES:
        sent = [(k, lookups.get(v, v) if k == "client" else dates.get(v, v)) for k, v in params]
        answer = ok(internal(api, "lookup_stats", sent))
        assert answer == {"stats": [_day(ago, hits) for ago, hits in expected]}, case


def test_lookup_stats_without_a_known_key(api: ApiHarness, lookups: dict[str, str]) -> None:
    for clients in ([], [""], ["nope"], ["nope", "\udcff"], ["x"] * 900):
        response = internal(api, "lookup_stats", [("client", c) for c in clients])
        assert error_of(response) == (400, 4, "invalid API key"), clients[:2]


def test_lookup_stats_xml(api: ApiHarness, lookups: dict[str, str]) -> None:
    response = internal(api, "lookup_stats", {"client": lookups["mine"], "format": "xml"})
    root = ET.fromstring(response.content)
    assert [s.findtext("count") for s in root.iterfind("stats/stat")] == ["3", "3"]
    assert root.findtext("stats/stat/date") == (TODAY - dt.timedelta(5)).isoformat()


# --- accounts and applications --------------------------------------------------------------


def test_create_account_and_application(api: ApiHarness) -> None:
    created = ok(internal(api, "create_account"))
    assert set(created) == {"id", "api_key"}
    with api.dbs.read() as conns:
        account = accounts.get(conns.app, created["id"])
    assert account is not None
    assert (account.name, account.apikey, account.anonymous) == (
        "External User",
        created["api_key"],
        False,
    )
    assert ok(post(api, "/v2/user/lookup", {"user": created["api_key"]}))["user"] == {
        "apikey": created["api_key"]
    }
    app = ok(
        internal(
            api,
            "create_application",
            {"account_id": str(created["id"]), "name": "Ünïcode app", "version": "0.1"},
        )
    )
    with api.dbs.read() as conns:
        stored = applications.get(conns.app, app["id"])
    assert stored is not None
    assert (stored.account_id, stored.name, stored.version, stored.apikey, stored.active) == (
        created["id"],
        "Ünïcode app",
        "0.1",
        app["api_key"],
        True,
    )
    # The new client key works at once.
    assert ok(post(api, "/v2/user/create_anonymous", {"client": app["api_key"]}))["user"]
    assert ok(internal(api, "check_application", {"api_key": app["api_key"]})) == {"id": app["id"]}


def test_create_application_for_an_unknown_account(api: ApiHarness) -> None:
    params = {**VALID["create_application"](api), "account_id": "424242"}
    assert error_of(internal(api, "create_application", params)) == (
        400,
        2,
        'missing required parameter "account_id"',
    )


def test_update_application_status_parses_active_strictly(api: ApiHarness) -> None:
    flags = [("0", False), ("false", False), (" No ", False), ("1", True), ("TRUE", True)]
    for flag, active in [*flags, ("yes", True)]:
        params = {**VALID["update_application_status"](api), "active": flag}
        answer = ok(internal(api, "update_application_status", params))
        assert answer == {"id": api.application_id, "active": active}, flag
        with api.dbs.read() as conns:
            stored = applications.get(conns.app, api.application_id)
        assert stored is not None
        assert stored.active is active, flag


def test_update_application_status_unknown_application_comes_before_the_secret(
    api: ApiHarness,
) -> None:
    other_account, other_app, _ = other_application(api)
    cases = [
        {"account_id": str(api.account_id), "application_id": "424242"},
        {"account_id": str(api.account_id), "application_id": str(other_app)},
        {"account_id": str(other_account), "application_id": str(api.application_id)},
        {"account_id": "424242", "application_id": str(api.application_id)},
    ]
    for ids in cases:
        for secret in (True, False):
            response = internal(
                api, "update_application_status", {**ids, "active": "0"}, secret=secret
            )
            assert error_of(response) == (400, 17, "unknown application"), (ids, secret)
    with api.dbs.read() as conns:
        untouched = [applications.get(conns.app, i) for i in (other_app, api.application_id)]
    assert [a.active if a else None for a in untouched] == [True, True]


def test_a_deactivated_application_is_refused_at_once(dbs: Databases, tmp_path: Path) -> None:
    """Without a key cache and with one (this process forgets its cached keys)."""
    for ttl in (0.0, 60.0):
        h = ApiHarness(dbs, tmp_path / f"index-{ttl}", key_cache_ttl=ttl)
        try:
            key = {"client": h.client_key}
            assert ok(post(h, "/v2/user/create_anonymous", key))  # the key is cached now
            params = VALID["update_application_status"](h)
            ok(internal(h, "update_application_status", {**params, "active": "0"}))
            assert error_of(post(h, "/v2/user/create_anonymous", key))[:2] == (400, 4)
            response = internal(h, "check_application", {"api_key": h.client_key})
            assert error_of(response)[:2] == (400, 4)
            ok(internal(h, "update_application_status", {**params, "active": "1"}))
            assert ok(post(h, "/v2/user/create_anonymous", key))
            assert ok(internal(h, "check_application", {"api_key": h.client_key})) == {
                "id": h.application_id
            }
        finally:
            h.close()


def test_check_application_unknown_key(api: ApiHarness) -> None:
    for key in ("nope", "\udcff", "k" * 100_000, api.user_key):
        response = internal(api, "check_application", {"api_key": key})
        assert error_of(response) == (400, 4, "invalid API key"), key[:10]
        # The key is looked up only after the secret is checked.
        response = internal(api, "check_application", {"api_key": key}, secret=False)
        assert error_of(response)[:2] == (400, 12)


XML_FIELDS: dict[str, str | None] = {
    "update_lookup_stats": None,
    "update_user_agent_stats": None,
    "lookup_stats": "stats",
    "create_account": "api_key",
    "create_application": "api_key",
    "update_application_status": "active",
    "check_application": "id",
}


def test_xml(api: ApiHarness) -> None:
    for name, path in XML_FIELDS.items():
        response = internal(api, name, {**VALID[name](api), "format": "xml"})
        assert response.headers["content-type"] == "text/xml; charset=UTF-8"
        root = ET.fromstring(response.content)
        assert root.findtext("status") == "ok", name
        if path is not None:
            assert root.find(path) is not None, name
        if name == "update_application_status":
            assert root.findtext("active") == "True"  # kept quirk: Python's str() of booleans
