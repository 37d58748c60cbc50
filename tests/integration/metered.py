"""The metered tools (servers/metered.py) and the policy the metrics and audit tests serve them under: one API
key for the `eng` group, every tool allowed, `fail` limited to twice a minute, `add` refused for a >= 100."""

from __future__ import annotations

import hashlib

from tests.integration.server_process import REPO

METERED = REPO / "tests" / "integration" / "servers" / "metered.py"
KEY = "alice-secret"


def metered_policy(name: str, revision: str, extra_rules: str = "") -> str:
    """The policy text; `extra_rules` are more rule lines (flow mappings, indented as the others)."""
    return f"""apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: {name}, revision: "{revision}"}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    apiKeys:
      - {{name: alice-key, sha256: {hashlib.sha256(KEY.encode()).hexdigest()}, principal: alice, groups: [eng]}}
  principals:
    eng: {{anyGroup: [eng]}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
    twice: {{key: [principal, tool], rate: 2/min}}
  rules:
    - {{id: eng-all, effect: allow, principals: [eng], tools: ["*"]}}
    - {{id: eng-fail, effect: allow, principals: [eng], tools: [fail], rateLimit: twice}}
    - {{id: no-big, effect: deny, principals: ["*"], tools: [add], args: {{a: {{min: 100}}}}}}
{extra_rules}"""
