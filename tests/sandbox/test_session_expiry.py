"""A legacy session that expires takes its per_session worker with it."""

from __future__ import annotations

from pathlib import Path

from .harness import Gateway
from .host import named, wait_until

EXPIRING = Path(__file__).resolve().parent / "expiring.py"
IDLE_TIMEOUT_S = 1.0


def test_expired_session_worker_is_killed(marker: str) -> None:
    gateway = Gateway(EXPIRING).start()
    try:
        session = gateway.session()
        outcome = gateway.session_call(session, "linger", marker=marker)
        assert outcome.reason == "ok" and outcome.value == "named", outcome.text
        assert named(marker), "the session's worker should outlive the call"
        # Still alive well inside the idle timeout, gone soon after it (sweeps run every 0.5 s).
        assert not wait_until(lambda: not named(marker), IDLE_TIMEOUT_S / 4)
        assert wait_until(lambda: not named(marker), IDLE_TIMEOUT_S * 4), "the worker outlived its session"
        assert session.request("ping").status_code == 404
    finally:
        assert gateway.stop() == 0
