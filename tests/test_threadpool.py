"""ThreadPool: blocking calls from coroutines in a fixed set of threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from earmark.threadpool import ThreadPool

REQUEST = contextvars.ContextVar("REQUEST", default="none")


@pytest.fixture
def pool() -> ThreadPool:
    return ThreadPool(2, "test-pool")


def test_runs_the_call_in_a_worker_thread_and_returns_its_result(pool: ThreadPool) -> None:
    async def main() -> tuple[int, str]:
        return await pool.run(lambda a, b=0: a + b, 40, b=2), await pool.run(
            lambda: threading.current_thread().name
        )

    result, name = asyncio.run(main())
    assert result == 42
    assert name.startswith("test-pool-")
    assert pool.close(5)


class Custom(BaseException):
    pass


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyError("k"), Custom("base")])
def test_the_call_s_exception_reaches_the_caller(pool: ThreadPool, exc: BaseException) -> None:
    def fail() -> None:
        raise exc

    async def main() -> None:
        await pool.run(fail)

    with pytest.raises(type(exc)) as raised:
        asyncio.run(main())
    assert raised.value is exc
    # The thread survived its call's exception.
    assert asyncio.run(_call(pool, lambda: "still here")) == "still here"
    pool.close(5)


async def _call(pool: ThreadPool, fn: object) -> object:
    return await pool.run(fn)  # type: ignore[arg-type]


def test_the_caller_s_context_variables_are_seen_in_the_thread(pool: ThreadPool) -> None:
    async def main() -> list[str]:
        async def one(name: str) -> str:
            REQUEST.set(name)
            return await pool.run(REQUEST.get)

        return list(await asyncio.gather(*(one(f"r{i}") for i in range(6))))

    assert asyncio.run(main()) == [f"r{i}" for i in range(6)]
    pool.close(5)


def test_at_most_size_calls_run_at_once_and_the_rest_wait_in_order(pool: ThreadPool) -> None:
    running = 0
    most = 0
    started: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n

    async def main() -> list[int]:
        return list(await asyncio.gather(*(pool.run(work, n) for n in range(8))))

    assert asyncio.run(main()) == list(range(8))
    assert most == 2
    # First in, first out: with two threads a call never starts before one queued two earlier.
    assert all(started.index(n) >= n - 1 for n in range(8))
    pool.close(5)


def test_a_call_cancelled_before_it_started_is_skipped() -> None:
    pool = ThreadPool(1)
    release = threading.Event()
    ran: list[str] = []

    def block() -> None:
        release.wait(5)
        ran.append("block")

    async def main() -> None:
        first = asyncio.ensure_future(pool.run(block))
        second = asyncio.ensure_future(pool.run(ran.append, "second"))
        await asyncio.sleep(0.05)
        second.cancel()
        await asyncio.sleep(0.01)
        release.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await second

    asyncio.run(main())
    assert pool.close(5)
    assert ran == ["block"]


def test_a_call_cancelled_while_running_finishes_and_close_waits_for_it() -> None:
    pool = ThreadPool(1)
    started = threading.Event()
    finished: list[bool] = []

    def slow() -> str:
        started.set()
        time.sleep(0.2)
        finished.append(True)
        return "late"

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slow))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task  # the caller stops waiting at once

    asyncio.run(main())  # the loop closes while the call still runs: its result is dropped
    assert pool.close(5)
    assert finished == [True]


def test_close_reports_threads_still_busy_after_its_timeout() -> None:
    pool = ThreadPool(1)
    release = threading.Event()

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(release.wait, 5))
        await asyncio.sleep(0.05)
        assert pool.close(0.05) is False
        release.set()
        assert await task is True

    asyncio.run(main())


def test_a_closed_pool_starts_new_threads_when_used_again(pool: ThreadPool) -> None:
    assert asyncio.run(_call(pool, lambda: 1)) == 1
    assert pool.close(5)
    assert asyncio.run(_call(pool, lambda: 2)) == 2
    assert pool.close(5)


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ThreadPool(0)


def test_no_thread_starts_before_the_first_call() -> None:
    before = threading.active_count()
    pool = ThreadPool(4)
    assert threading.active_count() == before
    assert pool.close(1)
