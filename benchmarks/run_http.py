"""HTTP throughput: wrk + benchmarks/wrk/mcp_call.lua against each server, both eras.

    .venv/bin/python benchmarks/run_http.py [--duration 10] [--threads 2]
        [--connections 32] [--runs 3] [--servers sandgate,fastmcp,...] [--no-pin]
        [--calibrate]

Writes the `<!-- http:begin -->` section of benchmarks/RESULTS.md.
Exit status 1 if any run saw an error (bad status, wrong sum, socket error).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

import common
from common import ALL_SERVERS, BENCH, median

LUA = BENCH / "wrk" / "mcp_call.lua"
ERAS = ("modern", "legacy")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Run:
    rps: float
    p50: float  # ms
    p99: float  # ms
    errors: int
    rss: int  # bytes
    wrk_cpu: float  # share of one core
    server_cpu: float
    first_bad: str = ""


def parse_wrk(out: str) -> tuple[float, float, float, int, str]:
    """requests/s, p50 ms, p99 ms, error count, first bad answer."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {m[0]: float(m[1]) * UNITS[m[2]]
           for m in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)}
    check = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", re.search(r"^MCPCHECK .*$", out, re.M).group(0)))
    errors = sum(v for k, v in check.items() if k != "ok") + (check["ok"] == 0)
    bad = re.search(r"^MCPFIRSTBAD (.*)$", out, re.M)
    return rps, pct["50"], pct["99"], errors, bad.group(1) if bad else ""


def wrk(url: str, era: str, sid: str | None, args, seconds: float) -> tuple[str, float]:
    """Run wrk; returns its output and the CPU seconds it used."""
    cmd = common.pinned(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
                         "--latency", "-s", str(LUA), url, "--", era, sid or ""], args.wrk_cpus)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0 or "MCPCHECK" not in out.stdout:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout[-500:]}")
    return out.stdout, cpu


def measure(proc, url: str, era: str, sid: str | None, args) -> Run:
    cpu0 = common.cpu_seconds(proc.pid)
    t0 = time.monotonic()
    out, wrk_cpu = wrk(url, era, sid, args, args.duration)
    wall = time.monotonic() - t0
    rss = common.rss_bytes(proc.pid)
    server_cpu = (common.cpu_seconds(proc.pid) - cpu0) / wall
    rps, p50, p99, errors, bad = parse_wrk(out)
    return Run(rps, p50, p99, errors, rss, wrk_cpu / wall, server_cpu, bad)


def bench_server(name: str, args) -> dict[str, list[Run] | str]:
    """All eras for one server: {era: [runs]} or {era: "n/a" / "pending"}."""
    server = ALL_SERVERS[name]
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        proc = common.start_http_server(server, port, args.server_cpus)
    except common.ServerDown as exc:
        print(f"[{name}] not runnable: {exc}")
        return {era: "pending" for era in ERAS}
    results: dict[str, list[Run] | str] = {}
    try:
        with httpx.Client(timeout=10) as client:
            for era in ERAS:
                sid = None
                if era == "modern" and not common.speaks_modern(client, url):
                    print(f"[{name}] does not answer {common.MODERN} stateless requests: n/a")
                    results[era] = "n/a"
                    continue
                if era == "legacy":
                    sid = common.open_legacy_session(client, url)
                wrk(url, era, sid, args, args.warmup)
                runs = [measure(proc, url, era, sid, args) for _ in range(args.runs)]
                for r in runs:
                    print(f"[{name}/{era}] {r.rps:,.0f} calls/s p50 {r.p50:.2f} ms p99 {r.p99:.2f} ms "
                          f"RSS {r.rss / 2**20:.1f} MiB errors {r.errors} "
                          f"(wrk CPU {r.wrk_cpu:.0%}, server CPU {r.server_cpu:.0%}) {r.first_bad}")
                results[era] = runs
    finally:
        common.stop(proc)
    return results


def fmt_row(name: str, era: str, res) -> str:
    if isinstance(res, str):
        return f"| {name} | {era} | {res} | | | | |"
    errors = sum(r.errors for r in res)
    rps = "failed" if errors else f"{median([r.rps for r in res]):,.0f}"
    return (f"| {name} | {era} | {rps} | {median([r.p50 for r in res]):.2f} | "
            f"{median([r.p99 for r in res]):.2f} | {median([r.rss for r in res]) / 2**20:.1f} | {errors} |")


def ratio_lines(all_res) -> list[str]:
    lines = []
    for era in ERAS:
        sg, fm = all_res.get("sandgate", {}).get(era), all_res.get("fastmcp", {}).get(era)
        if isinstance(sg, list) and isinstance(fm, list):
            value = f"{median([r.rps for r in sg]) / median([r.rps for r in fm]):.1f}x"
        else:
            value = "pending"
        lines.append(f"- Sandgate / fastmcp calls/s, {era}: **{value}**")
    return lines


def cpu_lines(all_res) -> list[str]:
    lines = []
    for name, by_era in all_res.items():
        for era, res in by_era.items():
            if isinstance(res, list):
                lines.append(f"| {name} | {era} | {median([r.wrk_cpu for r in res]):.0%} | "
                             f"{median([r.server_cpu for r in res]):.0%} |")
    return lines


def calibrate(args) -> dict[str, Run]:
    """wrk's own ceiling: same script against a near-free C endpoint
    (JSON answers for the modern era, SSE for legacy, as the peers do)."""
    tmp = Path(tempfile.mkdtemp(prefix="static_add-"))
    binary = tmp / "static_add"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(BENCH / "wrk" / "static_add.c")], check=True)
    ceiling = {}
    for era, mode in (("modern", "json"), ("legacy", "sse")):
        server = common.Server(f"static-{mode}", [str(binary), "{port}", mode], [])
        port = common.free_port()
        url = f"http://127.0.0.1:{port}/mcp"
        proc = common.start_http_server(server, port, args.server_cpus)
        try:
            wrk(url, era, "static", args, args.warmup)
            runs = sorted((measure(proc, url, era, "static", args) for _ in range(args.runs)), key=lambda r: r.rps)
            ceiling[era] = runs[len(runs) // 2]  # the median run
        finally:
            common.stop(proc)
        print(f"[wrk ceiling/{era}] {ceiling[era].rps:,.0f} calls/s, wrk CPU {ceiling[era].wrk_cpu:.0%}")
    shutil.rmtree(tmp)
    return ceiling


def render(all_res, ceiling, args) -> str:
    pin = (f"server pinned to CPU {args.server_cpus}, wrk to CPU {args.wrk_cpus} (`taskset -c`)"
           if args.server_cpus else "no CPU pinning")
    out = ["## HTTP: `tools/call add` over Streamable HTTP", "",
           f"{common.machine_line()}, loopback. wrk {args.threads} threads, {args.connections} connections, "
           f"{args.duration:g} s per run after a {args.warmup:g} s warm-up; median of {args.runs} run(s); {pin}.",
           "", "| server | era | calls/s | p50 ms | p99 ms | RSS MiB | errors |",
           "|---|---|---:|---:|---:|---:|---:|"]
    out += [fmt_row(name, era, res) for name, by_era in all_res.items() for era, res in by_era.items()]
    out += ["", *ratio_lines(all_res), "",
            "Is wrk the bottleneck? CPU used during the measured runs, as a share of one core "
            "(wrk includes the Lua check of every answer). A server near 100 % with wrk far below "
            "it is server-bound.", "",
            "| server | era | wrk CPU | server CPU |", "|---|---|---:|---:|", *cpu_lines(all_res)]
    if ceiling:
        out += ["", "wrk's own ceiling (`--calibrate`: wrk + the same Lua check against `wrk/static_add.c`, "
                "a near-free C endpoint on the server core; median run): "
                + ", ".join(f"{era} {r.rps:,.0f} calls/s (wrk CPU {r.wrk_cpu:.0%}, endpoint CPU "
                            f"{r.server_cpu:.0%})" for era, r in ceiling.items())
                + ". Rows approaching this rate are limited by wrk, not by the server."]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(ALL_SERVERS))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--calibrate", action="store_true", help="also measure wrk's own ceiling (needs cc)")
    ap.add_argument("--policy", metavar="FILE",
                    help="the policy Sandgate serves under (default policies/open.yaml), e.g. "
                         "policies/hundred_rules.yaml")
    ap.add_argument("--section", default="http", help="the RESULTS.md section this run rewrites")
    common.add_load_options(ap)
    args = ap.parse_args()
    common.resolve_pinning(args)
    if args.policy:
        os.environ["SANDGATE_BENCH_POLICY"] = str(Path(args.policy).resolve())
    all_res = {name: bench_server(name, args) for name in args.servers.split(",")}
    ceiling = calibrate(args) if args.calibrate else {}
    text = render(all_res, ceiling, args)
    print(text)
    if not args.no_write:
        common.write_section(args.section, text)
    failed = any(isinstance(res, list) and any(r.errors for r in res)
                 for by_era in all_res.values() for res in by_era.values())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
