"""Reloading a policy file: only a good file that passes its own tests is ever swapped in."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from sandgate.policy import PolicyError
from sandgate.policy.reload import Loaded, PolicyFile

HEAD = "apiVersion: sandgate.dev/v1\nkind: ToolPolicy\nmetadata: {name: t}\nspec:\n" \
       "  defaults: {rateLimit: r}\n  rateLimits:\n    r: {key: [principal], rate: 10/s}\n"


def policy_text(tool: str, test_tool: str | None = None) -> str:
    return HEAD + f"  rules:\n    - id: allow-{tool}\n      effect: allow\n      principals: ['*']\n" \
                  f"      tools: [{tool}]\n  tests:\n" \
                  f"    - {{tool: {test_tool or tool}, args: {{}}, expect: {{allow: allow-{tool}}}}}\n"


@pytest.fixture
def swaps() -> list[Loaded]:
    return []


def served(swaps: list[Loaded]) -> list[str]:
    return [loaded.compiled.checked.policy.spec.rules[0].id for loaded in swaps]


def test_a_changed_good_file_swaps_an_unchanged_one_does_not(tmp_path: Path, swaps: list[Loaded]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text("add"))
    watched = PolicyFile(path, swaps.append)
    watched.load()
    assert watched.reload() is False
    os.utime(path)  # touched, same content
    assert watched.reload() is False
    path.write_text(policy_text("mul"))
    assert watched.reload() is True
    assert served(swaps) == ["allow-add", "allow-mul"]
    assert (watched.counts.succeeded, watched.counts.failed, watched.counts.unchanged) == (1, 0, 2)
    assert watched.current is not None and watched.current.sha256 == swaps[-1].sha256


def test_an_invalid_file_or_one_whose_tests_fail_keeps_the_last_good_and_logs_once(
        tmp_path: Path, swaps: list[Loaded], caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text("add"))
    watched = PolicyFile(path, swaps.append)
    watched.load()
    caplog.set_level(logging.ERROR, logger="sandgate.policy")
    for bad in [policy_text("add").replace("effect: allow", "effect: allow\n      effect: deny"),
                policy_text("add", test_tool="mul"),
                "\xff not yaml: [",
                ""]:
        path.write_text(bad)
        assert watched.reload() is False
        assert watched.reload() is False  # polled again: counted as unchanged, not logged again
    path.unlink()
    assert watched.reload() is False and watched.reload() is False
    assert served(swaps) == ["allow-add"]
    assert watched.counts.failed == 6 and watched.counts.succeeded == 0
    messages = [record.getMessage() for record in caplog.records]
    assert sum("duplicate_key" in message for message in messages) == 1
    assert sum("test_failed" in message for message in messages) == 1
    assert sum("unreadable" in message for message in messages) == 1
    path.write_text(policy_text("mul"))
    assert watched.reload() is True and served(swaps) == ["allow-add", "allow-mul"]


def test_a_symlink_swap_is_a_change(tmp_path: Path, swaps: list[Loaded]) -> None:
    (tmp_path / "v1.yaml").write_text(policy_text("add"))
    (tmp_path / "v2.yaml").write_text(policy_text("mul"))
    link = tmp_path / "policy.yaml"
    link.symlink_to(tmp_path / "v1.yaml")
    watched = PolicyFile(link, swaps.append)
    watched.load()
    staged = tmp_path / "staged"
    staged.symlink_to(tmp_path / "v2.yaml")
    os.replace(staged, link)  # the atomic swap a ConfigMap or a deploy script does
    assert watched.reload() is True
    assert served(swaps) == ["allow-add", "allow-mul"]


def test_a_bad_file_at_start_is_an_error_not_a_default(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyFile(tmp_path / "missing.yaml").load()
    assert caught.value.problems[0].code == "unreadable"
    failing = tmp_path / "failing.yaml"
    failing.write_text(policy_text("add", test_tool="mul"))
    with pytest.raises(PolicyError) as caught:
        PolicyFile(failing).load()
    assert [problem.code for problem in caught.value.problems] == ["test_failed"]
    assert caught.value.problems[0].line == 14
