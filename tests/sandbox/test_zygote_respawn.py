"""Losing the zygote fails its in-flight calls with `sandbox_unavailable`; the gateway keeps
serving, starts a new zygote with backoff, and sandboxed calls work again."""

from __future__ import annotations

import os
import signal
import time

from .harness import Gateway, Watch
from .host import children, named, wait_until

RESPAWN_TIMEOUT_S = 15.0


def test_zygote_death_fails_in_flight_calls_and_a_new_zygote_takes_over(marker: str) -> None:
    gateway = Gateway().start()
    try:
        (zygote,) = gateway.zygotes
        napping = Watch(lambda: gateway.call("nap", marker=marker, seconds=5))
        assert wait_until(lambda: bool(named(marker)), 5), "the victim call never started"
        os.kill(zygote, signal.SIGKILL)

        outcome = napping.result()
        assert outcome.is_error and outcome.reason == "sandbox_unavailable", outcome.text
        assert wait_until(lambda: not named(marker), 2), "the call outlived its zygote"
        assert gateway.healthz() == 200

        deadline = time.monotonic() + RESPAWN_TIMEOUT_S
        while True:
            result = gateway.call("add", a=2, b=3)
            if not result.is_error:
                break
            assert result.reason == "sandbox_unavailable", result.text
            assert time.monotonic() < deadline, "no new zygote took over"
            time.sleep(0.1)
        assert result.value == 5
        replacement = children(gateway.pid)
        assert replacement and zygote not in replacement
    finally:
        assert gateway.stop() == 0


def test_readyz_is_503_while_the_zygote_is_down_and_200_once_a_new_one_serves() -> None:
    gateway = Gateway().start()
    try:
        assert gateway.healthz("/readyz") == 200
        (zygote,) = gateway.zygotes
        os.kill(zygote, signal.SIGKILL)
        # The restart waits its backoff (0.1 s at least) before starting a zygote: a window polling sees.
        assert wait_until(lambda: gateway.healthz("/readyz") == 503, 5, interval=0.005), "/readyz never said not ready"
        assert gateway.healthz() == 200  # alive all along
        assert wait_until(lambda: gateway.healthz("/readyz") == 200, RESPAWN_TIMEOUT_S), "never ready again"
        assert gateway.call("add", a=2, b=3).value == 5
    finally:
        assert gateway.stop() == 0
