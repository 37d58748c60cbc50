"""Mapping tool return values to MCP CallToolResult objects."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any, Literal

import mcp.types
import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from conftest import check_mcp
from sandgate import Audio, Image, MCPServer


class Profile(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Counts(TypedDict):
    words: int


def call(fn, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Register `fn` as a tool, call it through the dispatcher, check and parse the result."""
    server = MCPServer("results-test")
    server.add_tool(fn, name="t")
    status, text = server.dispatcher().call("tools/call", "t", json.dumps(arguments or {}), "{}", None)
    assert status == 0
    result = json.loads(text)
    check_mcp("CallToolResult", result)
    return result


def returning(value: Any, annotation: Any = ...) -> Any:
    def tool():
        return value

    if annotation is not ...:
        tool.__annotations__["return"] = annotation
    return tool


def text_only(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def test_schema_checker_rejects_invalid_results():
    with pytest.raises(AssertionError):
        check_mcp("CallToolResult", {"content": [{"type": "text"}]})


@pytest.mark.parametrize(
    ("value", "text"),
    [("hello", "hello"), (42, "42"), (2.5, "2.5"), (True, "true"), (False, "false")],
)
def test_unannotated_scalars_become_text(value, text):
    assert call(returning(value)) == text_only(text)


def test_str_annotation_is_text_without_structured_content():
    assert call(returning("hi", str)) == text_only("hi")


@pytest.mark.parametrize(
    ("annotation", "value", "structured", "text"),
    [
        (int, 5, 5, "5"),
        (float, 0.5, 0.5, "0.5"),
        (bool, True, True, "true"),
        (list[int], [1, 2], [1, 2], "[1,2]"),
        (list[dict[str, int]], [{"a": 1}], [{"a": 1}], '[{"a":1}]'),
        (Literal["on", "off"], "on", "on", "on"),
    ],
)
def test_annotated_non_objects_are_wrapped_in_result(annotation, value, structured, text):
    result = call(returning(value, annotation))
    assert result == {"content": [{"type": "text", "text": text}], "structuredContent": {"result": structured}}


@pytest.mark.parametrize(
    ("annotation", "value", "structured"),
    [
        (dict[str, int], {"a": 1}, {"a": 1}),
        (Profile, Profile(id=1, name="Ada"), {"id": 1, "name": "Ada"}),
        (Profile, {"id": "2", "name": "Alan"}, {"id": 2, "name": "Alan"}),
        (Point, Point(1.0, 2.5), {"x": 1.0, "y": 2.5}),
        (Counts, {"words": 3}, {"words": 3}),
    ],
)
def test_annotated_objects_are_structured_content_plus_json_text(annotation, value, structured):
    result = call(returning(value, annotation))
    assert result["structuredContent"] == structured
    assert json.loads(result["content"][0]["text"]) == structured
    assert "isError" not in result


def test_unannotated_dict_is_structured():
    result = call(returning({"b": [1, 2], "a": None}))
    assert result["structuredContent"] == {"b": [1, 2], "a": None}
    assert result["content"] == [{"type": "text", "text": '{"b":[1,2],"a":null}'}]


def test_unannotated_model_is_json_text_only():
    assert call(returning(Profile(id=7, name="Grace"))) == text_only('{"id":7,"name":"Grace"}')


def test_return_value_not_matching_annotation_is_an_error():
    result = call(returning("not a number", int))
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith(
        "Tool 't' returned a value that does not match its return type: "
    )


def test_bytes_become_an_embedded_blob():
    result = call(returning(b"\x00\xffdata", bytes))
    assert result == {"content": [{"type": "resource", "resource": {
        "uri": "sandgate://blob/t",
        "mimeType": "application/octet-stream",
        "blob": base64.b64encode(b"\x00\xffdata").decode(),
    }}]}


def test_image_and_audio_helpers():
    result = call(returning([Image(b"png", "image/png"), Audio(b"wav", mime_type="audio/wav")]))
    assert result["content"] == [
        {"type": "image", "data": base64.b64encode(b"png").decode(), "mimeType": "image/png"},
        {"type": "audio", "data": base64.b64encode(b"wav").decode(), "mimeType": "audio/wav"},
    ]


def test_unannotated_list_becomes_several_content_items():
    result = call(returning(["a", {"k": 1}, 3, None, b"x"]))
    assert [item["type"] for item in result["content"]] == ["text", "text", "text", "resource"]
    assert [item.get("text") for item in result["content"][:3]] == ["a", '{"k":1}', "3"]
    assert "structuredContent" not in result


def test_content_blocks_pass_through():
    link = {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt"}
    text = mcp.types.TextContent(type="text", text="from the sdk")
    result = call(returning([link, text]))
    assert result["content"] == [link, {"type": "text", "text": "from the sdk"}]


def test_single_content_block_dict_is_not_structured():
    block = {"type": "image", "data": "aGk=", "mimeType": "image/gif"}
    assert call(returning(block)) == {"content": [block]}


def test_data_dict_with_a_type_key_stays_structured():
    data = {"type": "text", "count": 3}
    assert call(returning(data))["structuredContent"] == data


def test_none_is_empty_content():
    assert call(returning(None)) == {"content": []}
    assert call(returning(None, None)) == {"content": []}


def test_non_finite_floats_stay_valid_json():
    result = call(returning(float("inf"), float))
    assert result["structuredContent"] == {"result": None}
