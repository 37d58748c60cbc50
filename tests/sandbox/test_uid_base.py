"""As root (how the suite runs), each concurrent call runs as call_uid_base + slot: the base is a setting, so two
gateways on one machine need not share uids (and with them RLIMIT_NPROC counts)."""

from __future__ import annotations

from pathlib import Path

from sandgate import _sandbox

from . import uid_base
from .harness import Gateway


def test_calls_run_in_the_configured_uid_range() -> None:
    gateway = Gateway(Path(uid_base.__file__)).start()
    try:
        for _ in range(3):
            outcome = gateway.call("ids")
            assert not outcome.is_error, outcome.text
            uid, gid = outcome.value
            assert uid_base.CALL_UID_BASE <= uid < uid_base.CALL_UID_BASE + _sandbox.CALL_UID_SLOTS, uid
            assert gid == uid
    finally:
        gateway.stop()
