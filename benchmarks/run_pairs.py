"""Two builds or configurations of the in-process `add` server, measured in alternating pairs.

    .venv/bin/python benchmarks/run_pairs.py --pairs 10 \\
        --variant off=/other/worktree/.venv/bin/python:/other/worktree/benchmarks/servers/sandgate_add.py \\
        --variant on=.venv/bin/python:benchmarks/servers/sandgate_add.py:SANDGATE_BENCH_AUDIT=/tmp/audit.log

Each `--variant LABEL=PYTHON:SCRIPT[:NAME=VALUE...]` is a server (the script gets the port as its argument).
Per pair, each variant is started fresh, warmed up, then measured (modern era, wrk with the answer check);
the report gives each variant's median calls/s and server CPU per call, and the median of the per-pair ratios
of the last variant over the first: on a shared machine, a ratio inside one pair is what can be trusted.
"""

from __future__ import annotations

import argparse
import time

import common
import run_http
from common import median


def variant(text: str) -> tuple[str, common.Server]:
    label, _, spec = text.partition("=")
    python, script, *env = spec.split(":")
    extra = dict(item.split("=", 1) for item in env)
    return label, common.Server(label, [python, script, "{port}"], [], ready_text="serving MCP at", env=extra)


def measure_once(server: common.Server, args: argparse.Namespace) -> run_http.Run:
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = common.start_http_server(server, port, args.server_cpus)
    try:
        run_http.wrk(url, "modern", None, args, args.warmup)
        return run_http.measure(proc, url, "modern", None, args)
    finally:
        common.stop(proc)
        time.sleep(0.5)  # the metrics port and the CPU settle before the next server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", required=True, type=variant)
    ap.add_argument("--pairs", type=int, default=10)
    common.add_load_options(ap)
    args = ap.parse_args()
    common.resolve_pinning(args)
    variants = args.variant
    runs: dict[str, list[run_http.Run]] = {label: [] for label, _ in variants}
    for pair in range(args.pairs):
        order = variants if pair % 2 == 0 else list(reversed(variants))  # neither always goes first
        for label, server in order:
            run = measure_once(server, args)
            if run.errors:
                raise SystemExit(f"[{label}] {run.errors} bad answers: {run.first_bad}")
            runs[label].append(run)
            print(f"pair {pair + 1} [{label}] {run.rps:,.0f} calls/s, server CPU {run.server_cpu:.0%} "
                  f"= {run.server_cpu / run.rps * 1e6:.1f} us/call", flush=True)
    first, last = variants[0][0], variants[-1][0]
    for label, measured in runs.items():
        print(f"{label}: median {median([r.rps for r in measured]):,.0f} calls/s, "
              f"{median([r.server_cpu / r.rps * 1e6 for r in measured]):.1f} us CPU/call")
    ratios = [b.rps / a.rps for a, b in zip(runs[first], runs[last])]
    cpu = [(b.server_cpu / b.rps) / (a.server_cpu / a.rps) for a, b in zip(runs[first], runs[last])]
    print(f"{last}/{first} per-pair calls/s ratio: median {median(ratios):.3f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}); CPU per call ratio: median {median(cpu):.3f} "
          f"(range {min(cpu):.2f}-{max(cpu):.2f}); {args.pairs} pairs")


if __name__ == "__main__":
    main()
