"""The Redis window against the real Redis: the same arithmetic, atomicity, outages."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis
import redis.asyncio

from earmark.ratelimit import RateLimits, Rates, RedisWindow
from earmark.ratelimit.window import Charge, Verdict
from tests.ratelimit.clock import Clock
from tests.services import REDIS_URL, RUN_ID, require_redis

T = TypeVar("T")
START = 1_000_000.0


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    require_redis()
    name = f"earmark-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = set(client.scan_iter(match=name + "*"))  # SCAN may return a key twice
    if keys:
        client.delete(*keys)
    client.close()


def run(prefix: str, body: Callable[[RedisWindow], Awaitable[T]], clock: Clock | None) -> T:
    """Run ``body`` with a window on a fresh client (one event loop per test step)."""

    async def main() -> T:
        window = RedisWindow(redis.asyncio.Redis.from_url(REDIS_URL), prefix, clock=clock)
        try:
            return await body(window)
        finally:
            await window.close()

    return asyncio.run(main())


def hits(prefix: str, n: int, rate: float, clock: Clock | None, key: str = "k") -> list[Verdict]:
    async def body(window: RedisWindow) -> list[Verdict]:
        return [await window.hit("app", key, rate) for _ in range(n)]

    return run(prefix, body, clock)


def allowed(verdicts: list[Verdict]) -> int:
    return sum(v.allowed for v in verdicts)


def test_budget_retry_after_and_rejections_consume_nothing(prefix: str) -> None:
    clock = Clock(START + 1)
    verdicts = hits(prefix, 40, 1.0, clock)
    assert allowed(verdicts) == 20
    assert verdicts[20] == Verdict(False, 19.0, 0)
    clock.advance(18.999)
    assert allowed(hits(prefix, 1, 1.0, clock)) == 0
    clock.advance(0.001)
    # The 20 rejected calls left nothing behind: a whole budget again.
    assert allowed(hits(prefix, 25, 1.0, clock)) == 20


def test_keys_layout_and_expiry(prefix: str) -> None:
    clock = Clock(START)
    hits(prefix, 3, 1.0, clock, key="42")
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{prefix}rl:app:42:{200_000}"
    assert client.get(key) == b"3"
    assert 20 < client.ttl(key) <= 25
    assert set(client.scan_iter(match=prefix + "*")) == {key.encode()}  # SCAN may repeat keys
    client.close()


def test_window_slides_slot_by_slot(prefix: str) -> None:
    clock = Clock(START)
    for _ in range(4):
        assert allowed(hits(prefix, 5, 1.0, clock)) == 5
        clock.advance(5)
    assert allowed(hits(prefix, 10, 1.0, clock)) == 5
    verdict = hits(prefix, 1, 1.0, clock)[0]
    assert verdict.retry_after == pytest.approx(5.0)


def test_charge_is_all_or_nothing(prefix: str) -> None:
    clock = Clock(START)
    charges = [Charge("app", "1", 10.0), Charge("global", "", 100.0), Charge("ip", "x", 1.0)]

    async def body(window: RedisWindow) -> tuple[list[Verdict], int]:
        verdicts = [await window.charge(charges) for _ in range(30)]
        n = 0
        while (await window.hit("global", "", 100.0)).allowed:
            n += 1
        return verdicts, n

    verdicts, global_left = run(prefix, body, clock)
    assert allowed(verdicts) == 20
    assert {v.rejected for v in verdicts if not v.allowed} == {2}
    assert global_left == 2000 - 20


def test_server_time_by_default(prefix: str) -> None:
    verdicts = hits(prefix, 3, 0.1, None)  # budget 2
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert 0 < verdicts[2].retry_after <= 20


def test_concurrent_clients_never_exceed_the_budget(prefix: str) -> None:
    """Many API processes (separate connections) hitting at once: exactly the budget passes."""
    clock = Clock(START + 2)
    charges = [Charge("app", "1", 2.5), Charge("global", "", 1000.0)]  # budget 50

    async def main() -> list[Verdict]:
        windows = [
            RedisWindow(redis.asyncio.Redis.from_url(REDIS_URL), prefix, clock=clock)
            for _ in range(8)
        ]
        try:
            return await asyncio.gather(*(windows[i % 8].charge(charges) for i in range(400)))
        finally:
            for window in windows:
                await window.close()

    verdicts = asyncio.run(main())
    assert allowed(verdicts) == 50
    client = redis.Redis.from_url(REDIS_URL)
    assert client.get(f"{prefix}rl:app:1:{200_000}") == b"50"
    assert client.get(f"{prefix}rl:global::{200_000}") == b"50"
    client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_redis_down_allows_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    unchecked: list[int] = []

    async def main() -> list[object]:
        client = redis.asyncio.Redis.from_url(
            f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5
        )
        limits = RateLimits(
            RedisWindow(client, "x:"),
            Rates(application=0.01, global_=0.01, ip=0.01),
            on_unavailable=lambda: unchecked.append(1),
        )
        try:
            return [
                await limits.check(application_id=1, account_id=None, ip="192.0.2.1")
                for _ in range(5)
            ]
        finally:
            await limits.close()

    with caplog.at_level(logging.WARNING, logger="earmark.ratelimit.redis_window"):
        results = asyncio.run(main())
    assert results == [None] * 5
    assert len(unchecked) == 5
    # Logged once, not once per request.
    warnings = [r for r in caplog.records if "rate limits unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "ConnectionError" in warnings[0].getMessage()


class DyingServer:
    """A TCP server that accepts connections and closes them at once (a Redis going away);
    it counts the connection attempts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.accepted = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_redis_down_skips_redis_for_the_retry_interval() -> None:
    server = DyingServer()

    async def main() -> list[tuple[Verdict, int]]:
        window = RedisWindow(
            redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{server.port}/0"),
            "x:",
            retry_interval=0.3,
        )
        try:
            seen = [(await window.hit("app", "1", 1.0), server.accepted)]
            seen.append((await window.hit("app", "1", 1.0), server.accepted))
            await asyncio.sleep(0.35)
            seen.append((await window.hit("app", "1", 1.0), server.accepted))
            return seen
        finally:
            await window.close()

    try:
        seen = asyncio.run(main())
    finally:
        server.close()
    assert all(v.allowed and not v.checked for v, _ in seen)
    first, second, third = (n for _, n in seen)
    assert first >= 1
    assert second == first  # within the interval Redis is not asked at all
    assert third > second
