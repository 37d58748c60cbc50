"""Reload under load: calls run without pause while the policy file is swapped between two valid versions and
several invalid ones. No call is lost (every request gets a well-formed answer) and no answer ever comes
from an invalid version (each would let anyone call reverse_words; neither valid version does)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.integration.server_process import REPO, running_server
from tests.integration.wire import ModernWire
from tests.sandbox.host import wait_until

HEAD = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: {name}}}
spec:
  defaults: {{rateLimit: open}}
  auth: {{anonymous: loopback-only}}
  rateLimits:
    open: {{key: [client], rate: 100000/s}}
  rules:
    - {{id: only, effect: allow, principals: ["*"], tools: [{tool}]}}
"""
ADDS = HEAD.format(name="adds", tool="add")
MULTIPLIES = HEAD.format(name="multiplies", tool="multiply")
REVERSES = HEAD.format(name="reverses", tool="reverse_words")
INVALID = {
    "yaml syntax": REVERSES + "  oops: [\n",
    "unknown key": REVERSES.replace("  rules:", "  rulez: []\n  rules:"),
    "failing test": REVERSES + "  tests:\n    - {tool: reverse_words, expect: {deny: default}}\n",
    "unknown principal": REVERSES.replace('principals: ["*"]', "principals: [nobody]"),
}
CALLS = {"add": {"a": 2, "b": 3}, "multiply": {"a": 2, "b": 3}, "reverse_words": {"text": "a b"}}
DURATION_S = 10.0


def swap_in(path: Path, text: str) -> None:
    """Atomically, as a deployment would: write beside it, then rename over it."""
    staged = path.with_suffix(".staged")
    staged.write_text(text)
    os.replace(staged, path)


def test_calls_continue_through_valid_and_invalid_swaps(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(ADDS)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    with running_server(REPO / "examples" / "tools.py", ["--policy", str(policy)]) as server:
        def caller(seed: int) -> None:
            chooser = random.Random(seed)
            wire = ModernWire(server.url, httpx.Client(timeout=30))
            try:
                while not stop.is_set():
                    tool = chooser.choice(list(CALLS))
                    try:
                        reply = wire.request("tools/call", {"name": tool, "arguments": CALLS[tool]})
                        body = reply.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        with lock:
                            problems.append(f"{tool}: no answer ({exc!r})")
                        continue
                    if reply.status_code == 200 and "result" in body and not body["result"].get("isError"):
                        outcome = f"{tool} allowed"
                    elif body.get("error", {}).get("message") == f"Unknown tool: {tool}":  # 400 in the modern era
                        outcome = f"{tool} hidden"
                    else:
                        outcome = f"{tool} unexpected {reply.status_code} {reply.text[:200]}"
                    with lock:
                        outcomes[outcome] += 1
            finally:
                wire.close()

        threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + DURATION_S
            versions = [(MULTIPLIES, 0.6), *((text, 0.2) for text in INVALID.values()), (ADDS, 0.6)]
            turn = 0
            while time.monotonic() < deadline:
                text, hold_s = versions[turn % len(versions)]
                swap_in(policy, text)
                if turn % 3 != 2:  # most swaps are signalled; the rest are found by the file watch
                    server.proc.send_signal(signal.SIGHUP)
                turn += 1
                time.sleep(hold_s)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)

        swap_in(policy, MULTIPLIES)
        server.proc.send_signal(signal.SIGHUP)
        wire = ModernWire(server.url, httpx.Client(timeout=30))
        try:
            def serves_multiplies() -> bool:
                reply = wire.request("tools/call", {"name": "multiply", "arguments": CALLS["multiply"]}).json()
                return "result" in reply
            assert wait_until(serves_multiplies, 15), "the last valid version never served"
            assert wire.request("tools/call", {"name": "add", "arguments": CALLS["add"]}).json()["error"]["message"] \
                == "Unknown tool: add"
        finally:
            wire.close()
        log = server.log_text()

    assert problems == [], problems[:5]
    unexpected = {outcome: count for outcome, count in outcomes.items() if "unexpected" in outcome}
    assert unexpected == {}, unexpected
    assert outcomes["reverse_words allowed"] == 0, "an invalid version served"
    # Both valid versions served calls during the run, and the invalid ones were refused and said so.
    assert outcomes["add allowed"] > 0 and outcomes["multiply allowed"] > 0, outcomes
    assert sum(outcomes.values()) > 100, outcomes
    assert "policy reload refused, the last good policy keeps serving" in log
