"""Cost of isolation: the same `add` tool in-process, sandboxed by Sandgate, under bubblewrap, in a fresh python.

    .venv/bin/python benchmarks/run_sandbox.py [--calls 1000] [--proc-calls 300] [--duration 10]
        [--proc-duration 10] [--runs 1] [--variants none,per_call,per_session,bwrap,python] [--no-pin] [--no-write]

Sandgate variants: one call at a time on one keep-alive connection, then wrk (`wrk/mcp_call.lua`);
subprocess variants: one interpreter per call, one at a time, then 2 parallel workers.
Writes the `<!-- sandbox:begin -->` section of RESULTS.md; exit status 1 if any call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

import common
import run_http
from common import PY, SERVERS, percentile

ERAS = {"none": ("modern", "legacy"), "per_call": ("modern", "legacy"), "per_session": ("legacy",)}
LABELS = {"none": "in-process (`isolation=\"none\"`)", "per_call": "per_call (default `@server.tool`)",
          "per_session": "per_session", "bwrap": "bubblewrap per call", "python": "fresh python per call"}
ADD = "def add(a: int, b: int) -> int:\n    return a + b\n\nprint(add(2, 3))"
SANDBOX_META = "io.sandgate/sandbox"
PROC_WARMUP = 10


@dataclass
class Row:
    variant: str
    era: str
    lat: list[float] = field(default_factory=list)  # ms, one call at a time
    rps: float | None = None
    errors: int = 0
    note: str = ""  # first bad answer, or why the variant did not run
    pending: bool = False  # the server did not start
    load: run_http.Run | None = None  # wrk under load (Sandgate variants)

    def p(self, q: int) -> float:
        return percentile(self.lat, q)


def what_is_wrong(status: int, answer: dict, want: int) -> str:
    """'' for the right sum; else a short description (with the sandbox's reason, if any)."""
    result = answer.get("result") or {}
    if status != 200 or "error" in answer:
        return f"HTTP {status} {json.dumps(answer.get('error'))[:200]}"
    if result.get("isError"):
        reason = (result.get("_meta") or {}).get(SANDBOX_META, {}).get("reason")
        return f"isError, sandbox reason={reason}: {(result.get('content') or [{}])[0].get('text', '')[:200]}"
    got = (result.get("structuredContent") or {}).get("result")
    return "" if got == want else f"wrong sum {got!r} != {want}"


def timed(row: Row, call, warmup: int, n: int) -> Row:
    """`call(i)` -> '' or what went wrong; times n calls after `warmup` (a broken variant is not timed)."""
    for i in range(warmup + n):
        t0 = time.perf_counter()
        try:
            bad = call(i)
        except (OSError, ValueError, KeyError) as exc:  # a dropped connection, a garbled answer
            bad = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - t0) * 1e3
        row.errors, row.note = row.errors + bool(bad), row.note or bad
        if bad and i < warmup:
            break
        if i >= warmup:
            row.lat.append(elapsed)
    return row


def sequential_http(port: int, era: str, sid: str | None, args) -> Row:
    headers = {"MCP-Protocol-Version": common.MODERN if era == "modern" else common.LEGACY}
    if era == "modern":
        headers.update({"Mcp-Method": "tools/call", "Mcp-Name": "add"})
    elif sid:
        headers["Mcp-Session-Id"] = sid
    meta = {"_meta": common.MODERN_META} if era == "modern" else {}
    bodies = [json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                          "params": {"name": "add", "arguments": {"a": i, "b": 7}, **meta}}).encode()
              for i in range(args.warmup_calls + args.calls)]
    conn, saved = common.RawHttp(port, headers), os.sched_getaffinity(0)
    if args.wrk_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.wrk_cpus.split(",")})
    try:
        return timed(Row("", era), lambda i: what_is_wrong(*conn.post(bodies[i]), i + 7),
                     args.warmup_calls, args.calls)
    finally:
        os.sched_setaffinity(0, saved)
        conn.close()


def bench_sandgate(isolation: str, args) -> list[Row]:
    # per_call is hosted as any module is (the gateway never imports it); the other modes are the
    # operator's choice, read from the environment by a gateway that imports the module (--trust).
    trust = [] if isolation == "per_call" else ["--trust"]
    server = common.Server(f"sandgate-{isolation}", [PY, "-m", "sandgate", "serve",
                           str(SERVERS / "sandgate_isolation.py"), "--port", "{port}", *trust,
                           "--policy", str(common.POLICIES / "open.yaml")], [],
                           ready_text="serving MCP at", env={"SANDGATE_BENCH_ISOLATION": isolation})
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        proc = common.start_http_server(server, port, args.server_cpus)
    except common.ServerDown as exc:
        print(f"[{isolation}] not runnable: {exc}")
        return [Row(isolation, era, note=f"server did not start: {exc}", pending=True)
                for era in ERAS[isolation]]
    rows = []
    try:
        with httpx.Client(timeout=60) as client:
            for era in ERAS[isolation]:
                sid = common.open_legacy_session(client, url) if era == "legacy" else None
                row = sequential_http(port, era, sid, args)
                row.variant = isolation
                if row.lat and not row.errors:
                    run_http.wrk(url, era, sid, args, args.warmup)
                    row.load = run_http.measure(proc, url, era, sid, args)
                    row.rps, row.errors = row.load.rps, row.load.errors
                    row.note = row.note or row.load.first_bad
                show(row)
                rows.append(row)
    finally:
        common.stop(proc)
    return rows


def bwrap_argv(python: str) -> list[str]:
    wanted = dict.fromkeys(["/usr", "/lib", "/lib64", sys.base_prefix, sys.prefix])  # prefix: the venv
    paths = [p for p in wanted if os.path.exists(p)]
    return ["bwrap", "--unshare-all", "--die-with-parent", *(a for p in paths for a in ("--ro-bind", p, p)),
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", python, "-c", ADD]


def one_process(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or out.stdout.strip() != "5":
        return f"exit {out.returncode}, stdout {out.stdout.strip()[:80]!r}, stderr {out.stderr.strip()[-200:]!r}"
    return ""


def bench_process(variant: str, args) -> list[Row]:
    argv = bwrap_argv(args.python) if variant == "bwrap" else [args.python, "-c", ADD]
    row = timed(Row(variant, "-"), lambda i: one_process(argv), PROC_WARMUP, args.proc_calls)
    if not row.errors:
        deadline = time.monotonic() + args.proc_duration

        def worker(_: int) -> list[str]:  # '' or what went wrong, per process, until the deadline
            return [one_process(argv) for _ in iter(lambda: time.monotonic() < deadline, False)]

        t0 = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            results = [bad for part in pool.map(worker, range(2)) for bad in part]
        row.rps = results.count("") / (time.monotonic() - t0)
        failed = [bad for bad in results if bad]
        row.errors, row.note = len(failed), next(iter(failed), "")
    show(row)
    return [row]


def pool(rows: list[Row]) -> list[Row]:
    """One row per (variant, era) over all runs: latencies pooled, the median run's calls/s and load."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.variant, r.era), []).append(r)
    out = []
    for (variant, era), rs in groups.items():
        rates = sorted((r for r in rs if r.rps is not None), key=lambda r: r.rps)
        mid = rates[len(rates) // 2] if rates else None
        out.append(Row(variant, era, [x for r in rs for x in r.lat], mid and mid.rps, sum(r.errors for r in rs),
                       next((r.note for r in rs if r.note), ""), all(r.pending for r in rs), mid and mid.load))
    return out


def show(row: Row) -> None:
    lat = f"p50 {row.p(50):.3f} ms p99 {row.p(99):.3f} ms" if row.lat else "not timed"
    rps = fmt(row.rps, ",.0f") or "-"
    print(f"[{row.variant}/{row.era}] {lat}, {rps} calls/s, errors {row.errors} {row.note}")


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "" if x is None or x != x else format(x, spec)


def render(rows: list[Row], args) -> str:
    good = {(r.variant, r.era): r for r in rows if r.lat and not r.errors}
    base = {era: r for (variant, era), r in good.items() if variant == "none"}
    base["-"] = base.get("modern")
    added = {id(r): (r.p(50) - base[r.era].p(50), r.p(99) - base[r.era].p(99))
             for r in rows if r.lat and base.get(r.era) and r.variant != "none"}
    pin = (f"server (and its sandboxed children) pinned to CPU {args.server_cpus}, wrk and the sequential "
           f"client to CPU {args.wrk_cpus}" if args.server_cpus else "no CPU pinning")
    out = ["## Sandbox: cost of isolating `tools/call add`", "",
           f"{common.machine_line()}, loopback; {pin}; {args.runs} run(s), latencies pooled over runs, "
           f"calls/s of the median run. Latency, one call at a time: {args.calls} calls "
           f"(Sandgate: raw-socket HTTP client, one keep-alive connection) or {args.proc_calls} processes "
           f"(subprocess rows). calls/s: wrk {args.threads} threads, {args.connections} connections, "
           f"{args.duration:g} s (Sandgate); 2 parallel workers for {args.proc_duration:g} s, unpinned "
           "(subprocess rows). Added = the row minus in-process of the same era, measured alongside "
           "(subprocess rows: minus in-process modern). Subprocess rows start "
           f"`{args.python} -c` with the same `add`, printing `add(2, 3)`; bubblewrap runs it under "
           "`bwrap --unshare-all --die-with-parent` with read-only /usr, /lib, /lib64, the Python prefix and "
           "the venv, and a fresh /proc, /dev and tmpfs /tmp.", "",
           "| variant | era | p50 ms | p99 ms | added p50 ms | added p99 ms | calls/s | errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        a50, a99 = added.get(id(r), (None, None))
        rps = "pending" if r.pending else "failed" if r.errors else fmt(r.rps, ",.0f")
        out.append(f"| {LABELS[r.variant]} | {r.era} | {fmt(r.p(50))} | {fmt(r.p(99))} | {fmt(a50)} | "
                   f"{fmt(a99)} | {rps} | {r.errors} |")
    if any(r.load for r in rows):
        out += ["", "Sandgate under wrk load (many calls in flight; CPU as a share of one core, server CPU "
                "includes the zygote and its reaped children):", "",
                "| variant | era | calls/s | p50 ms | p99 ms | server CPU | wrk CPU | RSS MiB |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        out += [f"| {r.variant} | {r.era} | {r.load.rps:,.0f} | {r.load.p50:.2f} | {r.load.p99:.2f} | "
                f"{r.load.server_cpu:.0%} | {r.load.wrk_cpu:.0%} | {r.load.rss / 2**20:.1f} |"
                for r in rows if r.load]
    pc, bw = good.get(("per_call", "modern")), good.get(("bwrap", "-"))
    a50, a99 = added.get(id(pc), (None, None))
    ratio = pc.rps / bw.rps if pc and bw and pc.rps and bw.rps else None
    checks = [("added p50 over in-process (target <= 1 ms)", a50, "{:.2f} ms", a50 is not None and a50 <= 1),
              ("added p99 over in-process (target <= 3 ms)", a99, "{:.2f} ms", a99 is not None and a99 <= 3),
              ("sandboxed calls/s (target >= 1,000)", pc and pc.rps, "{:,.0f}", (pc and pc.rps or 0) >= 1000),
              ("per_call / bubblewrap calls/s (target >= 20x)", ratio, "{:.1f}x", bool(ratio and ratio >= 20))]
    out += ["", "Targets, per_call in the modern era:"]
    out += [f"- {text}: " + ("pending (not measured)" if v is None else
                             f"**{spec.format(v)}** ({'meets' if ok else 'misses'} the target)")
            for text, v, spec, ok in checks]
    ps, pl = good.get(("per_session", "legacy")), good.get(("per_call", "legacy"))
    if ps and pl:
        same = abs(ps.p(50) - pl.p(50)) <= 0.2 * pl.p(50)
        out.append(f"- per_session vs per_call p50 (legacy): {ps.p(50):.3f} vs {pl.p(50):.3f} ms"
                   + ("; the same within 20 %: no per-session reuse is visible" if same else ""))
    notes = list(dict.fromkeys(f"- {LABELS[r.variant]}: {r.note}" for r in rows if r.note))
    return "\n".join(out + (["", "Not measured or failed:", *notes] if notes else [])) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="none,per_call,per_session,bwrap,python")
    ap.add_argument("--calls", type=int, default=1000, help="sequential HTTP calls per Sandgate variant")
    ap.add_argument("--warmup-calls", type=int, default=500)
    ap.add_argument("--proc-calls", type=int, default=300, help="sequential processes per subprocess variant")
    ap.add_argument("--runs", type=int, default=1, help="repeat everything; latencies pooled")
    ap.add_argument("--proc-duration", type=float, default=10, help="seconds of the 2-worker run")
    ap.add_argument("--python", default=os.path.abspath(PY), help="interpreter the subprocess variants start")
    common.add_load_options(ap, wrk_cpus_help="taskset list for wrk and the sequential client")
    args = ap.parse_args()
    common.resolve_pinning(args)
    rows: list[Row] = []
    for _ in range(args.runs):  # each run measures every variant, so drift spreads over all of them
        for variant in args.variants.split(","):
            rows += bench_sandgate(variant, args) if variant in ERAS else bench_process(variant, args)
    text = render(pool(rows), args)
    print(text)
    if not args.no_write:
        common.write_section("sandbox", text)
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
