"""Importing a served module is bounded: `sandgate serve` fails, naming the module, when the
import spins past --import-timeout, allocates past --import-memory, raises, crashes or starts a
thread, and never serves; whatever the import started dies with the gateway.

Each hostile module (tests/sandbox/hostile/import_*.py.tmpl) is rendered into build/ and served
by a `sandgate serve` subprocess in its own session. Modules that stay alive name themselves
(prctl PR_SET_NAME) so the host can tell that nothing of them outlives the gateway.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import REPO, Gateway
from .host import named, wait_until
from .hostile import GONE_WITHIN_S, kill_named, module_directory, render

FAILS_FAST_S = 20.0  # a refused import is reported at once, well before the default --import-timeout (30 s)
TIMEOUT_SLACK_S = 15.0
BANNER = "serving MCP at"


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str  # stdout and stderr
    stderr: str
    elapsed_s: float


def sandgate_serve(module: Path, *args: str, bound_s: float) -> Finished:
    """`sandgate serve module --port 0 [args]`, which must exit by itself within `bound_s`."""
    python = REPO / ".venv" / "bin" / "python"
    command = [str(python), "-m", "sandgate", "serve", str(module), "--host", "127.0.0.1", "--port", "0", "--set", "metrics_port=0", *args]
    began = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=bound_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)  # its own session: only the gateway we started and what it forked
        stdout, stderr = process.communicate()
        pytest.fail(f"`{' '.join(command)}` was still running after {bound_s:.0f}s; killed. Output:\n"
                    f"{(stdout + stderr).decode(errors='replace')[-4000:]}", pytrace=False)
    text = stderr.decode(errors="replace")
    return Finished(process.returncode, stdout.decode(errors="replace") + text, text, time.monotonic() - began)


def assert_refused(finished: Finished, module: Path) -> None:
    """Non-zero exit, no banner, and an error line on stderr that names the module."""
    where = f"exit {finished.returncode} after {finished.elapsed_s:.1f}s; output:\n{finished.output[-4000:]}"
    assert finished.returncode != 0, f"`sandgate serve {module.name}` succeeded; {where}"
    assert BANNER not in finished.output, f"the gateway served before the import was judged; {where}"
    errors = [line for line in finished.stderr.splitlines() if line.startswith("sandgate: error:")]
    assert any(module.name in line for line in errors), f"no `sandgate: error:` line names {module.name}; {where}"


def assert_nothing_named(marker: str) -> None:
    assert wait_until(lambda: not named(marker), GONE_WITHIN_S), \
        f"processes {named(marker)} the module started outlived `sandgate serve`"


@pytest.fixture
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    directory = module_directory(request.node.name, secrets.token_hex(4))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_an_import_that_never_finishes_is_stopped_at_the_import_timeout(workdir: Path, marker: str) -> None:
    module = render("import_spin", workdir, marker=marker, spin_s=120)
    try:
        finished = sandgate_serve(module, "--import-timeout", "3", bound_s=3 + TIMEOUT_SLACK_S)
        assert_refused(finished, module)
        assert_nothing_named(marker)  # the spinning zygote was killed, not left behind
    finally:
        kill_named(marker)


def test_an_import_that_allocates_without_bound_is_stopped_at_the_import_memory(workdir: Path, marker: str) -> None:
    module = render("import_memory", workdir, marker=marker, cap_mib=2048)
    try:
        finished = sandgate_serve(module, "--import-memory", "256Mi", bound_s=FAILS_FAST_S)
        assert_refused(finished, module)
        assert_nothing_named(marker)
    finally:
        kill_named(marker)


def test_an_import_within_its_memory_bound_serves(workdir: Path, marker: str) -> None:
    """The control for the test above: 256Mi is room for an import, only not for an unbounded one."""
    module = render("import_memory", workdir, marker=marker, cap_mib=32)
    gateway = Gateway(module, ["--import-memory", "256Mi"])
    try:
        gateway.start()
        assert gateway.call("hoarded_mib").value == 32
    finally:
        status = gateway.stop()
        kill_named(marker)
    assert status == 0, gateway.log_tail()


def test_an_import_that_raises_fails_the_serve(workdir: Path, token: str) -> None:
    module = render("import_raise", workdir, token=token)
    assert_refused(sandgate_serve(module, bound_s=FAILS_FAST_S), module)


def test_an_import_that_crashes_fails_the_serve(workdir: Path) -> None:
    module = render("import_abort", workdir)
    assert_refused(sandgate_serve(module, bound_s=FAILS_FAST_S), module)


def test_an_import_that_starts_a_thread_fails_the_serve(workdir: Path, marker: str) -> None:
    """A zygote forks per call, and forking a threaded process copies locks no thread will release."""
    module = render("import_thread", workdir, marker=marker)
    try:
        assert_refused(sandgate_serve(module, bound_s=FAILS_FAST_S), module)
        assert_nothing_named(marker)  # the sleeping thread kept no zygote alive
    finally:
        kill_named(marker)


def test_a_daemon_forked_at_import_dies_with_the_gateway(workdir: Path, marker: str) -> None:
    """fork, setsid, fork, close every fd: the daemon leaves the import's process group and its
    descriptors, but not the zygote's PID namespace, which ends with the gateway."""
    module = render("import_daemon", workdir, marker=marker, linger_s=0.5)
    seen: list[int] = []
    stop_sampling = threading.Event()

    def sample() -> None:  # from before the gateway starts: the daemon may be gone once it serves
        deadline = time.monotonic() + 120
        while not stop_sampling.is_set() and time.monotonic() < deadline:
            seen.append(len(named(marker)))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    gateway = Gateway(module)
    try:
        gateway.start()
        gateway.assert_serving()
        stop_sampling.set()
        sampler.join(5)
        assert max(seen, default=0) >= 1, "the daemon was never seen on the host: the attack did not run"
        status = gateway.stop()
        assert status == 0, f"the gateway exited with {status} after SIGTERM\n{gateway.log_tail()}"
        assert_nothing_named(marker)
    finally:
        stop_sampling.set()
        gateway.stop()
        kill_named(marker)
