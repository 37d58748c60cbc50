"""A legacy session that expires takes its per_session worker with it, and per_session workers
are bounded: past the bound, a new session's calls run per call."""

from __future__ import annotations

from pathlib import Path

from .harness import Gateway
from .host import named, wait_until

EXPIRING = Path(__file__).resolve().parent / "expiring.py"
IDLE_TIMEOUT_S = 1.0
# Sessions expire after one idle second and at most one per_session worker lives: the operator's word.
OPERATOR_SETTINGS = ["--set", f"session_idle_timeout_s={IDLE_TIMEOUT_S}", "--set", "max_session_workers=1"]


def test_expired_session_worker_is_killed(marker: str) -> None:
    gateway = Gateway(EXPIRING, OPERATOR_SETTINGS).start()
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


def test_sessions_beyond_the_worker_bound_run_per_call(marker: str) -> None:
    gateway = Gateway(EXPIRING, OPERATOR_SETTINGS).start()
    try:
        first, second = gateway.session(), gateway.session()
        held = f"{marker[:-1]}a"
        assert gateway.session_call(first, "linger", marker=held).value == "named"
        assert named(held), "the first session keeps its worker"
        outcome = gateway.session_call(second, "linger", marker=marker)
        assert outcome.reason == "ok" and outcome.value == "named", outcome.text
        assert wait_until(lambda: not named(marker), 2), "the second session got a worker past the bound"
    finally:
        assert gateway.stop() == 0
