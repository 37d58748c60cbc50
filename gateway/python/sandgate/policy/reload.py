"""A served policy file and its reloads: parse, check, compile and run its tests, then swap; never serve a bad file.

The file is watched by what it resolves to (a symlink swap counts) and by its content's hash, so an editor's
rename-over, a `kubectl` ConfigMap update and a `touch` without change each do the right thing. An invalid
file keeps the last good policy, its errors are logged once per distinct content, and every outcome is counted.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sandgate.policy.check import check_policy_text
from sandgate.policy.decisions import CompiledPolicy
from sandgate.policy.problems import PolicyError, Problem
from sandgate.policy.testing import companion_files, run_tests

logger = logging.getLogger("sandgate.policy")


@dataclass(frozen=True)
class Loaded:
    compiled: CompiledPolicy
    sha256: str  # of the file's bytes: the revision operators see in metrics and the audit log


@dataclass
class ReloadCounts:
    succeeded: int = 0
    failed: int = 0
    unchanged: int = 0


@dataclass
class PolicyFile:
    """The operator's policy file. `load()` at start raises PolicyError; `reload()` later never does."""

    path: Path
    on_swap: Callable[[Loaded], None] = field(default=lambda loaded: None)
    watched: bool = field(default=True, kw_only=True)  # polled and reloaded on SIGHUP; the embedded default is not
    # What the running server cannot serve without a restart (a sandbox it did not start, more memory than its
    # sandbox may grant): such a version is refused like an invalid one.
    vet: Callable[[Loaded], list[Problem]] = field(default=lambda loaded: [], kw_only=True)
    on_refused: Callable[[list[Problem]], None] = field(default=lambda problems: None, kw_only=True)
    counts: ReloadCounts = field(default_factory=ReloadCounts)
    current: Loaded | None = None
    _seen: str | None = None  # sha256 of the content last read, good or bad: each content is judged once
    # SIGHUP reloads on the event loop while the poll reloads on an executor thread: one at a time, so an older
    # read never lands after a newer one.
    _reloading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def embedded_default(cls) -> PolicyFile:
        """The policy served when the operator gives none (`sandgate policy show-default`), never reloaded."""
        policy = cls(Path(str(resources.files("sandgate.policy").joinpath("default.yaml"))), watched=False)
        policy.load()
        return policy

    def load(self) -> Loaded:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise PolicyError([Problem(str(self.path), 0, 0, "unreadable", f"cannot read the file: {exc}")]) from None
        loaded = self._read(data)
        self._install(loaded)
        return loaded

    def reload(self) -> bool:
        """Swap in the file's current content if it changed and is good; True when a new policy serves."""
        with self._reloading:
            return self._reload()

    def _reload(self) -> bool:
        try:
            data = self.path.read_bytes()  # follows a swapped symlink to whatever it names now
        except OSError as exc:
            return self._failed("unreadable", [Problem(str(self.path), 0, 0, "unreadable", f"cannot read the file: {exc}")])
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._seen:
            self.counts.unchanged += 1
            return False
        try:
            loaded = self._read(data)
        except PolicyError as exc:
            return self._failed(digest, exc.problems)
        if problems := self.vet(loaded):
            return self._failed(digest, problems)
        self._install(loaded)
        self.counts.succeeded += 1
        logger.info("policy %s reloaded (sha256 %s)", self.path, digest[:12])
        return True

    def _read(self, data: bytes) -> Loaded:
        digest = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError([Problem(str(self.path), 0, 0, "unreadable", f"not UTF-8: {exc}")]) from None
        compiled = CompiledPolicy(check_policy_text(text, str(self.path)))
        report = run_tests(compiled, companion_files(self.path))
        if report.failed:
            raise PolicyError([Problem(outcome.file, outcome.line, 1, "test_failed",
                                       f"test {outcome.name!r} expected {outcome.expected}, got "
                                       f"{'allow' if outcome.got.allowed else 'deny'} {outcome.got.rule}")
                               for outcome in report.outcomes if not outcome.passed])
        return Loaded(compiled, digest)

    def _install(self, loaded: Loaded) -> None:
        self._seen = loaded.sha256
        self.current = loaded
        self.on_swap(loaded)

    def _failed(self, key: str, problems: list[Problem]) -> bool:
        """`key`: the bad content's hash, or "unreadable"; each is logged once, however often it is polled."""
        self.counts.failed += 1
        self.on_refused(problems)
        if key != self._seen:
            self._seen = key
            for problem in problems:
                logger.error("policy reload refused, the last good policy keeps serving: %s", problem)
        return False

