"""The catalog a zygote sends: exported from a server, and checked by the gateway as hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandgate import ConfigError, MCPServer, Sandbox
from sandgate.sandbox.catalog import MAX_CATALOG_BYTES, MAX_ENTRIES_PER_KIND, MAX_SCHEMA_DEPTH, export_catalog, load_catalog


def make_server() -> MCPServer:
    server = MCPServer("cat", version="2.0", instructions="Be brief", sandbox=Sandbox(wall_time=5),
                       isolation="per_session", page_size=7)

    @server.tool(annotations={"readOnlyHint": True}, sandbox=Sandbox(memory="64Mi"))
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(isolation="none")
    def fast(x: str) -> str:
        return x

    @server.resource("res://static", mime_type="text/plain")
    def static() -> str:
        return "s"

    @server.resource("res://item/{id}")
    def item(id: int) -> dict:
        return {"id": id}

    @server.prompt
    def greet(name: str) -> str:
        return f"Hello {name}"

    return server


def exported() -> dict[str, Any]:
    return json.loads(export_catalog(make_server()))


def load(document: Any) -> Any:
    return load_catalog(json.dumps(document).encode(), "mod.py")


def test_round_trip_keeps_listing_identity_and_requests():
    server = make_server()
    catalog = load_catalog(export_catalog(server), "mod.py")
    assert (catalog.name, catalog.version, catalog.instructions) == ("cat", "2.0", "Be brief")
    assert catalog.listing == json.loads(json.dumps(server.registry.catalog()))
    assert catalog.tool_names == {"add", "fast"} and catalog.prompt_names == {"greet"}
    assert catalog.resource_uris == {"res://static"}
    requests = catalog.requests
    assert requests.isolation == "per_session"
    assert requests.sandbox.model_fields_set == {"wall_time"} and requests.sandbox.wall_time == 5
    isolation, limits = requests.tools["add"]
    assert isolation is None and limits is not None and limits.memory == 64 * 1024**2
    assert requests.tools["fast"] == ("none", None)
    assert catalog.settings == ("page_size",)


@pytest.mark.parametrize(("mutate", "problem"), [
    (lambda d: d.pop("server"), "no server object"),
    (lambda d: d["server"].update(name=""), "server name"),
    (lambda d: d["server"].update(name=7), "server name"),
    (lambda d: d.update(tools={}), "tools is not a list"),
    (lambda d: d["tools"][0].update(name="bad name"), "tool name"),
    (lambda d: d["tools"][0].update(name="x" * 129), "tool name"),
    (lambda d: d["tools"][1].update(name="add"), "repeat a name"),
    (lambda d: d["tools"][0].update(inputSchema=[]), "JSON Schema object"),
    (lambda d: d["tools"][0].update(inputSchema={"type": "string"}), '"type": "object"'),
    (lambda d: d["tools"][0].pop("inputSchema"), "JSON Schema object"),
    (lambda d: d["tools"][0].update(outputSchema={"type": "array"}), '"type": "object"'),
    (lambda d: d["tools"][0].update(evil=1), "unknown keys"),
    (lambda d: d["tools"][0].update(annotations={"readOnlyHint": "yes"}), "wrong type"),
    (lambda d: d["tools"][0].update(description=3), "description"),
    (lambda d: d["resources"][0].update(uri="no-scheme"), "absolute URI"),
    (lambda d: d["resources"][0].update(uri="res://a\nb"), "absolute URI"),
    (lambda d: d["resourceTemplates"][0].update(name=""), "name must be"),
    (lambda d: d["prompts"][0].update(arguments=[{"name": "n", "required": "yes"}]), "required"),
    (lambda d: d["requests"].update(isolation="host"), "isolation must be"),
    (lambda d: d["requests"]["tools"].update(ghost={}), "unknown tool"),
    (lambda d: d["requests"]["tools"]["add"].update(sandbox={"memory": -1}), "sandbox request"),
    (lambda d: d["requests"]["tools"]["add"].update(sandbox={"unlisted": 1}), "sandbox request"),
])
def test_a_bad_catalog_is_a_clear_config_error(mutate, problem):
    document = exported()
    mutate(document)
    with pytest.raises(ConfigError, match="the catalog mod.py sent is invalid") as raised:
        load(document)
    assert problem in str(raised.value)


def test_bounds_on_size_count_and_depth():
    with pytest.raises(ConfigError, match=f"more than {MAX_CATALOG_BYTES} bytes"):
        load_catalog(b" " * (MAX_CATALOG_BYTES + 1), "mod.py")
    many = exported()
    many["prompts"] = [{"name": f"p{i}"} for i in range(MAX_ENTRIES_PER_KIND + 1)]
    with pytest.raises(ConfigError, match="more than 10000 prompts"):
        load(many)
    deep = exported()
    nested: dict[str, Any] = {"type": "object"}
    for _ in range(MAX_SCHEMA_DEPTH + 1):
        nested = {"type": "object", "properties": {"x": nested}}
    deep["tools"][0]["inputSchema"] = nested
    with pytest.raises(ConfigError, match="nests deeper"):
        load(deep)
    within = exported()
    shallow: dict[str, Any] = {"type": "object"}
    for _ in range(MAX_SCHEMA_DEPTH // 2 - 1):
        shallow = {"type": "object", "properties": {"x": shallow}}
    within["tools"][0]["inputSchema"] = shallow
    assert load(within).listing["tools"][0]["inputSchema"] == shallow


@pytest.mark.parametrize("data", [b"", b"[]", b"\xff\xfe", b'{"server": {"name": "x"}, "tools": [', b"1e999999"])
def test_not_a_catalog_at_all(data):
    with pytest.raises(ConfigError, match="invalid"):
        load_catalog(data, "mod.py")
