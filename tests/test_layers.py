"""The layer contract (docs/architecture.md): imports flow down the layer table, never in a circle.

Every ``import`` and ``from … import`` of ``src/earmark`` counts, at module level or inside a
function, and so do ``if TYPE_CHECKING:`` imports: an annotation that names an upper layer ties
the two layers together just as well (none exist today). A module belongs to the layer of the
longest prefix in ``LAYERS``; an import may go to its own layer or any layer below. ``make lint``
runs this file, so a new arrow that runs back up fails before the suite does.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

#: Top to bottom; a module may import from its own layer and every layer below it.
LAYERS: dict[str, tuple[str, ...]] = {
    "entry points": (
        "earmark.cli",
        "earmark.app",
        "earmark.app_web",
        "earmark.app_catalog",
        "earmark.embedded",
    ),
    "adapters": (
        "earmark.api",
        "earmark.web",
        "earmark.catalog",  # the music-metadata API
        "earmark.cron",
        "earmark.library",
        "earmark.importer",  # the worker loop and the queue backends
        "earmark.index.server",
        "earmark.index.coordinator",  # the reference's coordinator protocol over JetStream
        "earmark.index.replica",  # a replica of that protocol (--coordinator-url)
        "earmark.index.api",
        "earmark.index.codec",
        "earmark.index.legacy",
        "earmark.index.metrics",
        "earmark.server",
        "earmark.http_protocol",
        "earmark.requestid",  # the X-Request-Id middleware
        "earmark.tracing_asgi",  # the request span (OpenTelemetry)
    ),
    "services": (
        "earmark.search",
        "earmark.indexsync",
        "earmark.backup",  # backups: databases and index copied together
        "earmark.opendata",  # AcoustID's public data: reading, applying, exporting
        "earmark.clipsync",
        "earmark.importer.decide",
        "earmark.importer.group",  # the deferred writes of an import group
        "earmark.importer.locks",
        "earmark.importer.outcome",
        "earmark.musicbrainz",
        "earmark.ratelimit",
        "earmark.counters",
        "earmark.auth",
        "earmark.passwords",
        "earmark.index.client",
        "earmark.index.cluster",  # replication through NATS JetStream
        "earmark.index.shards",  # the index client over shards of replicas
        "earmark.index.keepalive",
        "earmark.index.wire",
    ),
    "data": ("earmark.db",),
    "core": (
        "earmark",  # the package itself: __version__
        "earmark.chromaprint",
        "earmark.index.engine",
        "earmark.clipindex",
        "earmark.settings",
        "earmark.errors",
        "earmark.process",
        "earmark.startup",  # start-up waits for PostgreSQL, Redis, NATS
        "earmark.logs",  # text/JSON log lines with the request id
        "earmark.tracing",  # OpenTelemetry set-up and child spans, imported lazily
        "earmark.threadpool",
        "earmark.ttlcache",
        "earmark.demokey",
    ),
}

#: Package pairs that must not meet even where the layers would allow it: the library is a
#: client of the web service (by URL or by a runtime it is handed), not a part of it.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "earmark.library": ("earmark.api", "earmark.app"),
}

RANK = {name: rank for rank, name in enumerate(reversed(LAYERS))}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "earmark").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str:
    """The module (file) that defines ``name``: ``earmark.db.engine.Database`` → its module."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from earmark.db import engine` imports the module earmark.db.engine.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "earmark" or target.startswith("earmark."):
                yield _owner(target), node.lineno


EDGES: dict[str, dict[str, int]] = defaultdict(dict)
for _module, _path in MODULES.items():
    for _target, _line in _imports(_module, _path):
        if _target != _module:
            EDGES[_module].setdefault(_target, _line)


def layer_of(module: str) -> str:
    best, best_len = None, -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_module_has_a_layer() -> None:
    assert "earmark.app" in MODULES
    assert "earmark.db.engine" in MODULES
    for module in MODULES:
        assert layer_of(module) in LAYERS


def test_no_import_runs_up_a_layer() -> None:
    upward = []
    for module, targets in sorted(EDGES.items()):
        for target, line in sorted(targets.items()):
            up = RANK[layer_of(target)] > RANK[layer_of(module)]
            if up:
                upward.append(
                    f"{MODULES[module].relative_to(SRC)}:{line}: {module} "
                    f"({layer_of(module)}) imports {target} ({layer_of(target)})"
                )
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_forbidden_packages_stay_apart() -> None:
    found = []
    for module, targets in sorted(EDGES.items()):
        for package, banned in FORBIDDEN.items():
            if not _within(module, package):
                continue
            for target, line in sorted(targets.items()):
                hit = any(_within(target, b) for b in banned)
                if hit:
                    found.append(f"{MODULES[module].relative_to(SRC)}:{line}: {target}")
    assert not found, "forbidden imports:\n" + "\n".join(found)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = {module: set(targets) for module, targets in EDGES.items()}
    assert _cycles(graph) == []


def _package(module: str) -> str:
    """``earmark.index.engine.wal`` → ``earmark.index``; ``earmark.app`` stays itself."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in EDGES.items():
        for target in targets:
            if target != "earmark" and _package(module) != _package(target):
                graph[_package(module)].add(_package(target))
    assert _cycles(graph) == []


def test_the_contract_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "earmark" / "sample.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from earmark.cli import main\n    from . import app\n")
    assert {t for t, _ in _imports("earmark.sample", source)} == {"earmark.cli.main", "earmark.app"}


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_two_classes_share_a_name() -> None:
    """One name, one class: two records called ``MbidLink`` in two packages made a reader
    convert one into the other (issue 24)."""
    where: dict[str, list[str]] = {}
    for module, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module)
    shared = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert not shared, f"classes defined more than once: {shared}"
