"""The operators' files under deploy/: the Prometheus rules pass ``promtool check rules``
(skipped, saying why, where promtool is missing), and the rules and the Grafana dashboard
name only metrics the service exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qunzu.api.metrics import Metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus-rules.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
METRIC = re.compile(r"\bqunzu_[a-z_]+")


def exported() -> set[str]:
    """Every series name /metrics can show (counters' _total, histograms' _bucket...)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + tail for tail in ("_bucket", "_sum", "_count"))
    return names


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is missing (apt-get install prometheus)")
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_the_rules_name_only_exported_metrics() -> None:
    used = set(METRIC.findall(RULES.read_text()))
    assert {"qunzu_cases_overdue", "qunzu_cases_open"} <= used
    assert used <= exported(), used - exported()


def test_the_dashboard_is_json_naming_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used <= exported(), used - exported()
    for wanted in (
        "qunzu_http_request_seconds_bucket",
        "qunzu_websocket_connections",
        "qunzu_ws_slow_consumer_disconnects_total",
        "qunzu_cases_open",
    ):
        assert wanted in used
