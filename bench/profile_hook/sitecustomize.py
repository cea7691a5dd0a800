"""cProfile, in each thread's CPU time, of every thread of every Python process started with
this folder on PYTHONPATH (``bench/api.py --profile DIR``); each process writes
``DIR/<pid>.prof`` when it exits. cProfile's own cost per call is large next to small
functions: read its figures as a ranking, not as times.

Only the benchmark harness puts this folder on the path: the service itself knows nothing of it.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import threading
import time
from types import FrameType
from typing import Any

_DIR = os.environ.get("EARMARK_BENCH_PROFILE_DIR")
_PROFILES: list[cProfile.Profile] = []


def _start_in_thread(frame: FrameType, event: str, arg: Any) -> None:
    # The first profile event of a new thread: a profiler of its own takes over from here.
    del frame, event, arg
    profile = cProfile.Profile(time.thread_time)
    _PROFILES.append(profile)
    profile.enable()


def _dump() -> None:
    import pstats

    for profile in _PROFILES:
        profile.disable()  # only the calling thread's: the others' figures are read as they are
    stats = None
    for profile in _PROFILES:
        profile.create_stats()
        if stats is None:
            stats = pstats.Stats(profile)
        else:
            stats.add(profile)
    if stats is not None:
        stats.dump_stats(os.path.join(str(_DIR), f"{os.getpid()}.prof"))


if _DIR:
    _main = cProfile.Profile(time.thread_time)
    _PROFILES.append(_main)
    _main.enable()
    threading.setprofile(_start_in_thread)
    atexit.register(_dump)
