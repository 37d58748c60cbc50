"""Prometheus metrics through the real gateway: known traffic (results, tool errors, each sandbox stop, a policy
denial, a rate-limited call, refused keys, an unknown tool) and a scrape of the metrics port parsed with
prometheus_client's own parser, every count exact and every duration in its bucket."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.metered import KEY, METERED, metered_policy
from tests.integration.server_process import ServerProcess, running_server
from tests.integration.wire import ModernWire

POLICY = metered_policy("metered", "7")
METRICS_LINE = re.compile(r"^Sandgate metrics at (?P<url>http://127\.0\.0\.1:\d+/metrics)$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    policy = tmp_path_factory.mktemp("metrics") / "policy.yaml"
    policy.write_text(POLICY)
    with running_server(METERED, ["--policy", str(policy)]) as process:
        yield process


@pytest.fixture(scope="module")
def scrape(server: ServerProcess) -> str:
    """The metrics page after the known traffic, once for the module."""
    url = server.wait_for_line(METRICS_LINE, 5)["url"]
    wire = ModernWire(server.url, httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}))
    try:
        def call(tool: str, arguments: dict[str, Any]) -> httpx.Response:
            return wire.request("tools/call", {"name": tool, "arguments": arguments})

        for n in range(3):
            assert call("add", {"a": n, "b": 1}).status_code == 200
        assert call("add", {"a": 500, "b": 1}).status_code == 403
        assert [call("fail", {"message": "no"}).status_code for _ in range(3)] == [200, 200, 429]
        for tool in ("sleepy", "hog", "run_shell"):
            reply = call(tool, {})
            assert reply.status_code == 200 and reply.json()["result"]["isError"] is True, reply.text
        assert call("no_such_tool", {}).json()["error"]["code"] == -32602
        for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "Bearer wrong"}, {}):
            refused = httpx.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                 headers={**headers, "Accept": "application/json, text/event-stream"}, timeout=10)
            assert refused.status_code == 401
    finally:
        wire.close()
    reply = httpx.get(url, timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return reply.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_every_call_is_counted_by_tool_and_outcome(scrape: str) -> None:
    s = samples(scrape)
    calls = "sandgate_tool_calls_total"
    assert value(s, calls, tool="add", outcome="ok") == 3
    assert value(s, calls, tool="add", outcome="forbidden") == 1
    assert value(s, calls, tool="fail", outcome="tool_error") == 2
    assert value(s, calls, tool="fail", outcome="rate_limited") == 1
    assert value(s, calls, tool="sleepy", outcome="timeout") == 1
    assert value(s, calls, tool="hog", outcome="memory") == 1
    assert value(s, calls, tool="run_shell", outcome="seccomp") == 1
    assert value(s, calls, tool="other", outcome="invalid_params") == 1  # a made-up name is no label
    assert sum(v for (name, _), v in s.items() if name == calls) == 11
    requests = "sandgate_jsonrpc_requests_total"
    assert value(s, requests, method="tools/call", outcome="ok") == 8  # tool errors and stops are results
    assert value(s, requests, method="tools/call", outcome="forbidden") == 1
    assert value(s, requests, method="tools/call", outcome="rate_limited") == 1
    assert value(s, requests, method="tools/call", outcome="invalid_params") == 1


def test_sandbox_stops_and_the_forbidden_syscall_are_counted(scrape: str) -> None:
    s = samples(scrape)
    for reason in ("timeout", "memory", "seccomp"):
        assert value(s, "sandgate_sandbox_stops_total", reason=reason) == 1, reason
    assert sum(v for (name, _), v in s.items() if name == "sandgate_sandbox_stops_total") == 3
    assert value(s, "sandgate_sandbox_seccomp_violations_total", syscall="execve") == 1
    assert value(s, "sandgate_sandbox_spawn_duration_seconds_count") >= 10  # every call's child, and spares


def test_durations_land_in_their_buckets(scrape: str) -> None:
    s = samples(scrape)
    duration = "sandgate_tool_call_duration_seconds"
    assert value(s, duration + "_count", tool="add") == 4  # every answer, the denied one too
    assert value(s, duration + "_bucket", tool="add", le="1.0") == 4  # sandboxed adds take milliseconds
    # Killed at its 1 s wall time: past the 1 s bound, inside 2.5 s.
    assert value(s, duration + "_bucket", tool="sleepy", le="1.0") == 0
    assert value(s, duration + "_bucket", tool="sleepy", le="2.5") == 1
    assert 1.0 <= value(s, duration + "_sum", tool="sleepy") < 2.5
    assert value(s, duration + "_count", tool="hog") == 1
    buckets = [le for (name, labels), _ in s.items() if name == duration + "_bucket"
               for key, le in labels if key == "le" and ("tool", "add") in labels]
    assert buckets[0] == "0.0001" and buckets[-1] == "+Inf" and "60.0" in buckets


def test_authentication_policy_and_rate_limits_are_counted_by_reason(scrape: str) -> None:
    s = samples(scrape)
    assert value(s, "sandgate_auth_failures_total", reason="invalid_credentials") == 2
    assert value(s, "sandgate_auth_failures_total", reason="missing_credentials") == 1
    assert value(s, "sandgate_policy_decisions_total", decision="deny", reason="denied_by_rule") == 1
    assert value(s, "sandgate_policy_decisions_total", decision="allow", reason="allowed") == 10
    assert value(s, "sandgate_ratelimit_decisions_total", result="allowed", policy="twice") == 2
    assert value(s, "sandgate_ratelimit_decisions_total", result="limited", policy="twice") == 1
    assert value(s, "sandgate_http_requests_total", transport="streamable_http", status="401") == 3
    assert value(s, "sandgate_http_requests_total", transport="streamable_http", status="403") == 1
    assert value(s, "sandgate_http_requests_total", transport="streamable_http", status="429") == 1


def test_the_policy_and_build_are_named(scrape: str) -> None:
    s = samples(scrape)
    policy = [dict(labels) for (name, labels), v in s.items() if name == "sandgate_policy_info" and v == 1]
    assert len(policy) == 1 and policy[0]["revision"] == "7" and re.fullmatch("[0-9a-f]{64}", policy[0]["sha256"])
    build = [dict(labels) for (name, labels), v in s.items() if name == "sandgate_build_info"]
    assert len(build) == 1 and build[0]["version"]
    assert value(s, "sandgate_policy_reloads_total", result="refused") == 0
    assert value(s, "sandgate_sessions_active", era="legacy") == 0


def test_no_label_holds_what_a_client_sent(scrape: str) -> None:
    assert "no_such_tool" not in scrape and "wrong" not in scrape and KEY not in scrape


def test_promtool_finds_the_page_clean(scrape: str, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "make test installs Debian's prometheus package, which ships promtool"
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
