"""Reload under load: callers never pause while the policy file is swapped, by rename and by symlink, between two
valid versions and invalid ones, with SIGHUP or left to the file watch.

Every call gets an answer, and each answer is one a valid version could give: ADDS runs `add` and hides
`multiply`, MULTIPLIES runs `multiply` and refuses `add`'s arguments, and every invalid version would let anyone
call `reverse_words`, which neither valid one does. So a single `reverse_words` result would mean an invalid file
served.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandgate.policy import PolicyError
from sandgate.policy.decisions import Caller
from sandgate.policy.reload import PolicyFile
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import LEGACY_REVISIONS, LegacySession, ModernWire
from tests.sandbox.host import wait_until

TOOLS = REPO / "examples" / "tools.py"
HEAD = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: {name}}}
spec:
  defaults: {{rateLimit: open}}
  auth: {{anonymous: loopback-only}}
  rateLimits:
    open: {{key: [client], rate: 100000/s}}
  rules:
{rules}"""


def version(name: str, *rules: str) -> str:
    return HEAD.format(name=name, rules="".join(f"    - {rule}\n" for rule in rules))


ADDS = version("adds", '{id: anyone-adds, effect: allow, principals: ["*"], tools: [add]}')
MULTIPLIES = version("multiplies", '{id: anyone-multiplies, effect: allow, principals: ["*"], tools: [multiply]}',
                     '{id: zeros-only, effect: allow, principals: ["*"], tools: [add], args: {a: {max: 0}}}')
REVERSES = version("reverses", '{id: anyone-reverses, effect: allow, principals: ["*"], tools: [reverse_words]}')
# Each is REVERSES with one defect, keyed by the code its refusal is logged under.
INVALID = {
    "yaml_syntax": REVERSES + "    - {id: unclosed, effect: allow\n",
    "unknown_key": REVERSES + "  rulez: []\n",
    "duplicate_key": REVERSES.replace("spec:\n", "spec:\n  rules: []\n"),
    "bad_value": REVERSES.replace("rate: 100000/s", "rate: lots"),
    "unknown_rate_limit": REVERSES.replace("tools: [reverse_words]", "tools: [reverse_words], rateLimit: nope"),
    "test_failed": REVERSES + "  tests:\n    - {tool: reverse_words, expect: {deny: default}}\n",
}
# Each tool's arguments and what it returns: structured content, or text where it has no output schema.
CALLS: dict[str, tuple[dict[str, Any], Any]] = {
    "add": ({"a": 2, "b": 3}, {"result": 5}),
    "multiply": ({"a": 2, "b": 3}, {"result": 6.0}),
    "reverse_words": ({"text": "a b"}, "b a"),
}
ANSWERS = {ADDS: {"add ran", "multiply hidden", "reverse_words hidden"},
           MULTIPLIES: {"add refused", "multiply ran", "reverse_words hidden"}}
RELOADED = re.compile(r"policy \S+ reloaded \(sha256 ")
REFUSED = "policy reload refused, the last good policy keeps serving: "
JUDGED_WITHIN_S = 6.0  # the file watch polls every 2 s
CALLERS = 3


def outcome(tool: str, reply: httpx.Response) -> str:
    """"<tool> ran", "<tool> hidden" (answered as an unknown tool) or "<tool> refused" (its arguments), else what
    was wrong with the answer."""
    try:
        body = reply.json()
    except ValueError:
        return f"{tool}: HTTP {reply.status_code}, not JSON: {reply.text[:200]!r}"
    result, error = body.get("result"), body.get("error")
    if reply.status_code == 200 and result is not None and not result.get("isError"):
        returned = result.get("structuredContent", result["content"][0]["text"] if result.get("content") else None)
        if returned == CALLS[tool][1]:
            return f"{tool} ran"
    # 200 in the legacy era, 400 in 2026-07-28: the same as for a tool the server does not have.
    if reply.status_code in (200, 400) and error == {"code": -32602, "message": f"Unknown tool: {tool}",
                                                     "data": {"name": tool}}:
        return f"{tool} hidden"
    if reply.status_code == 403 and error == {"code": -32003, "message": "Forbidden: argument_not_allowed"}:
        return f"{tool} refused"
    return f"{tool}: HTTP {reply.status_code} {reply.text[:200]!r}"


@dataclass
class Load:
    """Callers calling without pause; each answer is counted under the swap that was current when it came."""

    url: str
    turn: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    per_turn: Counter[int] = field(default_factory=Counter)
    per_caller: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def caller(self, seed: int) -> None:
        chooser = random.Random(seed)
        try:
            with httpx.Client(timeout=10) as http:
                send = self.sender(seed, http)
                while not self.stop.is_set():
                    tool = chooser.choice(list(CALLS))
                    turn = self.turn
                    try:
                        answer = outcome(tool, send(tool, CALLS[tool][0]))
                    except httpx.HTTPError as exc:
                        answer = f"{tool}: no answer ({exc!r})"
                    with self.lock:
                        if answer.endswith((" ran", " hidden", " refused")):
                            self.outcomes[answer] += 1
                            self.per_turn[turn] += 1
                            self.per_caller[seed] += 1
                        else:
                            self.problems.append(answer)
        except Exception as exc:  # a caller that dies stops answering: the test must hear of it
            with self.lock:
                self.problems.append(f"caller {seed} died: {exc!r}")

    def sender(self, seed: int, http: httpx.Client) -> Callable[[str, dict[str, Any]], httpx.Response]:
        """Modern stateless POSTs, or (seed 0) one legacy session held across every swap."""
        if seed == 0:
            session = LegacySession(self.url, LEGACY_REVISIONS[0], http).open()
            return lambda tool, arguments: session.request("tools/call", {"name": tool, "arguments": arguments})
        wire = ModernWire(self.url, http)
        return lambda tool, arguments: wire.request("tools/call", {"name": tool, "arguments": arguments})

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.caller, args=(seed,), name=f"caller-{seed}") for seed in range(CALLERS)]
        for thread in threads:
            thread.start()
        return threads


class Swapper:
    """Puts a version in place atomically: a rename over the file, or a symlink renamed over it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.versions = path.parent / "versions"
        self.versions.mkdir()
        self.count = itertools.count()

    def rename(self, text: str) -> None:
        staged = self.path.with_suffix(".staged")
        staged.write_text(text)
        os.replace(staged, self.path)

    def symlink(self, text: str) -> None:
        target = self.versions / f"{next(self.count)}.yaml"
        target.write_text(text)
        link = self.path.with_suffix(".link")
        link.symlink_to(target)
        os.replace(link, self.path)


def log_count(server: ServerProcess, pattern: re.Pattern[str] | str) -> int:
    return len(re.findall(pattern, server.log_text()))


def call(url: str, tool: str) -> str:
    with httpx.Client(timeout=10) as http:
        return outcome(tool, ModernWire(url, http).request("tools/call", {"name": tool, "arguments": CALLS[tool][0]}))


def serves(url: str, text: str) -> bool:
    return {call(url, tool) for tool in CALLS} == ANSWERS[text]


def test_invalid_versions_are_refused_each_for_its_own_defect_and_would_otherwise_reverse(tmp_path: Path) -> None:
    """The premise of the load test: each invalid version fails to load for the defect it was written with, and
    the same file without it lets an anonymous caller reverse words."""
    path = tmp_path / "policy.yaml"
    path.write_text(REVERSES)
    loaded = PolicyFile(path).load()
    assert loaded.compiled.decide(Caller(), "reverse_words", {"text": "a b"}).allowed
    for code, text in INVALID.items():
        path.write_text(text)
        with pytest.raises(PolicyError) as raised:
            PolicyFile(path).load()
        assert [problem.code for problem in raised.value.problems] == [code]


def test_calls_are_answered_through_valid_and_invalid_swaps_and_no_invalid_version_serves(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(ADDS)
    swapper = Swapper(policy)
    # Each valid version replaces the other, each invalid one follows a valid one; the file ends invalid.
    schedule = [entry for index, (code, text) in enumerate(INVALID.items())
                for entry in (("valid", MULTIPLIES if index % 2 == 0 else ADDS), (code, text))]
    last_valid = [text for code, text in schedule if code == "valid"][-1]
    with running_server(TOOLS, ("--policy", str(policy))) as server:
        load = Load(server.url)
        threads = load.run()
        try:
            assert wait_until(lambda: load.per_turn[0] >= CALLERS, JUDGED_WITHIN_S), load.problems[:5]
            for turn, (code, text) in enumerate(schedule, start=1):
                judgement = RELOADED if code == "valid" else re.escape(f"[{code}]")
                before = log_count(server, judgement)
                (swapper.symlink if turn % 2 else swapper.rename)(text)
                load.turn = turn
                if turn % 3:  # the rest are left for the file watch to find
                    server.proc.send_signal(signal.SIGHUP)
                assert wait_until(lambda: log_count(server, judgement) > before, JUDGED_WITHIN_S), \
                    f"turn {turn} ({code}) was never judged:\n{server.log_text()}"
                if code == "valid":
                    assert wait_until(lambda: serves(server.url, text), JUDGED_WITHIN_S), f"turn {turn} never served"
                time.sleep(0.3)
            # The invalid file stays in place through another poll: the last valid version keeps serving.
            deadline = time.monotonic() + 2.5
            settled = [serves(server.url, last_valid)]
            while time.monotonic() < deadline:
                settled.append(serves(server.url, last_valid))
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(30)
        log = server.log_text()

    assert load.problems == [], load.problems[:5]
    assert set(load.outcomes) <= ANSWERS[ADDS] | ANSWERS[MULTIPLIES], load.outcomes
    assert "reverse_words ran" not in load.outcomes
    # Both versions served the load, and it never paused: every turn and every caller got answers.
    assert all(load.outcomes[answer] > 0 for answer in ANSWERS[ADDS] | ANSWERS[MULTIPLIES]), load.outcomes
    assert all(load.per_turn[turn] > 0 for turn in range(len(schedule) + 1)), load.per_turn
    assert all(load.per_caller[seed] > 0 for seed in range(CALLERS)), load.per_caller
    assert len(settled) > 3 and all(settled), settled
    refused = {line.rpartition("[")[2].rstrip("]") for line in log.splitlines() if REFUSED in line}
    assert refused == set(INVALID), log
