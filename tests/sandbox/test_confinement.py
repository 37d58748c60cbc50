"""No line of a served module runs outside a sandbox: not its import, not its validators, default
factories, result serializers, resources or prompts, and not its patches of sandgate itself.

Each test serves a hostile module rendered from tests/sandbox/hostile/ (see hostile/__init__.py)
whose code tries, wherever it runs, to write a host file under /var/tmp, read /etc/shadow,
connect to a host listener on 127.0.0.1 and read the gateway's SANDGATE_TEST_SECRET. The host
judges: no marker file, no connection, neither the secret nor a line of /etc/shadow in any
answer; and every answer carries the record of the attempt, so the code provably ran.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Gateway, expect
from .host import children, status
from .hostile import Escape, descendants, host_user_namespace, in_host_user_namespace, rpc, served

UNREADABLE = ("FileNotFoundError", "PermissionError")
WRITE_REFUSED = {"tool_error": {"OSError", "PermissionError", "FileNotFoundError"}}
READ_REFUSED = {"tool_error": set(UNREADABLE)}

Served = tuple[Gateway, Escape]


def record_of(where: str, escape: Escape, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The attempt made at `where`, proving that code ran and that its answer came back."""
    found = [record for record in records if record.get("ran") == f"ran:{where}:{escape.token}"]
    assert found, f"no record of the attempt at {where}: the hostile code never ran, or its answer was lost"
    return found[-1]


def assert_contained(record: dict[str, Any]) -> None:
    """What the code saw where it ran: no readable shadow file, no secret in its environment."""
    assert record["shadow"].startswith(UNREADABLE), f"/etc/shadow was readable at {record['ran']}: {record}"
    assert record["secret"] is None, f"the gateway's secret was in the environment at {record['ran']}"


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")


# --- 1. Import-time code -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def import_time() -> Iterator[Served]:
    with served("import_time", "import_time") as both:
        yield both


def test_import_time_code_reaches_nothing_on_the_host(import_time: Served) -> None:
    gateway, escape = import_time
    outcome = expect(gateway.attack("seen"), {"ok": None})
    escape.assert_nothing_reached_the_host(json.dumps(outcome.result))
    record = record_of("import", escape, [outcome.value["import"]])
    assert_contained(record)
    assert record["proc"] is False, f"the importing zygote sees a /proc: {record}"


def test_the_importing_zygote_is_an_unprivileged_host_uid_in_its_own_user_namespace(import_time: Served) -> None:
    gateway, _ = import_time
    zygotes = [pid for pid in descendants(gateway.pid) if not in_host_user_namespace(pid)]
    assert zygotes, "no descendant of the gateway is in a user namespace of its own"
    for pid in zygotes:
        fields = status(pid)
        uids, gids = fields["Uid"].split(), fields["Gid"].split()
        assert uids and "0" not in uids, f"pid {pid} ({cmdline(pid)}) runs as host uid {fields['Uid']}"
        assert gids and "0" not in gids, f"pid {pid} ({cmdline(pid)}) runs as host gid {fields['Gid']}"


def test_only_the_gateway_and_zygote_waiters_share_the_host_user_namespace(import_time: Served) -> None:
    """A waiter (the zygote's parent outside its PID namespace) runs no module code; nothing else
    of the gateway's may be in the host's user namespace."""
    gateway, _ = import_time
    assert in_host_user_namespace(gateway.pid)
    for pid in descendants(gateway.pid):
        if not in_host_user_namespace(pid):
            continue
        assert "sandgate.sandbox.zygote" in cmdline(pid), \
            f"pid {pid} in the host's user namespace is not a zygote waiter: {cmdline(pid)}"
        below = children(pid)
        assert below and all(not in_host_user_namespace(child) for child in below), \
            f"waiter {pid} has children in the host's user namespace ({host_user_namespace()}): {below}"


# --- 2. Validators, default factories, serializers, resources, prompts ----------------------------

@pytest.fixture(scope="module")
def handlers() -> Iterator[Served]:
    with served("handlers", "handlers") as both:
        yield both


HANDLER_REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "validator": ("tools/call", {"name": "validated", "arguments": {"payload": {"n": 1}}}),
    "default_factory": ("tools/call", {"name": "defaulted", "arguments": {}}),
    "str": ("tools/call", {"name": "stringly", "arguments": {}}),
    "serializer": ("tools/call", {"name": "serialized", "arguments": {}}),
    "resource": ("resources/read", {"uri": "res://x"}),
    "template": ("resources/read", {"uri": "res://item/42"}),
    "prompt": ("prompts/get", {"name": "greet", "arguments": {"name": "x"}}),
}


@pytest.mark.parametrize("where", sorted(HANDLER_REQUESTS))
def test_module_code_around_the_handlers_runs_sandboxed(handlers: Served, where: str) -> None:
    gateway, escape = handlers
    method, params = HANDLER_REQUESTS[where]
    if method == "tools/call":
        outcome = expect(gateway.call(params["name"], **params["arguments"]), {"ok": None, "tool_error": None})
        answered, answer = outcome.reason == "ok", json.dumps(outcome.result)
    else:
        response, answer = rpc(gateway, method, params)
        answered = "result" in response
    escape.assert_nothing_reached_the_host(answer, where=where)
    if answered:  # the hook ran in the process that answered, and saw what a call sees
        assert f"ran:{where}:{escape.token}" in answer, \
            f"the {where} hook did not run where the answer came from: {answer[:500]}"
        assert "read: " not in answer, f"the {where} hook read /etc/shadow: {answer[:500]}"
    gateway.assert_serving()


# --- 3. Patching sandgate at import --------------------------------------------------------------

@pytest.fixture(scope="module")
def patched() -> Iterator[Served]:
    with served("patches", "patches") as both:
        yield both


def test_exec_is_still_killed_after_the_module_patched_sandgate(patched: Served) -> None:
    gateway, escape = patched
    outcome = expect(gateway.attack("exec_program"), {"seccomp": None})
    assert outcome.label() in ("execve", None), f"killed for {outcome.label()}, not for its execve"
    escape.assert_nothing_reached_the_host()


def test_host_writes_still_fail_after_the_module_patched_sandgate(patched: Served) -> None:
    gateway, escape = patched
    target = f"{escape.marker_prefix}-write-tool"
    outcome = expect(gateway.attack("write_host", path=target), WRITE_REFUSED)
    escape.assert_nothing_reached_the_host(outcome.text)


def test_patches_and_fork_hooks_reach_nothing_on_the_host(patched: Served) -> None:
    """The evil versions and the at-fork hooks ran wherever sandgate let them: each stayed inside,
    and /proc was mounted nowhere."""
    gateway, escape = patched
    outcome = expect(gateway.attack("report"), {"ok": None})
    escape.assert_nothing_reached_the_host(json.dumps(outcome.result))
    report = outcome.value
    records = report["records"]
    record_of("import", escape, records)
    for record in records:
        assert_contained(record)
        assert not str(record.get("mount", "")).startswith("mounted"), f"/proc was mounted: {record}"
    assert report["proc"] is False, "a call sees a /proc"


# --- 5. Secrets beside the module ----------------------------------------------------------------

DOTFILE_SECRET = "dotfile-secret-{token}"


def test_secrets_beside_the_module_are_not_in_its_view(request: pytest.FixtureRequest) -> None:
    """The module's directory is seen only through its Python files: .env and .git stay out."""
    hidden = DOTFILE_SECRET.format(token=secrets.token_hex(8))
    files = {".env": f"{hidden}=1\nAPI_KEY={hidden}\n",
             ".git/config": f'[remote "origin"]\n\turl = https://{hidden}@example.invalid/x.git\n'}
    with served("dotfiles", request.node.name, files) as (gateway, escape):
        answers = []
        for name in files:
            outcome = expect(gateway.attack("read_beside", name=name), READ_REFUSED)
            answers.append(json.dumps(outcome.result))
        at_import = expect(gateway.attack("read_at_import"), {"ok": None})
        for name, seen in at_import.value.items():
            assert seen.startswith(UNREADABLE), f"the import read {name}: {seen[:200]}"
        answers.append(json.dumps(at_import.result))
        for answer in answers:
            assert hidden not in answer, f"a secret beside the module reached an answer: {answer[:500]}"
        escape.assert_nothing_reached_the_host(*answers)
