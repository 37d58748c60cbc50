"""What a call is confined in, and what survives it: nothing of a per_call call (globals, /tmp,
descriptors of the gateway), everything of a per_session call within its own session only."""

from __future__ import annotations

from pathlib import Path

from integration.wire import LegacySession

from .harness import Gateway, Watch, expect, syscall
from .host import named, namespace, status, wait_until

MIB = 1 << 20
INET_FAMILIES = {"AF_INET", "AF_INET6", 2, 10}


def test_per_session_state_is_shared_within_a_session_only(gateway: Gateway, token: str) -> None:
    first, second = gateway.session(), gateway.session()

    def remember(session: LegacySession, value: str) -> str:
        return expect(gateway.session_call(session, "remember", value=value), {"ok": None}).value

    try:
        assert remember(first, f"a1-{token}") == ""
        assert remember(first, f"a2-{token}") == f"a1-{token}"
        assert remember(second, f"b1-{token}") == ""
        assert remember(first, f"a3-{token}") == f"a2-{token}"
        assert remember(second, f"b2-{token}") == f"b1-{token}"
    finally:
        first.close()
        second.close()


def test_session_worker_ends_with_its_session(gateway: Gateway, marker: str) -> None:
    session = gateway.session()
    try:
        expect(gateway.session_call(session, "mark_session_worker", marker=marker), {"ok": None})
        assert wait_until(lambda: bool(named(marker)), 1.0), "the session's worker is not on the host"
        assert session.delete().status_code == 200
        assert wait_until(lambda: not named(marker), 2.0), f"worker {named(marker)} outlived its session"
    finally:
        session.close()
    gateway.assert_serving()


def test_per_session_violation_is_named_and_the_session_goes_on(gateway: Gateway) -> None:
    session = gateway.session()
    try:
        expect(gateway.session_call(session, "session_keyctl"), {"seccomp": syscall("keyctl")})
        expect(gateway.session_call(session, "remember", value="after"), {"ok": None})
    finally:
        session.close()
