"""Resource exhaustion: every limit stops the call with its own reason, on time, and the gateway
keeps serving other calls meanwhile. Server limits: wall 5 s, cpu 2 s, memory 256 Mi, output
1 Mi, 64 files; the tools below override some of them (see attacks.py)."""

from __future__ import annotations

import time

from .harness import Gateway, Watch, expect

MIB = 1 << 20
KILL_SLACK_S = 2.0  # from the limit to the result reaching the test


def test_memory_bomb_stops_at_the_memory_limit(gateway: Gateway) -> None:
    expect(gateway.attack("memory_bomb", target_mib=2048), {"memory": None})


def test_cpu_spin_is_killed_at_wall_time(gateway: Gateway) -> None:
    outcome = expect(gateway.attack("cpu_spin"), {"timeout": None})
    assert outcome.elapsed_s < 1 + KILL_SLACK_S


def test_sleeping_call_is_killed_at_wall_time(gateway: Gateway) -> None:
    outcome = expect(gateway.attack("sleep_forever"), {"timeout": None})
    assert outcome.elapsed_s < 1 + KILL_SLACK_S


def test_cpu_burn_is_stopped_by_cpu_time_before_wall_time(gateway: Gateway) -> None:
    # wall_time=30 s would report `timeout`: the reason alone shows which limit acted (a CPU-starved run takes longer).
    expect(gateway.attack("cpu_burn"), {"cpu_time": None})


def test_gateway_answers_while_a_call_spins(gateway: Gateway) -> None:
    spinning = Watch(lambda: gateway.call("cpu_spin"))
    time.sleep(0.2)
    began = time.monotonic()
    gateway.assert_serving()
    assert spinning.running, "the spinning call ended before the check: nothing was proven"
    assert time.monotonic() - began < 0.5
    expect(spinning.result(), {"timeout": None})


def test_endless_output_is_cut_at_the_output_cap(gateway: Gateway) -> None:
    outcome = expect(gateway.attack("endless_output", mib=100), {"output_too_large": None})
    assert len(outcome.text) < MIB


def test_flood_of_stdout_and_stderr_never_reaches_the_gateway_log(gateway: Gateway) -> None:
    before = gateway.output_bytes
    outcome = gateway.attack("stdout_flood", mib=64)
    expect(outcome, {"ok": None, "output_too_large": None, "timeout": None,
                     "tool_error": {"BrokenPipeError", "OSError"}})
    assert gateway.output_bytes - before < MIB, "the flood reached the gateway's stdout/stderr"


def test_thousands_of_descriptors_stop_at_the_file_limit(gateway: Gateway) -> None:
    outcome = expect(gateway.attack("fd_exhaustion", count=100_000), {"tool_error": {"OSError"}})
    assert "[Errno 24]" in outcome.text  # EMFILE at max_open_files=64
