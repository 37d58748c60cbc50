"""Prometheus metrics: one custom collector over the core's counter registry, served by prometheus-client on a port
of its own (9464 on loopback by default). Everything is counted on the request path as it happens; a scrape only
reads the registry, it never walks live objects. Names, labels and example queries: docs/metrics.md."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

PREFIX = "sandgate_"

# The labelled families the core keeps, with what each counts.
FAMILY_HELP = {
    "http_requests": "HTTP responses the listener started, by transport and status code",
    "jsonrpc_requests": "JSON-RPC requests that entered the request path, by method and outcome (ok or the failure)",
    "tool_calls": "tools/call requests by catalog tool and outcome (ok, tool_error, a sandbox stop, or the failure)",
    "tool_call_duration_seconds": "time from a tools/call entering the request path to its answer, by tool",
    "sandbox_spawn_duration_seconds": "time from asking the zygote for a sandboxed child to its report that it runs",
    "sandbox_stops": "calls the sandbox stopped, by reason",
    "sandbox_seccomp_violations": "calls killed for a forbidden system call, by syscall",
    "auth_failures": "deliveries the authenticate stage refused, by reason",
    "policy_decisions": "tools/call decisions of the policy, by decision (allow, deny, hidden) and reason",
    "ratelimit_decisions": "requests a rate limit admitted or limited, by result and the policy's limit name",
}
# Plain counters a labelled family above (or a metric below) reports in full: not exported twice.
SUPERSEDED = frozenset({"http_requests", "jsonrpc_requests", "auth_failures", "policy_reloads", "policy_reloads_refused",
                        "sandbox_calls_stopped", "sessions_opened", "sessions_closed", "sessions_expired"})


class CoreCollector(Collector):
    """The core's registry as Prometheus families; `policy` tells the served policy's revision and sha256."""

    def __init__(self, counters: Any, version: str, build_revision: str,
                 policy: Callable[[], tuple[str, str] | None] = lambda: None) -> None:
        self._counters = counters
        self._version = version
        self._build_revision = build_revision
        self._policy = policy

    def collect(self) -> Iterator[Metric]:
        for name, kind, label_names, samples in self._counters.families():
            help_text = FAMILY_HELP.get(name, name)
            if kind == "counter":
                family: Metric = CounterMetricFamily(PREFIX + name, help_text, labels=label_names)
                for labels, value in samples:
                    family.add_metric(list(labels), value)
            else:
                family = HistogramMetricFamily(PREFIX + name, help_text, labels=label_names)
                for labels, buckets, count, total in samples:
                    family.add_metric(list(labels), [(_bound(bound), cumulative) for bound, cumulative in buckets]
                                      + [("+Inf", count)], total)
            yield family
        counts = self._counters.snapshot()
        for name, value in counts.items():
            if name not in SUPERSEDED:
                yield CounterMetricFamily(PREFIX + name, f"Sandgate's {name.replace('_', ' ')}", value=value)
        sessions = GaugeMetricFamily(PREFIX + "sessions_active", "open sessions, by protocol era", labels=["era"])
        sessions.add_metric(["legacy"], counts["sessions_opened"] - counts["sessions_closed"] - counts["sessions_expired"])
        yield sessions
        reloads = CounterMetricFamily(PREFIX + "policy_reloads", "policy versions swapped in after start, or refused "
                                                                 "(the last good one serves)", labels=["result"])
        reloads.add_metric(["success"], counts["policy_reloads"])
        reloads.add_metric(["refused"], counts["policy_reloads_refused"])
        yield reloads
        served = self._policy()
        if served is not None:
            info = GaugeMetricFamily(PREFIX + "policy_info", "the policy being served", labels=["revision", "sha256"])
            info.add_metric(list(served), 1)
            yield info
        build = GaugeMetricFamily(PREFIX + "build_info", "this build of Sandgate", labels=["version", "revision"])
        build.add_metric([self._version, self._build_revision], 1)
        yield build


def _bound(bound: float) -> str:
    return repr(float(bound))


class MetricsServer:
    """prometheus-client's HTTP server on its own port, over a registry holding only the core's collector."""

    def __init__(self, collector: CoreCollector, host: str, port: int) -> None:
        from prometheus_client import start_http_server

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.port: int = self._server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if isinstance(self._thread, threading.Thread):
            self._thread.join(timeout=5)
