"""Tool registration, argument validation, errors and Context injection."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from conftest import check_mcp
from sandgate import ConfigError, Context, DuplicateName, MCPServer, ToolAnnotations


class Item(BaseModel):
    name: str
    quantity: int = Field(ge=1)


def make_server() -> MCPServer:
    server = MCPServer("tools-test")

    @server.tool
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool
    def order(item: Item, note: Annotated[str, Field(max_length=5)] = "") -> str:
        return f"{item.quantity} x {item.name}{note}"

    @server.tool
    def explode(message: str) -> str:
        raise RuntimeError(message)

    @server.tool
    def silent_failure() -> str:
        raise KeyError

    @server.tool
    def whoami(ctx: Context) -> dict:
        return {"meta": ctx.request_meta}

    return server


def call(server: MCPServer, name: str, arguments: str, meta: str = "{}") -> dict:
    status, text = server.dispatcher().call("tools/call", name, arguments, meta, None)
    assert status == 0
    result = json.loads(text)
    check_mcp("CallToolResult", result)
    return result


def error_text(result: dict) -> str:
    assert result["isError"] is True
    assert len(result["content"]) == 1
    return result["content"][0]["text"]


def test_valid_call():
    assert call(make_server(), "add", '{"a": 2, "b": "3"}')["structuredContent"] == {"result": 5}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"a": 1}', "Invalid arguments for tool 'add': b: Field required"),
        ('{"a": "one", "b": 2}',
         "Invalid arguments for tool 'add': a: Input should be a valid integer, "
         "unable to parse string as an integer"),
        ("[1, 2]", "Invalid arguments for tool 'add': Input should be an object"),
        ("{not json", "Invalid arguments for tool 'add': Invalid JSON: key must be a string "
                      "at line 1 column 2"),
    ],
)
def test_invalid_arguments_are_tool_errors(arguments, message):
    assert error_text(call(make_server(), "add", arguments)) == message


def test_nested_model_errors_name_the_path():
    result = call(make_server(), "order", '{"item": {"name": "pen", "quantity": 0}, "note": "too long"}')
    assert error_text(result) == (
        "Invalid arguments for tool 'order': item.quantity: Input should be greater than or "
        "equal to 1; note: String should have at most 5 characters"
    )


def test_invalid_argument_values_are_not_echoed():
    result = call(make_server(), "add", '{"a": "secret-token-123", "b": 1}')
    assert "secret-token-123" not in error_text(result)


def test_extra_arguments_are_ignored():
    assert call(make_server(), "add", '{"a": 1, "b": 1, "c": 9}')["structuredContent"] == {"result": 2}


def test_exception_becomes_error_result_and_traceback_is_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="sandgate.tools"):
        result = call(make_server(), "explode", '{"message": "disk full"}')
    assert result == {"content": [{"type": "text", "text": "RuntimeError: disk full"}], "isError": True,
                      "_meta": {"io.sandgate/error": {"type": "RuntimeError"}}}
    assert "Traceback" not in json.dumps(result)
    [record] = [r for r in caplog.records if r.name == "sandgate.tools"]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_exception_without_message_shows_its_type():
    assert error_text(call(make_server(), "silent_failure", "{}")) == "KeyError"


def test_context_receives_request_meta():
    result = call(make_server(), "whoami", "{}", '{"progressToken": "p-1"}')
    assert result["structuredContent"] == {"meta": {"progressToken": "p-1"}}


def test_context_report_progress_is_a_no_op_without_sink():
    context = Context(request_meta={"progressToken": 3})
    assert context.progress_token == 3
    assert asyncio.run(context.report_progress(1, 10, "started")) is None


def test_context_forwards_progress_to_a_sink():
    seen = []
    context = Context(progress_sink=lambda *update: seen.append(update))
    asyncio.run(context.report_progress(2, 4, "half"))
    assert seen == [(2, 4, "half")]


def test_decorator_shapes_register_names():
    server = MCPServer("shapes")

    @server.tool
    def bare() -> str:
        return ""

    @server.tool()
    def empty_call() -> str:
        return ""

    @server.tool("renamed")
    def positional_name() -> str:
        return ""

    @server.tool(name="keyword", description="Described", title="Keyword tool")
    def keyword_name() -> str:
        return ""

    def direct() -> str:
        return ""

    assert server.tool(direct) is direct
    server.add_tool(lambda: "", name="from_lambda")
    assert bare() == ""  # decorators return the function itself
    names = [tool.name for tool in server.registry.tools]
    assert names == ["bare", "empty_call", "renamed", "keyword", "direct", "from_lambda"]
    assert server.registry.tool("keyword").definition()["description"] == "Described"


def test_duplicate_tool_name_is_rejected():
    server = make_server()
    with pytest.raises(DuplicateName) as caught:
        server.add_tool(lambda a: a, name="add")
    assert caught.value.code == "registry.duplicate"


@pytest.mark.parametrize("name", ["", "has space", "x" * 129, "slash/name", "<lambda>"])
def test_invalid_tool_names_are_rejected(name):
    with pytest.raises(ConfigError):
        MCPServer("names").add_tool(lambda: None, name=name if name != "<lambda>" else None)


def test_two_different_names_are_rejected():
    with pytest.raises(ConfigError, match="Two names"):
        MCPServer("names").tool("one", name="two")


@pytest.mark.parametrize(
    "annotations",
    [
        {"readOnlyHint": True, "openWorldHint": False},
        ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ToolAnnotations(readOnlyHint=True, openWorldHint=False),
    ],
)
def test_annotations_accept_dicts_and_models(annotations):
    tool = MCPServer("a").add_tool(lambda: "", name="t", annotations=annotations)
    assert tool.definition()["annotations"] == {"readOnlyHint": True, "openWorldHint": False}


def test_unknown_annotation_is_rejected():
    with pytest.raises(ConfigError, match="readOnly"):
        MCPServer("a").add_tool(lambda: "", name="t", annotations={"readOnly": True})


def test_a_given_input_schema_is_listed_as_written_and_the_signature_still_validates():
    from sandgate import ConfigError, MCPServer

    given = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "$defs": {"n": {"$anchor": "num", "type": "integer"}}, "properties": {"n": {"$ref": "#/$defs/n"}},
             "if": {"required": ["n"]}, "then": {}, "else": {}, "additionalProperties": False}
    server = MCPServer("schemas")

    @server.tool(input_schema=given)
    def double(n: int) -> int:
        return 2 * n

    assert server.registry.catalog()["tools"][0]["inputSchema"] == given
    dispatcher = server.dispatcher()
    assert '"structuredContent":{"result":4}' in dispatcher.call("tools/call", "double", '{"n": 2}', "{}", None)[1]
    assert '"isError":true' in dispatcher.call("tools/call", "double", '{"n": "x"}', "{}", None)[1]
    for bad in ({"type": "array"}, {"properties": {}}, "schema"):
        with pytest.raises(ConfigError, match="input_schema"):
            server.tool(lambda n: n, name=f"bad_{len(str(bad))}", input_schema=bad)
