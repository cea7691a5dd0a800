"""CPU time by process for the HTTP benchmarks, read from Linux /proc: the service's process
tree, the PostgreSQL backends of one database, and this process (the load generator)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import sqlalchemy as sa

_TICK = os.sysconf("SC_CLK_TCK")


def own_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree(pid: int) -> list[int]:
    """A process and its live descendants (the workers of ``--workers``)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in tree(int(child)))]


def backends(url: str) -> list[int]:
    """The pids of the PostgreSQL backends connected to the database of ``url``."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return [int(pid) for (pid,) in rows]
    finally:
        engine.dispose()


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Readings:
    """CPU seconds per named group of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.before: dict[int, float] = {}
        self.load_before = 0.0

    def start(self) -> None:
        self.before = {pid: own_cpu(pid) for pids in self.groups.values() for pid in pids}
        self.load_before = self_cpu()

    def stop(self, groups: dict[str, list[int]]) -> dict[str, float]:
        """CPU seconds by group; ``groups`` is read again at the end (backends that appeared
        during the run count from zero)."""
        spent = {
            name: sum(own_cpu(pid) - self.before.get(pid, 0.0) for pid in pids)
            for name, pids in groups.items()
        }
        spent["load generator"] = self_cpu() - self.load_before
        return spent
