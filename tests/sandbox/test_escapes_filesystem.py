"""Filesystem escapes: the root is read-only bind mounts, /tmp a private capped tmpfs, /proc
absent. Each write is judged on the host (the path must not exist there afterwards), each read
by the secret never appearing in what comes back."""

from __future__ import annotations

import hashlib
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import ATTACKS, HOST_GIT_CONFIG, REPO, Gateway, expect

WRITE_REFUSED = {"tool_error": {"OSError", "PermissionError", "FileNotFoundError"}}
READ_REFUSED = {"tool_error": {"PermissionError", "FileNotFoundError"}}

# Where a write would persist on the host, or reach the gateway's own code next start.
OUTSIDE_SCRATCH: dict[str, Callable[[str], Path]] = {
    "usr-lib": lambda name: Path("/usr/lib") / name,
    "etc": lambda name: Path("/etc") / name,
    "root-dir": lambda name: Path("/") / name,
    "tool-dir": lambda name: ATTACKS.parent / name,
    "repo": lambda name: REPO / name,
    "home": lambda name: Path.home() / name,
    "venv-site-packages": lambda name: Path(sysconfig.get_path("purelib")) / f"{name}.pth",
    "stdlib": lambda name: Path(sysconfig.get_path("stdlib")) / f"{name.replace('-', '_')}.py",
    "var-tmp": lambda name: Path("/var/tmp") / name,
}


@pytest.fixture
def host_path(request: pytest.FixtureRequest, token: str) -> Iterator[Path]:
    path: Path = OUTSIDE_SCRATCH[request.param](f"sandgate-escape-{token}")
    assert not path.exists()
    yield path
    if path.exists():
        path.unlink()  # leave the host clean even when the sandbox leaked


@pytest.mark.parametrize("host_path", sorted(OUTSIDE_SCRATCH), indirect=True)
def test_write_outside_scratch_never_lands_on_the_host(gateway: Gateway, host_path: Path) -> None:
    assert host_path.parent.is_dir()
    expect(gateway.attack("write_file", path=str(host_path)), WRITE_REFUSED)
    assert not host_path.exists(), f"the call wrote {host_path} on the host"


@pytest.mark.parametrize("directory", ["/tmp", "/dev/shm"])
def test_private_writable_dirs_are_not_the_hosts(gateway: Gateway, token: str, directory: str,
                                                 leftovers: list[Path]) -> None:
    """/tmp is the call's own tmpfs and /dev/shm, if present at all, is private too."""
    host_path = Path(directory) / f"sandgate-escape-{token}"
    leftovers.append(host_path)
    outcome = gateway.attack("write_file", path=str(host_path))
    expect(outcome, {"ok": None} if directory == "/tmp" else {"ok": None, **WRITE_REFUSED})
    assert not host_path.exists(), f"the call wrote {host_path} on the host"


def test_own_module_cannot_be_opened_for_writing(gateway: Gateway) -> None:
    before = hashlib.sha256(ATTACKS.read_bytes()).hexdigest()
    expect(gateway.attack("tamper_own_module"), {"tool_error": {"OSError", "PermissionError"}})
    assert hashlib.sha256(ATTACKS.read_bytes()).hexdigest() == before


def test_filling_scratch_stops_at_its_cap_and_the_next_call_has_room(gateway: Gateway, token: str,
                                                                     leftovers: list[Path]) -> None:
    leftovers.append(Path("/tmp") / f"after-fill-{token}")
    outcome = expect(gateway.attack("fill_scratch", tag=token, total_mib=64, file_mib=4),
                     {"tool_error": {"OSError"}})
    assert "[Errno 28]" in outcome.text  # ENOSPC: the 16 MiB tmpfs is full
    assert not list(Path("/tmp").glob(f"sandgate-fill-{token}-*"))
    room = "x" * (512 * 1024)
    after = expect(gateway.call("write_scratch", name=f"after-fill-{token}", content=room), {"ok": None})
    assert after.value == room


def test_file_past_the_size_limit_is_cut_off(gateway: Gateway, token: str) -> None:
    outcome = expect(gateway.attack("big_file", tag=token, mib=64),
                     {"tool_error": {"OSError", "SIGXFSZ"}, "crashed": {"SIGXFSZ"}})
    if outcome.label() == "OSError":
        assert "[Errno 27]" in outcome.text  # EFBIG at RLIMIT_FSIZE
    assert not Path(f"/tmp/sandgate-big-{token}").exists()


def test_etc_shadow_is_not_readable(gateway: Gateway) -> None:
    secrets = [line for line in Path("/etc/shadow").read_text().splitlines() if line.strip()]
    assert secrets, "the host /etc/shadow is empty: nothing to leak, nothing proven"
    outcome = expect(gateway.attack("read_shadow"), READ_REFUSED)
    assert not [line for line in secrets if line in outcome.text]


def test_setuid_root_then_shadow_is_still_refused(gateway: Gateway) -> None:
    secrets = [line for line in Path("/etc/shadow").read_text().splitlines() if line.strip()]
    outcome = gateway.attack("setuid_root")
    expect(outcome, {"tool_error": {"PermissionError", "FileNotFoundError", "OSError"}})
    assert not [line for line in secrets if line in outcome.text]


def test_host_path_known_to_the_zygote_is_not_readable(gateway: Gateway) -> None:
    """attacks.py computes the repo's .git/config path at import, in the zygote; no call reads it."""
    secret = HOST_GIT_CONFIG.read_text()
    assert "[core]" in secret
    outcome = expect(gateway.attack("read_host_file"), READ_REFUSED)
    assert "[core]" not in outcome.text


def test_host_canary_outside_the_allowed_paths_is_not_readable(gateway: Gateway, tmp_path: Path,
                                                               token: str) -> None:
    canary = tmp_path / "canary"
    canary.write_text(f"canary-{token}")
    outcome = expect(gateway.attack("read_host_file", path=str(canary)), READ_REFUSED)
    assert token not in outcome.text


def test_proc_self_mem_is_unreachable(gateway: Gateway) -> None:
    expect(gateway.attack("proc_self_mem"), READ_REFUSED)


def test_proc_root_traversal_reaches_no_host_file(gateway: Gateway) -> None:
    """/proc/<pid>/root of PID 1 and of the gateway and zygotes' host pids."""
    for pid in (1, gateway.pid, *gateway.zygotes):
        outcome = gateway.attack("proc_root_traversal", path=str(HOST_GIT_CONFIG), pid=pid)
        expect(outcome, READ_REFUSED)
        assert "[core]" not in outcome.text
