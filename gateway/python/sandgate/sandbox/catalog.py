"""The catalog a confined zygote sends the gateway: what the module serves and what it asks for.

Written by `export_catalog` in the zygote, after the import; read by `load_catalog` in the
gateway, which never imports the module and treats every byte as hostile: bounded size and
counts, names checked against the MCP rules, schemas checked to be JSON Schema objects, and
sandbox requests that are only requests (the operator's ceiling clamps them, `isolation="none"`
needs the operator's trust).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pydantic_core
from pydantic import ValidationError

from sandgate.errors import ConfigError, describe_validation_error
from sandgate.sandbox import trust
from sandgate.sandbox.limits import ISOLATION_MODES, Isolation, Sandbox

MAX_CATALOG_BYTES = 8 * 1024 * 1024
MAX_ENTRIES_PER_KIND = 10_000
MAX_NAME_CHARS = 128
MAX_URI_CHARS = 4096
MAX_TEXT_CHARS = 64 * 1024  # descriptions, titles, instructions
MAX_SCHEMA_DEPTH = 64
TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
KINDS = ("tools", "resources", "resourceTemplates", "prompts")
TOOL_KEYS = frozenset({"name", "title", "description", "inputSchema", "outputSchema", "annotations"})
RESOURCE_KEYS = frozenset({"uri", "name", "title", "description", "mimeType"})
TEMPLATE_KEYS = frozenset({"uriTemplate", "name", "title", "description", "mimeType"})
PROMPT_KEYS = frozenset({"name", "title", "description", "arguments"})
PROMPT_ARGUMENT_KEYS = frozenset({"name", "description", "required"})
ANNOTATION_KEYS = {"title": str, "readOnlyHint": bool, "destructiveHint": bool, "idempotentHint": bool,
                   "openWorldHint": bool}


@dataclass(frozen=True)
class Requests:
    """What the module asked for: server-wide and per-tool isolation and limits (explicit fields only)."""

    isolation: Isolation = "per_call"
    sandbox: Sandbox = field(default_factory=Sandbox)
    tools: dict[str, tuple[Isolation | None, Sandbox | None]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """As the core's SandboxGrant reads them."""
        return trust.requests(self.isolation, self.sandbox, self.tools)


@dataclass(frozen=True)
class Catalog:
    name: str
    version: str | None
    instructions: str | None
    listing: dict[str, list[dict[str, Any]]]  # the four MCP lists, as checked
    requests: Requests
    settings: tuple[str, ...] = ()  # server settings the module set, which hosting ignores

    # Computed once: the hosted dispatcher looks names up on every request.
    @cached_property
    def tool_names(self) -> frozenset[str]:
        return frozenset(tool["name"] for tool in self.listing["tools"])

    @cached_property
    def prompt_names(self) -> frozenset[str]:
        return frozenset(prompt["name"] for prompt in self.listing["prompts"])

    @cached_property
    def resource_uris(self) -> frozenset[str]:
        return frozenset(resource["uri"] for resource in self.listing["resources"])


# --- In the zygote ------------------------------------------------------------------------------

def export_catalog(server: Any) -> bytes:
    """The served module's catalog, as JSON bytes."""
    listing = server.registry.catalog()
    return pydantic_core.to_json({
        "server": {"name": server.name, "version": server.version, "instructions": server.instructions},
        **listing,
        "requests": server.sandbox_requests(),
        "settings": sorted(server.settings.model_fields_set),
    })


# --- In the gateway -----------------------------------------------------------------------------

def load_catalog(data: bytes, module: str) -> Catalog:
    """The checked catalog, or ConfigError naming the module and what is wrong."""
    try:
        return _load(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"the catalog {module} sent is invalid: {exc}") from None


def _load(data: bytes) -> Catalog:
    if len(data) > MAX_CATALOG_BYTES:
        raise ValueError(f"more than {MAX_CATALOG_BYTES} bytes")
    root = pydantic_core.from_json(data)
    _require(isinstance(root, dict), "not a JSON object")
    server = root.get("server")
    _require(isinstance(server, dict), "no server object")
    name = _text(server.get("name"), "server name", required=True)
    listing: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        entries = root.get(kind, [])
        _require(isinstance(entries, list), f"{kind} is not a list")
        _require(len(entries) <= MAX_ENTRIES_PER_KIND, f"more than {MAX_ENTRIES_PER_KIND} {kind}")
        listing[kind] = [_CHECKS[kind](entry, f"{kind}[{index}]") for index, entry in enumerate(entries)]
        _unique(listing[kind], "uri" if kind == "resources" else "uriTemplate" if kind == "resourceTemplates"
                else "name", kind)
    settings = root.get("settings", [])
    _require(isinstance(settings, list) and all(isinstance(s, str) and len(s) <= MAX_NAME_CHARS
                                                 for s in settings[:64]), "settings is not a list of names")
    return Catalog(name, _text(server.get("version"), "server version"),
                   _text(server.get("instructions"), "instructions"), listing,
                   _requests(root.get("requests", {}), frozenset(t["name"] for t in listing["tools"])),
                   tuple(settings[:64]))


def _check_tool(entry: Any, where: str) -> dict[str, Any]:
    _object(entry, TOOL_KEYS, where)
    name = entry.get("name")
    _require(isinstance(name, str) and TOOL_NAME.fullmatch(name) is not None,
             f"{where}: tool name must be 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.'")
    _common_texts(entry, where)
    _schema(entry.get("inputSchema"), f"{where}.inputSchema", required=True)
    _schema(entry.get("outputSchema"), f"{where}.outputSchema", required=False)
    annotations = entry.get("annotations")
    if annotations is not None:
        _object(annotations, frozenset(ANNOTATION_KEYS), f"{where}.annotations")
        for key, value in annotations.items():
            _require(isinstance(value, ANNOTATION_KEYS[key]), f"{where}.annotations.{key} has the wrong type")
    return entry


def _check_resource(entry: Any, where: str, uri_key: str = "uri") -> dict[str, Any]:
    """A resource, or with uri_key "uriTemplate" a resource template: the same fields otherwise."""
    _object(entry, RESOURCE_KEYS if uri_key == "uri" else TEMPLATE_KEYS, where)
    _uri(entry.get(uri_key), f"{where}.{uri_key}")
    _name(entry.get("name"), where)
    _common_texts(entry, where)
    return entry


def _check_template(entry: Any, where: str) -> dict[str, Any]:
    return _check_resource(entry, where, "uriTemplate")


def _check_prompt(entry: Any, where: str) -> dict[str, Any]:
    _object(entry, PROMPT_KEYS, where)
    _name(entry.get("name"), where)
    _common_texts(entry, where)
    arguments = entry.get("arguments", [])
    _require(isinstance(arguments, list) and len(arguments) <= 1000, f"{where}.arguments is not a list")
    for index, argument in enumerate(arguments):
        spot = f"{where}.arguments[{index}]"
        _object(argument, PROMPT_ARGUMENT_KEYS, spot)
        _name(argument.get("name"), spot)
        _text(argument.get("description"), f"{spot}.description")
        _require(isinstance(argument.get("required", False), bool), f"{spot}.required is not a boolean")
    return entry


_CHECKS = {"tools": _check_tool, "resources": _check_resource, "resourceTemplates": _check_template,
           "prompts": _check_prompt}


def _requests(value: Any, tool_names: frozenset[str]) -> Requests:
    _require(isinstance(value, dict), "requests is not an object")
    tools: dict[str, tuple[Isolation | None, Sandbox | None]] = {}
    per_tool = value.get("tools", {})
    _require(isinstance(per_tool, dict), "requests.tools is not an object")
    for name, request in per_tool.items():
        _require(name in tool_names, f"requests.tools names an unknown tool {name!r}")
        _require(isinstance(request, dict), f"requests.tools.{name} is not an object")
        isolation = request.get("isolation")
        tools[name] = (_isolation(isolation, name) if isolation is not None else None,
                       _sandbox(request["sandbox"], name) if "sandbox" in request else None)
    return Requests(_isolation(value.get("isolation", "per_call"), "server"),
                    _sandbox(value.get("sandbox", {}), "server"), tools)


def _isolation(value: Any, owner: str) -> Isolation:
    _require(value in ISOLATION_MODES, f"{owner}: isolation must be one of {', '.join(ISOLATION_MODES)}")
    return value  # type: ignore[no-any-return]


def _sandbox(value: Any, owner: str) -> Sandbox:
    try:
        return Sandbox.model_validate(value)
    except ValidationError as exc:
        raise ValueError(f"{owner}: sandbox request: {describe_validation_error(exc)}") from None


def _schema(value: Any, where: str, *, required: bool) -> None:
    if value is None and not required:
        return
    _require(isinstance(value, dict), f"{where} must be a JSON Schema object")
    _require(value.get("type") == "object", f'{where} must have "type": "object"')
    _require(_depth(value) <= MAX_SCHEMA_DEPTH, f"{where} nests deeper than {MAX_SCHEMA_DEPTH}")


def _depth(value: Any) -> int:
    """Nesting depth, iteratively: a hostile schema must not exhaust the gateway's stack."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SCHEMA_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _object(value: Any, allowed: frozenset[str], where: str) -> None:
    _require(isinstance(value, dict), f"{where} is not an object")
    unknown = sorted(set(value) - allowed)
    _require(not unknown, f"{where} has unknown keys {unknown[:5]}")


def _name(value: Any, where: str) -> None:
    _require(isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS and value.isprintable(),
             f"{where}: name must be 1-{MAX_NAME_CHARS} printable characters")


def _uri(value: Any, where: str) -> None:
    _require(isinstance(value, str) and 0 < len(value) <= MAX_URI_CHARS and value.isprintable()
             and URI_SCHEME.match(value) is not None, f"{where} must be an absolute URI")


def _common_texts(entry: dict[str, Any], where: str) -> None:
    for key in ("title", "description", "mimeType"):
        _text(entry.get(key), f"{where}.{key}")


def _text(value: Any, what: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    _require(isinstance(value, str) and len(value) <= MAX_TEXT_CHARS and (value or not required),
             f"{what} must be a string of at most {MAX_TEXT_CHARS} characters")
    return value  # type: ignore[no-any-return]


def _unique(entries: list[dict[str, Any]], key: str, kind: str) -> None:
    seen = [entry[key] for entry in entries]
    _require(len(set(seen)) == len(seen), f"{kind} repeat a {key}")


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(problem)
