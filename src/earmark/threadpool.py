"""Blocking calls from an event loop, in a fixed set of worker threads.

The web service runs every lookup's blocking part (database, index call, compare) in a
worker thread. Starlette's ``run_in_threadpool`` (anyio) costs about 120 µs of
CPU per call on this project's 2-core reference machine: a capacity limiter, a cancel scope,
a ``queue.Queue`` with its condition variables. :class:`ThreadPool` hands the call over
through a ``queue.SimpleQueue`` and returns the result with ``call_soon_threadsafe``, about
10 to 40 µs, which is several percent of a lookup.

Semantics, as the callers need them:

* At most ``size`` calls run at once; the others wait in order (first in, first out).
* The caller's context variables are visible in the thread (as with anyio).
* A caller cancelled before its call started: the call is skipped. A caller cancelled while
  its call runs stops waiting; the call finishes in its thread (a thread cannot be stopped)
  and its result is dropped. :meth:`ThreadPool.close` waits for running calls to finish, so
  the owner may close what they use (connection pools) after it.
* Threads start on first use, so building a pool costs nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_Work = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
    dict[str, Any],
]


class ThreadPool:
    """``size`` worker threads running blocking calls for coroutines (module docstring)."""

    def __init__(self, size: int, name: str = "earmark-worker") -> None:
        if size < 1:
            raise ValueError(f"a thread pool needs at least one thread, got {size}")
        self.size = size
        self.name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; its result, or its exception."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, contextvars.copy_context(), fn, args, kwargs))
        return await future

    def close(self, timeout: float | None = None) -> bool:
        """Stop the threads once the calls queued before are done; False if some thread was
        still busy after ``timeout`` seconds. A later :meth:`run` starts new threads."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(None)
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            for number in range(self.size):
                thread = threading.Thread(
                    target=_work, args=(self._queue,), name=f"{self.name}-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)


def _work(work_queue: queue.SimpleQueue[_Work | None]) -> None:
    while (item := work_queue.get()) is not None:
        _run_one(*item)
        del item  # no reference to the call's arguments kept while waiting for the next


def _run_one(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    if future.cancelled():  # its caller gave up before it started
        return
    try:
        result = context.run(fn, *args, **kwargs)
    except BaseException as exc:  # the caller's to handle, whatever it is
        _deliver(loop, _set_exception, future, exc)
    else:
        _deliver(loop, _set_result, future, result)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    setter: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    try:
        loop.call_soon_threadsafe(setter, future, value)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug("a worker thread finished after its event loop closed")


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # a cancelled caller leaves a cancelled future
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
