"""stdio round-trip rate: sequential newline-delimited `tools/call add` messages.

    .venv/bin/python benchmarks/run_stdio.py [--calls 5000] [--warmup 500]
        [--runs 3] [--servers sandgate,fastmcp,mcp-sdk] [--no-pin]

Each server is spawned fresh per era; the modern era opens with `server/discover`
and carries `_meta` on every request, the legacy era with initialize +
notifications/initialized. One request is in flight at a time.
Writes the `<!-- stdio:begin -->` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import time

import common
from common import ALL_SERVERS, median

ERAS = ("modern", "legacy")


class Pipe:
    """Newline-delimited JSON-RPC over a child's stdin/stdout, with timeouts."""

    def __init__(self, cmd: list[str], cpus: str | None):
        self.proc = subprocess.Popen(common.pinned(cmd, cpus), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""

    def send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise common.ServerDown(f"server closed stdin (exit {self.proc.poll()})") from None

    def recv(self, timeout: float = 30.0) -> dict:
        while b"\n" not in self.buf:
            if not select.select([self.fd], [], [], timeout)[0]:
                raise TimeoutError("no answer from server")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise common.ServerDown(f"server closed stdout (exit {self.proc.poll()})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, msg: dict) -> dict:
        """Send a request; skip notifications until the answer with its id."""
        self.send(msg)
        while True:
            answer = self.recv()
            if answer.get("id") == msg["id"]:
                return answer

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            common.stop(self.proc)


def handshake(pipe: Pipe, era: str) -> bool:
    """True if the server accepted the era's opening exchange."""
    if era == "modern":
        answer = pipe.call({"jsonrpc": "2.0", "id": 0, "method": "server/discover",
                            "params": {"_meta": common.MODERN_META}})
        return common.MODERN in (answer.get("result") or {}).get("supportedVersions", [])
    answer = pipe.call({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                        "params": {"protocolVersion": common.LEGACY, "capabilities": {},
                                   "clientInfo": {"name": "sandgate-bench", "version": "1"}}})
    if "result" not in answer:
        return False
    pipe.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return True


def call_add(pipe: Pipe, era: str, i: int) -> bool:
    a, b = i, i % 1009
    params = {"name": "add", "arguments": {"a": a, "b": b}}
    if era == "modern":
        params["_meta"] = common.MODERN_META
    answer = pipe.call({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params})
    result = answer.get("result") or {}
    content = result.get("content") or [{}]
    return not result.get("isError") and content[0].get("text") == str(a + b)


def run_once(server, era: str, args) -> dict | str:
    """One fresh server process: handshake, warm-up, N timed sequential calls."""
    pipe = Pipe(server.stdio_cmd, args.server_cpus)
    try:
        if not handshake(pipe, era):
            return "n/a"
        errors = sum(not call_add(pipe, era, i) for i in range(1, args.warmup + 1))
        lat = []
        start = time.perf_counter()
        for i in range(args.warmup + 1, args.warmup + args.calls + 1):
            t0 = time.perf_counter_ns()
            errors += not call_add(pipe, era, i)
            lat.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter() - start
    finally:
        pipe.close()
    lat.sort()
    return {"rps": args.calls / elapsed, "p50": lat[len(lat) // 2] / 1e6,
            "p99": lat[int(len(lat) * 0.99)] / 1e6, "errors": errors}


def bench(server, era: str, args) -> list[dict] | str:
    runs = []
    for _ in range(args.runs):
        try:
            res = run_once(server, era, args)
        except common.ServerDown as exc:
            print(f"[{server.name}/{era}] not runnable: {exc}")
            return "pending"
        if isinstance(res, str):
            print(f"[{server.name}/{era}] handshake refused: n/a")
            return res
        print(f"[{server.name}/{era}] {res['rps']:,.0f} calls/s p50 {res['p50']:.3f} ms "
              f"p99 {res['p99']:.3f} ms errors {res['errors']}")
        runs.append(res)
    return runs


def render(all_res, args) -> str:
    pin = (f"server pinned to CPU {args.server_cpus}, client to CPU {args.client_cpu}"
           if args.server_cpus else "no CPU pinning")
    out = ["## stdio: sequential `tools/call add` round trips", "",
           f"{common.machine_line()}. {args.calls} calls per run after {args.warmup} warm-up calls, "
           f"one in flight; median of {args.runs} run(s); {pin}. The client is Python "
           "(json + os.read); its own cost is part of every round trip.", "",
           "| server | era | calls/s | p50 ms | p99 ms | errors |", "|---|---|---:|---:|---:|---:|"]
    for name, by_era in all_res.items():
        for era, res in by_era.items():
            if isinstance(res, str):
                out.append(f"| {name} | {era} | {res} | | | |")
                continue
            errors = sum(r["errors"] for r in res)
            rps = "failed" if errors else f"{median([r['rps'] for r in res]):,.0f}"
            out.append(f"| {name} | {era} | {rps} | {median([r['p50'] for r in res]):.3f} | "
                       f"{median([r['p99'] for r in res]):.3f} | {errors} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="sandgate,fastmcp,mcp-sdk")
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--server-cpus", default="1")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.no_pin or not args.server_cpus:
        args.server_cpus = None
    else:
        os.sched_setaffinity(0, {args.client_cpu})
    all_res = {name: {era: bench(ALL_SERVERS[name], era, args) for era in ERAS}
               for name in args.servers.split(",")}
    text = render(all_res, args)
    print(text)
    if not args.no_write:
        common.write_section("stdio", text)
    failed = any(isinstance(r, list) and any(x["errors"] for x in r)
                 for by_era in all_res.values() for r in by_era.values())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
