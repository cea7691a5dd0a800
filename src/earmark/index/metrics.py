"""Prometheus metrics of the index server, with the reference's metric names (spec §5).

Owned by one app instance (no global registry). Counters are plain ints updated from the
event loop and the worker threads; a lost increment under a race would only skew a
counter, so they are guarded by one small lock rather than per-series locks.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from earmark.index.cluster.state import IndexReplication, State
from earmark.index.engine import MultiIndex

SEARCH_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.total += value
        self.count += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class IndexMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.searches: defaultdict[str, int] = defaultdict(int)
        self.hits: defaultdict[str, int] = defaultdict(int)
        self.misses: defaultdict[str, int] = defaultdict(int)
        self.updates: defaultdict[str, int] = defaultdict(int)
        self.durations: dict[str, _Histogram] = {}

    def search_done(self, index: str, seconds: float, hit: bool) -> None:
        with self._lock:
            self.searches[index] += 1
            if hit:
                self.hits[index] += 1
            else:
                self.misses[index] += 1
            hist = self.durations.get(index)
            if hist is None:
                hist = self.durations[index] = _Histogram(SEARCH_BUCKETS)
            hist.observe(seconds)

    def update_done(self, index: str) -> None:
        with self._lock:
            self.updates[index] += 1

    def forget(self, index: str) -> None:
        """Drop an index's series when it is deleted (the duration histogram stays, §5)."""
        with self._lock:
            for series in (self.searches, self.hits, self.misses, self.updates):
                series.pop(index, None)

    def render(self, engine: MultiIndex) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            for name, series, help_text in (
                ("fpindex_searches_total", self.searches, "Searches"),
                ("fpindex_search_hits_total", self.hits, "Searches with at least one result"),
                ("fpindex_search_misses_total", self.misses, "Searches without results"),
                ("fpindex_updates_total", self.updates, "Committed updates"),
            ):
                family(name, "counter", help_text)
                for index, value in sorted(series.items()):
                    lines.append(f'{name}{{index="{_label(index)}"}} {value}')
            family("fpindex_search_duration_seconds", "histogram", "Search duration")
            for index, hist in sorted(self.durations.items()):
                lab = f'index="{_label(index)}"'
                cumulative = 0
                for bound, n in zip(hist.buckets, hist.counts, strict=True):
                    cumulative += n
                    lines.append(
                        f'fpindex_search_duration_seconds_bucket{{{lab},le="{bound}"}} {cumulative}'
                    )
                lines.append(
                    f'fpindex_search_duration_seconds_bucket{{{lab},le="+Inf"}} {hist.count}'
                )
                lines.append(f"fpindex_search_duration_seconds_sum{{{lab}}} {hist.total}")
                lines.append(f"fpindex_search_duration_seconds_count{{{lab}}} {hist.count}")
        counters = engine.counters
        for name, value, help_text in (
            ("fpindex_checkpoints_total", counters.checkpoints, "Memory to file checkpoints"),
            ("fpindex_memory_merges_total", counters.memory_merges, "Memory segment merges"),
            ("fpindex_file_merges_total", counters.file_merges, "File segment merges"),
        ):
            family(name, "counter", help_text)
            lines.append(f"{name} {value}")
        docs: list[str] = []
        versions: list[str] = []
        for index_name in engine.names():
            try:
                info = engine.get(index_name).info()
            except Exception:  # deleted while scraping
                continue
            lab = f'index="{_label(index_name)}"'
            docs.append(f"fpindex_docs{{{lab}}} {info.stats.num_docs}")
            versions.append(f"fpindex_version{{{lab}}} {info.version}")
        family("fpindex_docs", "gauge", "Document entries over all segments")
        lines.extend(docs)
        family("fpindex_version", "gauge", "Index version")
        lines.extend(versions)
        return "\n".join(lines) + "\n"


def render_replication(rows: list[IndexReplication], counters: Mapping[str, int]) -> str:
    """Replication gauges of a cluster node (docs/index-cluster.md): per index, the applied
    version, the stream's last sequence, the lag between them, entries pending and the state."""
    lines: list[str] = []
    families = (
        ("earmark_index_replication_version", "Stream sequence applied (the index version)"),
        ("earmark_index_replication_stream_version", "Last stream sequence of the index"),
        ("earmark_index_replication_lag", "Stream sequence minus applied version"),
        ("earmark_index_replication_pending", "Entries the consumer has not delivered yet"),
        ("earmark_index_replication_state", "1 for the index's current state"),
    )
    values: dict[str, list[str]] = {name: [] for name, _ in families}
    for r in rows:
        lab = f'index="{_label(r.name)}"'
        values["earmark_index_replication_version"].append(f"{{{lab}}} {r.version}")
        if r.stream_version is not None:
            values["earmark_index_replication_stream_version"].append(
                f"{{{lab}}} {r.stream_version}"
            )
            values["earmark_index_replication_lag"].append(f"{{{lab}}} {r.lag}")
        values["earmark_index_replication_pending"].append(f"{{{lab}}} {r.pending}")
        for state in State:
            flag = int(state is r.state)
            values["earmark_index_replication_state"].append(
                f'{{{lab},state="{state.value}"}} {flag}'
            )
    for name, help_text in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{v}" for v in values[name])
    for key, help_text in (
        ("published", "Writes stored in JetStream through this node"),
        ("refused", "Writes refused because JetStream could not be reached"),
        ("applied_batches", "Batches of stream entries committed by the followers"),
    ):
        name = f"earmark_index_replication_{key}_total"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines.append(f"{name} {counters.get(key, 0)}")
    return "\n".join(lines) + "\n"
