"""Memory per idle legacy (2025-11-25) session over Streamable HTTP.

    .venv/bin/python benchmarks/run_sessions.py [--sessions 1000] [--warmup 50]
        [--runs 3] [--servers sandgate,fastmcp,mcp-sdk]

Per server: start it, open `--warmup` sessions (not counted: first-use
allocations), sample RSS, open `--sessions` more (initialize +
notifications/initialized, every request on its own TCP connection, closed
after the answer), let it settle, sample RSS again, then check that a sample
of the sessions still answers `tools/call`. Reports (growth / sessions) bytes.
Writes the `<!-- sessions:begin -->` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import time

import httpx

import common
from common import ALL_SERVERS, median

TARGET = 10 * 1024  # Sandgate's goal: at most 10 KB per idle session


def open_sessions(url: str, n: int) -> list[str]:
    ids = []
    # `Connection: close`: each request gets its own TCP connection, closed afterwards.
    with httpx.Client(timeout=30, headers={"Connection": "close"}) as client:
        for _ in range(n):
            try:
                sid = common.open_legacy_session(client, url)
            except httpx.HTTPStatusError as exc:
                raise RuntimeError(f"session {len(ids) + 1} refused: HTTP {exc.response.status_code}") from None
            if not sid:
                raise RuntimeError("server handed out no Mcp-Session-Id (stateless?)")
            ids.append(sid)
    return ids


def still_alive(url: str, ids: list[str], k: int = 20) -> int:
    """How many of k sampled sessions still answer tools/call add correctly."""
    alive = 0
    with httpx.Client(timeout=30) as client:
        for i, sid in enumerate(random.sample(ids, min(k, len(ids)))):
            headers = {"Accept": common.ACCEPT, "MCP-Protocol-Version": common.LEGACY, "Mcp-Session-Id": sid}
            body = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                    "params": {"name": "add", "arguments": {"a": i, "b": 1}}}
            r = client.post(url, json=body, headers=headers)
            if r.status_code == 200:
                result = common.rpc_answer(r).get("result") or {}
                alive += (result.get("structuredContent") or {}).get("result") == i + 1
    return alive


def settled_rss(pid: int, wait: float) -> int:
    time.sleep(wait)
    return common.rss_bytes(pid)


def run_once(server, args) -> dict:
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = common.start_http_server(server, port, args.server_cpus)
    try:
        warm = open_sessions(url, args.warmup)
        before = settled_rss(proc.pid, args.settle)
        t0 = time.monotonic()
        ids = open_sessions(url, args.sessions)
        rate = args.sessions / (time.monotonic() - t0)
        after = settled_rss(proc.pid, args.settle)
        alive = still_alive(url, warm + ids)
    finally:
        common.stop(proc)
    return {"before": before, "after": after, "per": (after - before) / args.sessions,
            "alive": alive, "sampled": min(20, len(warm + ids)), "rate": rate}


def bench(server, args) -> list[dict] | str:
    runs = []
    for _ in range(args.runs):
        try:
            r = run_once(server, args)
        except common.ServerDown as exc:
            print(f"[{server.name}] not runnable: {exc}")
            return "pending"
        except RuntimeError as exc:
            print(f"[{server.name}] failed: {exc}")
            return "failed"
        print(f"[{server.name}] RSS {r['before'] / 2**20:.1f} -> {r['after'] / 2**20:.1f} MiB, "
              f"{r['per']:,.0f} B/session, {r['rate']:,.0f} sessions/s opened, "
              f"{r['alive']}/{r['sampled']} sampled sessions alive")
        runs.append(r)
    return runs


def render(all_res, args) -> str:
    out = ["## Memory per idle legacy session", "",
           f"{common.machine_line()}. {args.sessions} sessions (initialize + notifications/initialized, "
           f"protocol {common.LEGACY}) after {args.warmup} uncounted warm-up sessions; every request on "
           f"its own TCP connection, closed after the answer; RSS of the server and its children sampled "
           f"{args.settle:g} s after the last session; median of {args.runs} run(s). "
           f"Sandgate's target: <= {TARGET // 1024} KB per idle session.", "",
           "| server | RSS before MiB | RSS after MiB | bytes / session | sessions alive (sampled) |",
           "|---|---:|---:|---:|---:|"]
    for name, res in all_res.items():
        if isinstance(res, str):
            out.append(f"| {name} | {res} | | | |")
            continue
        per = median([r["per"] for r in res])
        mark = (" (meets target)" if per <= TARGET else " (over target)") if name == "sandgate" else ""
        out.append(f"| {name} | {median([r['before'] for r in res]) / 2**20:.1f} | "
                   f"{median([r['after'] for r in res]) / 2**20:.1f} | {per:,.0f}{mark} | "
                   f"{min(r['alive'] for r in res)}/{res[0]['sampled']} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="sandgate,fastmcp,mcp-sdk")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait before each RSS sample")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--server-cpus", default="1")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    args.server_cpus = args.server_cpus or None
    all_res = {name: bench(ALL_SERVERS[name], args) for name in args.servers.split(",")}
    text = render(all_res, args)
    print(text)
    if not args.no_write:
        common.write_section("sessions", text)
    dead = any(res == "failed" or isinstance(res, list) and any(r["alive"] < r["sampled"] for r in res)
               for res in all_res.values())
    return 1 if dead else 0


if __name__ == "__main__":
    raise SystemExit(main())
