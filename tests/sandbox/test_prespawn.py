"""Children forked and contained ahead of demand: each serves exactly one call, a waiting child
that dies is replaced without failing a call, and `prespawned_children=0` keeps none."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from .harness import Gateway
from .host import children, wait_until

NO_PRESPAWN = Path(__file__).with_name("no_prespawn.py")
SETTLE_S = 5.0


def waiting_children(gateway: Gateway) -> set[int]:
    (zygote,) = gateway.zygotes
    return children(zygote)


def test_a_call_takes_a_waiting_child_and_the_reserve_is_refilled() -> None:
    gateway = Gateway().start()
    try:
        assert gateway.call("add", a=1, b=2).value == 3
        assert wait_until(lambda: len(waiting_children(gateway)) >= 2, SETTLE_S), "no children wait for calls"
        waiting = waiting_children(gateway)

        assert gateway.call("add", a=2, b=3).value == 5
        assert wait_until(lambda: bool(waiting - waiting_children(gateway)), SETTLE_S), \
            "the call did not use a waiting child"
        assert wait_until(lambda: len(waiting_children(gateway)) >= 2, SETTLE_S), "the reserve was not refilled"
        gateway.assert_survived()
    finally:
        gateway.stop()


def test_waiting_children_that_die_are_replaced_without_failing_calls() -> None:
    gateway = Gateway().start()
    try:
        assert gateway.call("add", a=1, b=2).value == 3
        assert wait_until(lambda: len(waiting_children(gateway)) >= 2, SETTLE_S)
        killed = waiting_children(gateway)
        for pid in killed:
            # The first call's own child may be listed while the zygote reaps it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # The reserve may already be refilled when we look, so only the killed pids must be gone.
        assert wait_until(lambda: not killed & waiting_children(gateway), SETTLE_S), "killed children linger"

        for a in range(5):
            outcome = gateway.call("add", a=a, b=1)
            assert not outcome.is_error, outcome.text
            assert outcome.value == a + 1
        assert wait_until(lambda: len(waiting_children(gateway) - killed) >= 2, SETTLE_S), \
            "the reserve was not refilled"
        gateway.assert_survived()
    finally:
        gateway.stop()


def test_no_children_wait_when_prespawning_is_off() -> None:
    gateway = Gateway(NO_PRESPAWN, ["--set", "prespawned_children=0"]).start()
    try:
        for a in range(3):
            assert gateway.call("add", a=a, b=1).value == a + 1
        # Children exit after their call; give the last one time to be reaped before looking.
        assert wait_until(lambda: not waiting_children(gateway), SETTLE_S), waiting_children(gateway)
        time.sleep(0.2)
        assert not waiting_children(gateway), "a child was spawned ahead of demand"
    finally:
        gateway.stop()
