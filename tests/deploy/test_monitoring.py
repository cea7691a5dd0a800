"""The monitoring files of deploy/monitoring against what the services really export: every
metric a Grafana panel or an alert rule names appears in the live /metrics of `earmark serve`
(the API's metrics) or the live /_metrics of `earmark run index`. `make deploy-test` checks the
files with promtool and runs Prometheus on the fleet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from tests.serve.process import Process, Serve, clean_environment, earmark_command, free_port
from tests.serve.process import healthy as wait_healthy

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
NAME = re.compile(r"\b((?:earmark|fpindex)_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def queries() -> dict[str, str]:
    """Every PromQL expression of the dashboard and the alert rules, by where it is."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    found = {f"panel {p['title']!r}": t["expr"] for p in dashboard["panels"] for t in p["targets"]}
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            found[f"alert {rule['alert']}"] = rule["expr"]
    return found


def exported(text: str) -> set[str]:
    """Metric families of a Prometheus text page, with or without samples yet."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


@pytest.fixture(scope="module")
def live_families(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    root = tmp_path_factory.mktemp("monitoring")
    port = free_port()
    index = Process(
        [*earmark_command(), "run", "index", "--port", str(port), "--dir", str(root / "index")],
        clean_environment(),
        name="earmark run index",
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", index)
        httpx.put(f"http://127.0.0.1:{port}/main", timeout=10)  # per-index families appear
        index_page = httpx.get(f"http://127.0.0.1:{port}/_metrics", timeout=10).text
    finally:
        index.stop()
    server = Serve(root / "data", clean_environment(EARMARK_SHUTDOWN_DELAY="0"))
    try:
        api_page = httpx.get(server.url + "/metrics", timeout=10).text
    finally:
        server.stop()
    return {family(name) for name in exported(index_page) | exported(api_page)}


def test_every_query_names_a_metric_the_services_export(live_families: set[str]) -> None:
    named = {where: set(NAME.findall(expr)) for where, expr in queries().items()}
    # `up` is Prometheus's own series per target; every other query names an Earmark metric.
    bare = [where for where, names in named.items() if not names]
    assert all(queries()[where].startswith("up{") for where in bare), bare
    missing = {
        where: names
        for where, names in named.items()
        if not {family(n) for n in names} <= live_families
    }
    assert not missing, f"not exported by the services: {missing}"


def test_a_made_up_metric_would_be_caught(live_families: set[str]) -> None:
    assert family("earmark_api_requests_total") in live_families
    assert family("earmark_api_lookups_per_fortnight_total") not in live_families


def test_the_scrape_config_names_every_service_that_exports_metrics() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {
        target.split(":")[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {"api1", "api2", "catalog", "index"}
    assert config["rule_files"] == ["/etc/earmark-monitoring/alerts.yml"]
