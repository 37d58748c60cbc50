"""A policy as a running server serves it: the module's requests granted under its defaults, maxima and trust,
and a version the running server cannot serve refused like an invalid one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sandgate import _core
from sandgate.policy.reload import Loaded, PolicyFile
from sandgate.policy.serving import ModulePlans, bind, memory_needed
from sandgate.sandbox.trust import requests
from sandgate.sandbox.limits import Sandbox

MIB = 1024**2
HEAD = "apiVersion: sandgate.dev/v1\nkind: ToolPolicy\nmetadata: {name: t}\nspec:\n"
# The module: `big` asks for more than any ceiling here, `inside` for in-process, `plain` for nothing.
REQUESTS = requests("per_call", Sandbox(), {"big": ("per_call", Sandbox(wall_time=900, memory="2Gi")),
                                            "inside": ("none", None), "plain": (None, None)})
REQUESTS_WITHOUT_SERVER_ISOLATION = {key: value for key, value in REQUESTS.items() if key != "isolation"}


def policy(tmp_path: Path, defaults: str = "{}", rules: str = "[]") -> PolicyFile:
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + f"  defaults: {defaults}\n  rules: {rules}\n")
    served = PolicyFile(path)
    served.load()
    return served


def current(served: PolicyFile) -> Loaded:
    assert served.current is not None
    return served.current


def plans(*, in_gateway: bool = False, sandboxed: bool = True, memory_bound: int = 4096 * MIB) -> ModulePlans:
    return ModulePlans(REQUESTS_WITHOUT_SERVER_ISOLATION, in_gateway=in_gateway,
                       tool_names=frozenset({"big", "inside", "plain"}), has_handlers=False, sandboxed=sandboxed,
                       memory_bound=memory_bound, label="module.py")


def plan(grant: Any, tool: str) -> tuple[str, float, int]:
    isolation, wall_time, _cpu, memory, *_ = grant.tool(tool)
    return isolation, wall_time, memory


def test_the_policy_defaults_fill_what_the_module_leaves_and_its_maxima_clamp_what_it_asks(tmp_path: Path) -> None:
    served = policy(tmp_path, "{isolation: per_session, sandbox: {wallSeconds: 5, memoryMiB: 128}, "
                              "maxSandbox: {wallSeconds: 60, memoryMiB: 1024}}")
    grant = plans().grant(current(served))
    assert plan(grant, "plain") == ("per_session", 5, 128 * MIB)
    assert plan(grant, "big") == ("per_call", 60, 1024 * MIB)
    assert any("big" in line and "wall_time 900 -> 60" in line for line in grant.refusals)


@pytest.mark.parametrize(("trust_modules", "in_gateway", "isolation"),
                         [(True, True, "none"), (True, False, "per_call"), (False, True, "per_call"),
                          (False, False, "per_call")])
def test_in_process_needs_both_the_operators_code_and_the_policys_trust(
        tmp_path: Path, trust_modules: bool, in_gateway: bool, isolation: str) -> None:
    served = policy(tmp_path, f"{{trustModules: {str(trust_modules).lower()}}}")
    grant = plans(in_gateway=in_gateway).grant(current(served))
    assert grant.tool("inside")[0] == isolation
    assert any('isolation="none": refused' in line for line in grant.refusals) == (isolation != "none")


def test_the_sandbox_is_started_able_to_grant_what_a_rule_gives_beyond_the_ceiling(tmp_path: Path) -> None:
    served = policy(tmp_path, "{maxSandbox: {memoryMiB: 512}}",
                    "[{id: big, effect: allow, principals: ['*'], tools: [big], sandbox: {memoryMiB: 3072}}]")
    assert memory_needed(current(served).compiled.checked.policy) == 3072 * MIB
    (tmp_path / "ceiling-only").mkdir()
    ceiling_only = policy(tmp_path / "ceiling-only", "{maxSandbox: {memoryMiB: 512}}")
    assert memory_needed(current(ceiling_only).compiled.checked.policy) == 512 * MIB


def reloaded_to(served: PolicyFile, defaults: str, rules: str = "[]") -> bool:
    served.path.write_text(HEAD + f"  defaults: {defaults}\n  rules: {rules}\n")
    return served.reload()


def test_a_version_the_running_server_cannot_serve_is_refused_and_the_last_good_serves(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    served = policy(tmp_path, "{trustModules: true, maxSandbox: {memoryMiB: 1024}}")
    module = plans(in_gateway=True, sandboxed=False, memory_bound=1024 * MIB)
    counters = _core.Counters()
    gate = bind(_core, served, module, module.grant(current(served)), _core.Settings(), counters).gate
    first = current(served)
    with caplog.at_level(logging.ERROR, "sandgate.policy"):
        # Every tool in-process was the deal: a version that sandboxes one needs the sandbox never started.
        assert not reloaded_to(served, "{trustModules: false, maxSandbox: {memoryMiB: 1024}}")
    assert current(served) is first and served.counts.failed == 1
    assert "needs_restart" in caplog.text and "started without a sandbox" in caplog.text
    assert gate.grant.tool("inside")[0] == "none"  # the core still serves the first version's plans

    sandboxed = plans(sandboxed=True, memory_bound=1024 * MIB)
    served.vet = sandboxed.vet
    assert not reloaded_to(served, "{maxSandbox: {memoryMiB: 2048}}")
    assert "more than the running sandbox can grant (1024 MiB)" in caplog.text
    assert reloaded_to(served, "{maxSandbox: {memoryMiB: 512}}")
    assert (counters.get("policy_reloads"), counters.get("policy_reloads_refused")) == (1, 2)


def test_a_good_reload_swaps_the_policy_and_the_module_plans_together(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    served = policy(tmp_path, "{sandbox: {wallSeconds: 5}}")
    module = plans()
    gate = bind(_core, served, module, module.grant(current(served)), _core.Settings(), _core.Counters()).gate
    assert plan(gate.grant, "plain")[1] == 5
    with caplog.at_level(logging.WARNING, "sandgate.policy"):
        assert reloaded_to(served, "{sandbox: {wallSeconds: 7}, maxSandbox: {wallSeconds: 100}}")
    assert plan(gate.grant, "plain")[1] == 7
    assert "module.py: tool 'big'" in caplog.text  # the new version's refusals are logged


def test_the_embedded_default_is_served_unwatched() -> None:
    default = PolicyFile.embedded_default()
    assert not default.watched
    loaded = current(default)
    assert loaded.compiled.checked.policy.metadata.name == "sandgate-default"
    grant = plans().grant(loaded)
    assert plan(grant, "plain") == ("per_call", 10, 256 * MIB)
