"""The sliding window's arithmetic (reference §6) on the in-memory window, clock injected."""

from __future__ import annotations

import asyncio

import pytest

from earmark.ratelimit.window import (
    Charge,
    MemoryWindow,
    Verdict,
    budget,
    retry_after,
    slot_of,
)
from tests.ratelimit.clock import Clock

# A slot boundary: 1_000_000 is a multiple of 5.
START = 1_000_000.0


def hits(window: MemoryWindow, n: int, rate: float, key: str = "k") -> list[Verdict]:
    async def run() -> list[Verdict]:
        return [await window.hit("app", key, rate) for _ in range(n)]

    return asyncio.run(run())


def allowed(verdicts: list[Verdict]) -> int:
    return sum(v.allowed for v in verdicts)


def test_slots_are_five_seconds() -> None:
    assert slot_of(START) == 200_000
    assert slot_of(START + 4.999) == 200_000
    assert slot_of(START + 5) == 200_001
    assert slot_of(START - 0.001) == 199_999


def test_budget_is_rate_times_twenty_and_at_least_one() -> None:
    assert budget(10) == 200
    assert budget(0.333) == pytest.approx(6.66)
    assert budget(0.01) == 1  # below one hit per window: still one, never a permanent block


def test_rate_times_twenty_hits_allowed_then_rejected() -> None:
    window = MemoryWindow(Clock(START))
    verdicts = hits(window, 25, rate=1.0)
    assert [v.allowed for v in verdicts] == [True] * 20 + [False] * 5
    rejected = verdicts[-1]
    assert rejected.rejected == 0
    assert rejected.checked


def test_fractional_budget_rounds_down() -> None:
    # 0.333/s over 20 s is 6.66 hits: the 7th passes it.
    assert allowed(hits(MemoryWindow(Clock(START)), 10, rate=0.333)) == 6


def test_buckets_and_keys_are_independent() -> None:
    window = MemoryWindow(Clock(START))
    assert allowed(hits(window, 30, rate=1.0, key="a")) == 20
    assert allowed(hits(window, 30, rate=1.0, key="b")) == 20

    async def other_bucket() -> Verdict:
        return await window.hit("ip", "a", 1.0)

    assert asyncio.run(other_bucket()).allowed


def test_rejected_hits_consume_nothing() -> None:
    clock = Clock(START)
    window = MemoryWindow(clock)
    assert allowed(hits(window, 20, rate=1.0)) == 20
    assert allowed(hits(window, 1000, rate=1.0)) == 0
    # After 20 s the 20 counted hits have left; 1000 rejections did not stay behind.
    clock.advance(20)
    assert allowed(hits(window, 25, rate=1.0)) == 20


def test_window_slides_over_15_to_20_seconds() -> None:
    clock = Clock(START + 2.5)  # in the middle of a slot
    window = MemoryWindow(clock)
    assert allowed(hits(window, 20, rate=1.0)) == 20
    # 15 s later (three slots on) the hits still count...
    clock.advance(15)
    assert allowed(hits(window, 1, rate=1.0)) == 0
    # ... and at the next boundary (17.5 s after them) their slot leaves the window.
    clock.advance(2.5)
    assert allowed(hits(window, 21, rate=1.0)) == 20


def test_old_slots_leave_one_by_one() -> None:
    clock = Clock(START)
    window = MemoryWindow(clock)
    for _ in range(4):  # 5 hits in each of four consecutive slots
        assert allowed(hits(window, 5, rate=1.0)) == 5
        clock.advance(5)
    # Now in the fifth slot: only the last three slots (15 hits) count, 5 more fit.
    assert allowed(hits(window, 10, rate=1.0)) == 5


def test_retry_after_is_the_next_boundary_that_frees_enough() -> None:
    clock = Clock(START + 1)
    window = MemoryWindow(clock)
    assert allowed(hits(window, 20, rate=1.0)) == 20
    verdict = hits(window, 1, rate=1.0)[0]
    # All 20 hits are in the current slot: it leaves the window four boundaries on.
    assert verdict.retry_after == pytest.approx(19.0)
    clock.advance(verdict.retry_after - 0.001)
    assert not hits(window, 1, rate=1.0)[0].allowed
    clock.advance(0.001)
    assert hits(window, 1, rate=1.0)[0].allowed


def test_retry_after_with_hits_spread_over_slots() -> None:
    clock = Clock(START)
    window = MemoryWindow(clock)
    assert allowed(hits(window, 10, rate=1.0)) == 10
    clock.advance(7)  # two slots on: slot counts [0, 10, 0, 0] -> [10, 0, x]
    assert allowed(hits(window, 10, rate=1.0)) == 10
    verdict = hits(window, 1, rate=1.0)[0]
    # The first 10 hits leave at START + 20, 13 s from now; that frees room.
    assert verdict.retry_after == pytest.approx(13.0)


def test_retry_after_function() -> None:
    assert retry_after(START + 1, [0, 0, 0, 20], 1.0) == pytest.approx(19.0)
    assert retry_after(START + 1, [5, 5, 5, 5], 1.0) == pytest.approx(4.0)
    assert retry_after(START + 1, [1, 0, 0, 19], 1.0) == pytest.approx(4.0)
    assert retry_after(START + 1, [0, 19, 0, 1], 1.0) == pytest.approx(9.0)


def test_charge_is_all_or_nothing() -> None:
    window = MemoryWindow(Clock(START))
    charges = [Charge("app", "1", 10.0), Charge("global", "", 100.0), Charge("ip", "x", 1.0)]

    async def run() -> list[Verdict]:
        return [await window.charge(charges) for _ in range(30)]

    verdicts = asyncio.run(run())
    assert allowed(verdicts) == 20
    assert {v.rejected for v in verdicts if not v.allowed} == {2}
    # The ten rejected requests were not counted in the app and global buckets either.

    async def count(bucket: str, key: str, rate: float) -> int:
        n = 0
        while (await window.hit(bucket, key, rate)).allowed:
            n += 1
        return n

    assert asyncio.run(count("app", "1", 10.0)) == 200 - 20
    assert asyncio.run(count("global", "", 100.0)) == 2000 - 20


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock(START)
    window = MemoryWindow(clock)
    for key in range(50):
        hits(window, 1, rate=1.0, key=str(key))
    assert len(window) == 50
    clock.advance(15)
    hits(window, 1, rate=1.0, key="new")
    assert len(window) == 51  # still inside the window
    clock.advance(5)
    hits(window, 1, rate=1.0, key="newer")
    assert len(window) == 2
