"""Sandboxed execution: limits, isolation modes, and the outcomes a stopped call reports."""

from sandgate.sandbox.limits import DEFAULT_SANDBOX, Isolation, Sandbox, parse_size
from sandgate.sandbox.outcome import SANDBOX_META_KEY, Reason

__all__ = ["DEFAULT_SANDBOX", "SANDBOX_META_KEY", "Isolation", "Reason", "Sandbox", "parse_size"]
