"""The operator files in deploy/: Prometheus' scrape config and alert rules pass promtool (the rules' own unit
tests included, one firing and one quiet case per alert), and the Grafana dashboard and the rules name only
metric families a real gateway exports, while the dashboard shows every family it exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

# The metered gateway and its known traffic (results, tool errors, sandbox stops, a seccomp kill, a policy
# denial, a rate-limited call, refused credentials), scraped once for this module.
from tests.integration.server_process import REPO
from tests.integration.test_metrics import scrape, server  # noqa: F401  (pytest fixtures)

DEPLOY = REPO / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "sandgate.json"

METRIC_NAME = re.compile(r"\bsandgate_[a-zA-Z0-9_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# Families the gateway exports that deliberately have no dashboard panel, with the reason. Empty: every family
# has one. Add to it only with a reason an operator would accept.
NO_PANEL: dict[str, str] = {}
# Grafana's variables, replaced by something PromQL parses so promtool can check the dashboard's queries.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$instance": ".*", "$tool": ".*"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    assert found is not None, "make test installs Debian's prometheus package, which ships promtool"
    return subprocess.run([found, *args], capture_output=True, text=True, check=False, cwd=REPO)


def exported(scraped: str) -> dict[str, str]:
    """The metric names a query can use for each family on the page: {name: family type}. A counter's name
    keeps its `_total` (the parser strips it from the family); a histogram's is its base name."""
    names = {}
    for family in text_string_to_metric_families(scraped):
        name = family.name + "_total" if family.type == "counter" else family.name
        names[name] = family.type
    return names


def family_of(identifier: str, names: dict[str, str]) -> str:
    """The family a name in a query belongs to: a histogram's _bucket/_count/_sum series are its own."""
    for suffix in HISTOGRAM_SUFFIXES:
        base = identifier.removesuffix(suffix)
        if base != identifier and names.get(base) == "histogram":
            return base
    return identifier


def sample_label_keys(scraped: str) -> dict[str, set[frozenset[str]]]:
    keys: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(scraped):
        for sample in family.samples:
            keys.setdefault(sample.name, set()).add(frozenset(sample.labels))
    return keys


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows too."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(all_panels(panel.get("panels", [])))
    return found


def query_panels() -> list[dict[str, Any]]:
    return [panel for panel in all_panels(dashboard()["panels"]) if panel["type"] != "row"]


def dashboard_expressions() -> list[str]:
    """Every PromQL expression in the dashboard: panel targets and template variable queries."""
    exprs = [target["expr"] for panel in query_panels() for target in panel["targets"]]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


# --- Prometheus -------------------------------------------------------------------------------------------

def test_promtool_accepts_the_config_and_its_rules() -> None:
    checked = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout, checked.stdout  # alerts.yml is loaded, and found
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["alerts.yml"]
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "sandgate"]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:9464"]  # the gateway's default metrics port
    assert job["scrape_interval"] == "15s"


def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout, checked.stdout


def test_the_rules_unit_tests_pass() -> None:
    assert load_yaml(ALERTS_TEST)["rule_files"] == ["alerts.yml"]  # the tests test the shipped rules
    tested = promtool("test", "rules", str(ALERTS_TEST))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_complete() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == {
        "SandgateToolErrorRatioHigh", "SandgateSandboxStops", "SandgateSeccompViolation", "SandgateZygoteRestarts",
        "SandgateAuthFailureSpike", "SandgateRateLimiting", "SandgatePolicyReloadRefused", "SandgateAuditLinesLost",
        "SandgateToolLatencyP99High", "SandgateDown",
    }
    for rule in rules:
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    severity = {rule["alert"]: rule["labels"]["severity"] for rule in rules}
    assert severity["SandgateSeccompViolation"] == "critical"  # hostile code
    assert severity["SandgateDown"] == "critical"


def test_every_alert_has_a_firing_and_a_quiet_test_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts") or []
            (firing if expected else quiet).add(check["alertname"])
            for alert in expected:  # promtool compares labels exactly; the severity must be among them
                assert "severity" in alert["exp_labels"], check
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - firing == set(), "alerts without a test case where they fire"
    assert alerts - quiet == set(), "alerts without a test case where they must not fire"
    assert firing | quiet <= alerts, "test cases for alerts that do not exist"


def test_the_rules_name_only_families_the_gateway_exports(scrape: str) -> None:  # noqa: F811
    names = exported(scrape)
    used = set(METRIC_NAME.findall(ALERTS.read_text()))  # expressions and annotations alike
    assert used, "no sandgate_ metric in alerts.yml?"
    unknown = {name for name in used if family_of(name, names) not in names}
    assert unknown == set(), f"alerts.yml names metrics the gateway does not export: {sorted(unknown)}"


def test_the_rules_tests_use_the_gateways_series(scrape: str) -> None:  # noqa: F811
    """The unit tests' input series are the gateway's: its names, with the label names it gives them."""
    keys = sample_label_keys(scrape)
    series = [entry["series"] for case in load_yaml(ALERTS_TEST)["tests"] for entry in case["input_series"]]
    checked = 0
    for text in series:
        match = re.fullmatch(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}", text)
        assert match, text
        if not match["name"].startswith("sandgate_"):
            continue  # Prometheus' own, such as `up`
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match["labels"])) - {"job", "instance"}
        assert match["name"] in keys, f"{text}: the scrape has no sample named {match['name']}"
        assert labels in keys[match["name"]], f"{text}: the gateway labels it {sorted(map(sorted, keys[match['name']]))}"
        checked += 1
    assert checked >= 10


# --- Grafana ----------------------------------------------------------------------------------------------

def test_the_dashboard_is_importable_json() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    tool = variables["tool"]
    assert (tool["query"]["query"] if isinstance(tool["query"], dict) else tool["query"]) == \
        "label_values(sandgate_tool_calls_total, tool)"
    panels = all_panels(board["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_every_panel_has_a_query() -> None:
    panels = query_panels()
    assert len(panels) >= 15
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"panel {panel['title']!r} has an empty expression"
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (Grafana's variables replaced by values) as a recording rule."""
    rules = []
    for n, expr in enumerate(dashboard_expressions()):
        if expr.startswith("label_values("):
            continue  # Grafana's variable query function, not PromQL
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_names_only_families_the_gateway_exports(scrape: str) -> None:  # noqa: F811
    names = exported(scrape)
    unknown = {}
    for expr in dashboard_expressions():
        for identifier in METRIC_NAME.findall(expr):
            if family_of(identifier, names) not in names:
                unknown[identifier] = expr
    assert unknown == {}, f"the dashboard queries metrics the gateway does not export: {unknown}"


def test_the_dashboard_shows_every_family_the_gateway_exports(scrape: str) -> None:  # noqa: F811
    names = exported(scrape)
    assert len(names) >= 16  # the catalogue's families at least
    shown = {family_of(identifier, names) for panel in query_panels() for target in panel["targets"]
             for identifier in METRIC_NAME.findall(target["expr"])}
    missing = set(names) - shown - set(NO_PANEL)
    assert missing == set(), f"families the gateway exports with no dashboard panel: {sorted(missing)}"
    assert set(NO_PANEL) <= set(names) - shown, "NO_PANEL lists a family that is gone, or now has a panel"


@pytest.mark.parametrize("family", [
    "sandgate_http_requests_total", "sandgate_jsonrpc_requests_total", "sandgate_tool_calls_total",
    "sandgate_tool_call_duration_seconds", "sandgate_sandbox_spawn_duration_seconds", "sandgate_sandbox_stops_total",
    "sandgate_sandbox_seccomp_violations_total", "sandgate_sandbox_zygote_restarts_total",
    "sandgate_sandbox_prespawned_lost_total", "sandgate_auth_failures_total", "sandgate_policy_decisions_total",
    "sandgate_ratelimit_decisions_total", "sandgate_sessions_active", "sandgate_policy_reloads_total",
    "sandgate_policy_info", "sandgate_build_info", "sandgate_http_connections_rejected_total",
    "sandgate_http_bodies_too_large_total",
])
def test_the_catalogued_families_are_exported_and_shown(scrape: str, family: str) -> None:  # noqa: F811
    """docs/metrics.md's catalogue, family by family: on the page, and on the dashboard."""
    assert family in exported(scrape)
    assert any(family_of(identifier, exported(scrape)) == family for expr in dashboard_expressions()
               for identifier in METRIC_NAME.findall(expr))
