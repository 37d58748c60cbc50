"""What a call is confined in, and what survives it: nothing of a per_call call (globals, /tmp,
descriptors of the gateway), everything of a per_session call within its own session only."""

from __future__ import annotations

from pathlib import Path

from integration.wire import LegacySession

from .harness import Gateway, Watch, expect
from .host import named, namespace, status, wait_until

MIB = 1 << 20
INET_FAMILIES = {"AF_INET", "AF_INET6", 2, 10}


def test_call_runs_confined(gateway: Gateway, marker: str) -> None:
    """Inside: PID 1, a read-only root, no /proc, the configured rlimits, no_new_privs. From the
    host: its own namespaces and not root."""
    probe = Watch(lambda: gateway.call("confinement", marker=marker, linger_s=1.0))
    assert wait_until(lambda: bool(named(marker)), 1.0), "the probe never showed up on the host"
    (host_pid,) = named(marker)
    for kind in ("pid", "net", "mnt", "ipc", "uts"):
        assert namespace(host_pid, kind) != namespace(gateway.pid, kind), f"in the gateway's {kind} namespace"
    host_uid = status(host_pid)["Uid"].split()
    assert "0" not in host_uid, f"runs as host uid {host_uid}"
    facts = expect(probe.result(), {"ok": None}).value
    assert (facts["pid"], facts["ppid"]) == (1, 0)
    assert facts["proc_mounted"] is False
    assert facts["root_read_only"] is True
    assert facts["host_git_config_visible"] is False
    assert facts["no_new_privs"] == 1
    limits = facts["rlimits"]
    assert (limits["NOFILE"], limits["NPROC"], limits["FSIZE"], limits["CPU"], limits["CORE"]) == \
        (64, 16, 8 * MIB, 2, 0)
    assert limits["AS"] > 0, "no address-space limit"


def test_module_global_does_not_reach_the_next_call(gateway: Gateway, token: str) -> None:
    first = expect(gateway.call("stash", value=f"first-{token}"), {"ok": None})
    second = expect(gateway.call("stash", value=f"second-{token}"), {"ok": None})
    assert (first.value, second.value) == ("", "")


def test_scratch_file_does_not_reach_the_next_call(gateway: Gateway, token: str,
                                                  leftovers: list[Path]) -> None:
    name = f"sandgate-state-{token}"
    leftovers.append(Path("/tmp") / name)
    written = expect(gateway.call("write_scratch", name=name, content=token), {"ok": None})
    assert written.value == token
    expect(gateway.call("read_scratch", name=name), {"tool_error": {"FileNotFoundError"}})
    assert not (Path("/tmp") / name).exists()


def test_no_descriptor_of_the_gateway_is_reachable(gateway: Gateway) -> None:
    """Only stdin/stdout/stderr and one result channel (a unix socket or pipe) are open."""
    entries = expect(gateway.call("list_fds", limit=65536), {"ok": None}).value
    by_fd = {entry["fd"]: entry for entry in entries}
    extra = sorted(set(by_fd) - {0, 1, 2})
    assert len(extra) <= 1, f"descriptors beyond 0-2: {[by_fd[fd] for fd in extra]}"
    for fd in extra:
        entry = by_fd[fd]
        unix_socket = entry["kind"] == "socket" and entry["family"] in ("AF_UNIX", 1)
        assert entry["kind"] == "fifo" or unix_socket, entry
    sockets = [entry for entry in entries if entry["kind"] == "socket"]
    assert not [entry for entry in sockets if entry["family"] in INET_FAMILIES or entry["listening"]], sockets
