"""Which buckets a request is charged to (reference §6, beets #6510) and the overrides syntax."""

from __future__ import annotations

import asyncio

import pytest

from earmark.errors import ConfigError
from earmark.ratelimit import (
    Charge,
    MemoryWindow,
    RateLimits,
    Rates,
    Rejection,
    open_rate_limits,
    parse_overrides,
    rates_from_settings,
)
from earmark.ratelimit.policy import canonical_ip
from earmark.ratelimit.redis_window import RedisWindow
from earmark.settings import Secret, Settings
from tests.ratelimit.clock import Clock

START = 1_000_000.0


def limits(rates: Rates, clock: Clock | None = None) -> RateLimits:
    return RateLimits(MemoryWindow(clock or Clock(START)), rates)


def check(
    rl: RateLimits, *, app: int | None = 1, user: int | None = None, ip: str = "192.0.2.1"
) -> Rejection | None:
    return asyncio.run(rl.check(application_id=app, account_id=user, ip=ip))


def buckets(rl: RateLimits, **kw: object) -> list[tuple[str, str, float]]:
    return [(c.bucket, c.key, c.rate) for c in rl.charges(**kw)]  # type: ignore[arg-type]


def test_order_is_app_global_ip() -> None:
    rl = limits(Rates(application=10, global_=100, ip=4))
    assert buckets(rl, application_id=7, account_id=None, ip="192.0.2.1") == [
        ("app", "7", 10),
        ("global", "", 100),
        ("ip", "192.0.2.1", 4),
    ]


def test_no_client_key_skips_only_the_app_bucket() -> None:
    rl = limits(Rates())
    assert [b for b, _, _ in buckets(rl, application_id=None, account_id=None, ip="x")] == [
        "global",
        "ip",
    ]


def test_explicit_application_rate_skips_the_ip_bucket() -> None:
    rl = limits(Rates(applications={7: 50.0}, ips={"192.0.2.1": 1.0}))
    assert buckets(rl, application_id=7, account_id=None, ip="192.0.2.1") == [
        ("app", "7", 50.0),
        ("global", "", 100.0),
    ]
    # Another application from the same address gets the IP's own rate.
    assert buckets(rl, application_id=8, account_id=None, ip="192.0.2.1")[-1] == (
        "ip",
        "192.0.2.1",
        1.0,
    )


def test_user_bucket_replaces_the_app_bucket_when_enabled() -> None:
    rl = limits(Rates(user=2.0))
    assert buckets(rl, application_id=7, account_id=3, ip="192.0.2.1") == [
        ("user", "3", 2.0),
        ("global", "", 100.0),
        ("ip", "192.0.2.1", 4.0),
    ]
    # Without a user key, the application bucket as usual.
    assert buckets(rl, application_id=7, account_id=None, ip="192.0.2.1")[0] == ("app", "7", 10)
    # Turned off (the default): the user key changes nothing.
    off = limits(Rates())
    assert buckets(off, application_id=7, account_id=3, ip="192.0.2.1")[0] == ("app", "7", 10)


def test_zero_means_unlimited() -> None:
    rl = limits(Rates(application=0, global_=0, ip=0, ips={"192.0.2.9": 0.0}))
    assert rl.charges(application_id=1, account_id=None, ip="192.0.2.1") == []
    assert all(check(rl) is None for _ in range(500))
    only_ip_free = limits(Rates(ips={"192.0.2.9": 0.0}))
    assert [
        c.bucket for c in only_ip_free.charges(application_id=1, account_id=None, ip="192.0.2.9")
    ] == [
        "app",
        "global",
    ]


def test_ip_addresses_are_compared_canonically() -> None:
    _apps, ips = parse_overrides("ip.2001:DB8:0::1=9")
    rl = limits(Rates(ips=ips))
    assert rl.charges(application_id=None, account_id=None, ip="2001:db8::1") == [
        Charge("global", "", 100.0),
        Charge("ip", "2001:db8::/64", 9.0),
    ]


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_share_a_bucket_per_64(address: str, bucket: str) -> None:
    # One subscriber gets a whole /64; rotating addresses inside it must not escape the limit.
    assert canonical_ip(address) == bucket


def test_first_full_bucket_rejects_with_its_rate() -> None:
    rl = limits(Rates(application=1.0, global_=100, ip=4))
    results = [check(rl) for _ in range(21)]
    assert results[:20] == [None] * 20
    assert results[20] == Rejection("app", 1.0, 20)  # the full slot leaves in 20 s
    # The IP's budget (80) was charged only for the 20 admitted requests.
    other_app = [check(rl, app=None) for _ in range(61)]
    assert other_app[:60] == [None] * 60
    assert other_app[60] is not None
    assert other_app[60].bucket == "ip"


def test_rejection_by_ip_refunds_the_global_bucket() -> None:
    # One address far over its limit must not eat everybody's global budget.
    rl = limits(Rates(application=0, global_=2.0, ip=1.0))
    for _ in range(100):
        check(rl, ip="192.0.2.66")
    served = [check(rl, ip=f"198.51.100.{i}") for i in range(20)]
    assert served == [None] * 20  # 40 global minus the 20 the hammering address got


def test_user_buckets_do_not_starve_each_other() -> None:
    rl = limits(Rates(application=1.0, user=1.0, ip=0))
    assert all(check(rl, user=1) is None for _ in range(20))
    assert check(rl, user=1) == Rejection("user", 1.0, 20)
    assert check(rl, user=2) is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    clock = Clock(START + 4.9)
    rl = limits(Rates(application=1.0, ip=0), clock)
    for _ in range(4):  # five hits in each of four slots, the last at START + 19.9
        for _ in range(5):
            assert check(rl) is None
        clock.advance(5)
    clock.now = START + 19.95
    rejection = check(rl)
    assert rejection == Rejection("app", 1.0, 1)  # 0.05 s to the boundary: Retry-After 1


@pytest.mark.parametrize(
    ("text", "apps", "ips"),
    [
        ("", {}, {}),
        ("application.7=50", {7: 50.0}, {}),
        ("application.7=50 ip.10.0.0.1=0.5", {7: 50.0}, {"10.0.0.1": 0.5}),
        ("application.7=0,ip.::1=.5 , application.12=3.", {7: 0.0, 12: 3.0}, {"::/64": 0.5}),
        ("ip.2001:DB8::0001=2", {}, {"2001:db8::/64": 2.0}),
    ],
)
def test_parse_overrides(text: str, apps: dict[int, float], ips: dict[str, float]) -> None:
    assert parse_overrides(text) == (apps, ips)


@pytest.mark.parametrize(
    "text",
    [
        "application.7",
        "application.7=",
        "=5",
        "application=5",
        "application.=5",
        "application.x=5",
        "application.-1=5",
        "application.\u0661=5",  # an Arabic-Indic digit: isdigit() says yes, we say no
        "application.7=-1",
        "application.7=nan",
        "application.7=inf",
        "application.7=1e400",
        "application.7=1_0",
        "application.7=5=6",
        "application.7=0x10",
        "ip.example.org=5",
        "ip.1.2.3=5",
        "ip.=5",
        "global=5",
        "user.3=5",
        "application.7=5 application.07=6",
        "ip.::1=1 ip.0::1=2",
        "application.99999999999999999999=1",
    ],
)
def test_parse_overrides_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit_overrides"):
        parse_overrides(text)


def test_rates_from_settings() -> None:
    settings = Settings(
        rate_limit_application=3,
        rate_limit_global=30,
        rate_limit_ip=1,
        rate_limit_user=2,
        rate_limit_overrides="application.5=9 ip.127.0.0.1=0",
    )
    assert rates_from_settings(settings) == Rates(
        application=3, global_=30, ip=1, user=2, applications={5: 9.0}, ips={"127.0.0.1": 0.0}
    )


def test_open_rate_limits_chooses_the_window() -> None:
    memory = open_rate_limits(Settings())
    assert isinstance(memory.window, MemoryWindow)
    asyncio.run(memory.close())
    shared = open_rate_limits(
        Settings(redis_url=Secret("redis://127.0.0.1:1/0"), redis_prefix="p:")
    )
    assert isinstance(shared.window, RedisWindow)
    assert shared.window.key("app", "1") == "p:rl:app:1:"
    asyncio.run(shared.close())
