"""The operator's word on a module's requests, as the core compiles it: limits over the defaults
and clamped to the ceiling, isolation "none" only for trusted code, and every refusal said."""

from __future__ import annotations

import pytest

from sandgate import Sandbox
from sandgate.sandbox.limits import granted
from sandgate.sandbox.trust import DEFAULT_CEILING, compile_grant, requests

CEILING = Sandbox(wall_time=10, cpu_time=5, memory="256Mi", max_output="1Mi", scratch="16Mi")
WIDE = Sandbox(wall_time=60, memory="1Gi")


def test_clamp_lowers_only_what_is_above_the_ceiling():
    grant = compile_grant(requests("per_call", Sandbox(wall_time=60, cpu_time=1, memory="1Gi"), {}), CEILING,
                          trusted=False)
    _, limits = granted(grant.server())
    assert (limits.wall_time, limits.cpu_time, limits.memory) == (10, 1, 256 * 1024**2)
    near = compile_grant(requests("per_call", Sandbox(wall_time=10.000001), {}), CEILING, trusted=False)
    assert granted(near.server())[1].wall_time == 10


def test_untrusted_none_runs_per_call_and_is_reported():
    grant = compile_grant(requests("none", Sandbox(), {"t": (None, None), "u": ("per_session", Sandbox(wall_time=2))}),
                          DEFAULT_CEILING, trusted=False)
    assert grant.server()[0] == "per_call" and grant.tool("t")[0] == "per_call"
    assert granted(grant.tool("u")) == ("per_session", Sandbox(wall_time=2).over(Sandbox()))
    assert any('the server asked for isolation="none"' in line for line in grant.refusals)
    # "t" asked for nothing of its own: it inherits the server's request and is refused with it.
    assert granted(grant.tool("t")) == granted(grant.server())


def test_trusted_none_holds_and_limits_still_clamp():
    grant = compile_grant(requests("per_call", Sandbox(memory="2Gi"), {"fast": ("none", None)}), WIDE, trusted=True)
    assert grant.tool("fast")[0] == "none"
    assert granted(grant.server())[1].memory == 1024**3
    lowered = "limits above the operator's ceiling lowered: memory 2147483648 -> 1073741824"
    assert grant.refusals == [f"the server: {lowered}", f"tool 'fast': {lowered}"]


def test_tool_requests_merge_over_the_server_request_field_by_field():
    grant = compile_grant(requests("per_call", Sandbox(wall_time=3, memory="64Mi"), {"t": (None, Sandbox(memory="128Mi"))}),
                          WIDE, trusted=False)
    isolation, limits = granted(grant.tool("t"))
    assert (isolation, limits.wall_time, limits.memory) == ("per_call", 3, 128 * 1024**2)
    assert grant.refusals == []


def test_a_name_the_module_never_declared_gets_the_server_plan():
    grant = compile_grant(requests("per_session", Sandbox(wall_time=7), {}), DEFAULT_CEILING, trusted=False)
    assert grant.tool("ghost") == grant.server() and grant.server()[:2] == ("per_session", 7.0)


def test_malformed_requests_are_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="unknown sandbox limit 'memroy'"):
        compile_grant({"sandbox": {"memroy": 1}}, DEFAULT_CEILING, trusted=False)
    with pytest.raises(ValueError, match="isolation must be one of"):
        compile_grant({"tools": {"t": {"isolation": "sometimes"}}}, DEFAULT_CEILING, trusted=False)
