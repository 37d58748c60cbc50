"""Policy files: who may call which tool with which arguments, under which limits and rates."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sandgate.policy.check import CheckedPolicy, check_policy_text, read_policy
from sandgate.policy.model import Policy
from sandgate.policy.problems import PolicyError, Problem

__all__ = ["CheckedPolicy", "Policy", "PolicyError", "Problem", "default_policy", "default_policy_text",
           "json_schema", "read_policy"]

DEFAULT_POLICY_FILE = "<embedded default policy>"
SCHEMA_ID = "https://sandgate.dev/schema/policy.schema.json"


def default_policy_text() -> str:
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")


def default_policy() -> CheckedPolicy:
    return check_policy_text(default_policy_text(), DEFAULT_POLICY_FILE)


def json_schema() -> dict[str, Any]:
    """The policy file's JSON Schema (2020-12), as editors and `sandgate policy schema` use it."""
    schema = Policy.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
