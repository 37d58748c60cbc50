"""The operator's word on a module's requests: limits clamped to the ceiling, isolation "none"
only for trusted code, and every refusal said."""

from __future__ import annotations

from sandgate import Sandbox
from sandgate.sandbox.trust import DEFAULT_CEILING, clamp, grant

CEILING = Sandbox(wall_time=10, cpu_time=5, memory="256Mi", max_output="1Mi", scratch="16Mi")
WIDE = Sandbox(wall_time=60, memory="1Gi")


def test_clamp_lowers_only_what_is_above_the_ceiling():
    asked = Sandbox(wall_time=60, cpu_time=1, memory="1Gi")
    granted = clamp(asked, CEILING)
    assert (granted.wall_time, granted.cpu_time, granted.memory) == (10, 1, 256 * 1024**2)
    assert clamp(granted, CEILING) is granted  # nothing above: the same object
    near = Sandbox(wall_time=10.000001)
    assert clamp(near, CEILING).wall_time == 10


def test_untrusted_none_runs_per_call_and_is_reported():
    decided = grant(("none", Sandbox()), {"t": (None, None), "u": ("per_session", Sandbox(wall_time=2))},
                    DEFAULT_CEILING, trusted=False)
    assert decided.server[0] == "per_call" and decided.tools["t"][0] == "per_call"
    assert decided.tools["u"] == ("per_session", Sandbox(wall_time=2).over(Sandbox()))
    assert any('the server asked for isolation="none"' in line for line in decided.refused)
    assert any("tool 't' asked for isolation=\"none\"" in line for line in decided.refused)


def test_trusted_none_holds_and_limits_still_clamp():
    decided = grant(("per_call", Sandbox(memory="2Gi")), {"fast": ("none", None)}, WIDE, trusted=True)
    assert decided.tools["fast"][0] == "none"
    assert decided.server[1].memory == 1024**3
    lowered = "limits above the operator's ceiling lowered: memory 2147483648 -> 1073741824"
    assert decided.refused == [f"the server: {lowered}", f"tool 'fast': {lowered}"]


def test_tool_requests_merge_over_the_server_request_field_by_field():
    decided = grant(("per_call", Sandbox(wall_time=3, memory="64Mi")), {"t": (None, Sandbox(memory="128Mi"))},
                    WIDE, trusted=False)
    isolation, limits = decided.tools["t"]
    assert (isolation, limits.wall_time, limits.memory) == ("per_call", 3, 128 * 1024**2)
    assert decided.refused == []
