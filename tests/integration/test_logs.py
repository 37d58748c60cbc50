"""`sandgate serve --log-format json`: every stderr line, the announcements included, is one JSON object with
time, level, logger and message, from start to a graceful stop."""

from __future__ import annotations

import json
import re
import signal
import subprocess

import httpx

from tests.integration.server_process import REPO, server_python

SERVING = re.compile(r"^Sandgate \S+ serving MCP at (?P<url>http://127\.0\.0\.1:\d+/mcp)$")


def test_every_line_is_a_json_record() -> None:
    command = [server_python(), "-m", "sandgate", "serve", str(REPO / "examples" / "tools.py"), "--host", "127.0.0.1",
               "--port", "0", "--set", "metrics_port=0", "--log-format", "json"]
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    records = []
    try:
        serving = metrics = False
        for line in process.stderr:
            record = json.loads(line)
            records.append(record)
            if match := SERVING.match(record["message"]):
                assert httpx.get(match["url"].replace("/mcp", "/healthz"), timeout=10).status_code == 200
                serving = True
            metrics = metrics or record["message"].startswith("Sandgate metrics at http://127.0.0.1:")
            if serving and metrics:  # both announced: stop only then, so neither races the signal
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    records += [json.loads(line) for line in rest.splitlines()]
    assert process.returncode == 0
    assert any(SERVING.match(record["message"]) for record in records)
    assert any(record["message"].startswith("Sandgate metrics at http://127.0.0.1:") for record in records)
    for record in records:
        assert set(record) >= {"time", "level", "logger", "message"}, record
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", record["time"]), record
        assert record["level"] in {"debug", "info", "warning", "error", "critical"}
