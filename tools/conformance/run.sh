#!/usr/bin/env bash
# Run the official MCP conformance suite against a running server and judge it by a baseline.
#
#   tools/conformance/run.sh URL REQUIREMENTS [BASELINE]
#   tools/conformance/run.sh http://127.0.0.1:8000/mcp 2026-07-28
#
# REQUIREMENTS is a spec revision (2026-07-28 or 2025-11-25); BASELINE defaults to
# tests/conformance/expected-failures-REQUIREMENTS.yaml. Exits 0 when the results match the
# baseline, 1 on an unexpected failure or a baselined scenario that now passes, 2 when the
# suite is not installed (tools/conformance/install.sh) or the baseline is malformed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ $# -lt 2 || $# -gt 3 ]]; then
  sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
fi

python="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$python" ]] || python="python3"
args=(--url "$1" --requirements "$2")
[[ $# -eq 3 ]] && args+=(--baseline "$3")
exec "$python" "$ROOT/tests/conformance/run_suite.py" "${args[@]}"
