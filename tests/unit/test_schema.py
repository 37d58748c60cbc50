"""Input and output JSON Schemas generated from handler signatures."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, Optional

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from sandgate import ConfigError, Context, MCPServer


class Address(BaseModel):
    street: str
    zip_code: str = Field(description="Postal code")


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Counts(TypedDict):
    words: int
    lines: int


def definition(fn, **options):
    server = MCPServer("schema-test")
    return server.add_tool(fn, **options).definition()


def test_plain_parameters_and_defaults():
    def greet(name: str, times: int = 2, loud: bool = False) -> str:
        return name

    schema = definition(greet)["inputSchema"]
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "times": {"type": "integer", "default": 2},
            "loud": {"type": "boolean", "default": False},
        },
        "required": ["name"],
    }


def test_optional_literal_and_annotated_description():
    def search(
        query: Annotated[str, Field(description="What to look for", min_length=1)],
        limit: Optional[int] = None,
        order: Literal["asc", "desc"] = "asc",
    ) -> str:
        return query

    properties = definition(search)["inputSchema"]["properties"]
    assert properties["query"] == {"type": "string", "description": "What to look for", "minLength": 1}
    assert properties["limit"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert properties["order"] == {"type": "string", "enum": ["asc", "desc"], "default": "asc"}
    assert definition(search)["inputSchema"]["required"] == ["query"]


def test_model_parameter_goes_to_defs():
    def ship(address: Address) -> str:
        return address.street

    schema = definition(ship)["inputSchema"]
    assert schema["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert schema["$defs"]["Address"]["properties"]["zip_code"]["description"] == "Postal code"
    assert schema["$defs"]["Address"]["required"] == ["street", "zip_code"]
    Draft202012Validator.check_schema(schema)
    assert Draft202012Validator(schema).is_valid({"address": {"street": "Main", "zip_code": "1"}})
    assert not Draft202012Validator(schema).is_valid({"address": {"street": "Main"}})


def test_context_parameter_is_not_exposed():
    def tool_with_context(text: str, ctx: Context) -> str:
        return text

    schema = definition(tool_with_context)["inputSchema"]
    assert list(schema["properties"]) == ["text"]
    assert schema["required"] == ["text"]


def test_parameter_names_that_clash_with_pydantic_keep_their_names():
    def clash(json: str, schema: int = 1, model_config: str = "x") -> str:
        return json

    input_schema = definition(clash)["inputSchema"]
    assert list(input_schema["properties"]) == ["json", "schema", "model_config"]
    assert input_schema["required"] == ["json"]


@pytest.mark.parametrize(
    "source",
    [
        "def f(*values: int) -> int: return 0",
        "def f(**options: int) -> int: return 0",
        "def f(a: int, /) -> int: return a",
    ],
)
def test_variadic_and_positional_only_parameters_are_rejected(source):
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(ConfigError) as caught:
        definition(namespace["f"])
    assert caught.value.code == "config.invalid"


def test_unresolvable_annotation_is_a_config_error():
    def broken(x: "NoSuchType") -> str:  # noqa: F821
        return ""

    with pytest.raises(ConfigError, match="NoSuchType"):
        definition(broken)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
    ],
)
def test_non_object_return_types_are_wrapped(returns, expected):
    def f():
        return None

    f.__annotations__["return"] = returns
    assert definition(f)["outputSchema"] == {
        "type": "object",
        "properties": {"result": expected},
        "required": ["result"],
        "x-sandgate-wrap-result": True,
        "x-fastmcp-wrap-result": True,
    }


@pytest.mark.parametrize(
    ("returns", "properties"),
    [(Address, ["street", "zip_code"]), (Point, ["x", "y"]), (Counts, ["words", "lines"])],
)
def test_object_return_types_are_the_output_schema(returns, properties):
    def f():
        return None

    f.__annotations__["return"] = returns
    schema = definition(f)["outputSchema"]
    assert schema["type"] == "object"
    assert list(schema["properties"]) == properties
    assert "x-sandgate-wrap-result" not in schema
    assert "x-fastmcp-wrap-result" not in schema


def test_dict_return_is_an_object_schema():
    def f() -> dict[str, int]:
        return {}

    assert definition(f)["outputSchema"] == {"type": "object", "additionalProperties": {"type": "integer"}}


def test_wrapped_model_list_hoists_defs():
    def f() -> list[Address]:
        return []

    schema = definition(f)["outputSchema"]
    assert schema["properties"]["result"] == {"type": "array", "items": {"$ref": "#/$defs/Address"}}
    assert "Address" in schema["$defs"]
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("returns", [str, Optional[str], bytes, None])
def test_text_and_binary_returns_have_no_output_schema(returns):
    def f():
        return None

    f.__annotations__["return"] = returns
    assert "outputSchema" not in definition(f)


def test_missing_return_annotation_has_no_output_schema():
    def f(a: int):
        return a

    assert "outputSchema" not in definition(f)


def test_description_defaults_to_cleaned_docstring():
    def documented(a: int) -> int:
        """First line.

        Detail:
            indented more.
        """
        return a

    assert definition(documented)["description"] == "First line.\n\nDetail:\n    indented more."
    assert definition(documented, description="Explicit")["description"] == "Explicit"


def test_tool_definitions_are_valid_mcp(mcp):
    def search(query: str, limit: Optional[int] = None) -> list[Address]:
        """Find addresses."""
        return []

    tool = definition(search, title="Search", annotations={"readOnlyHint": True})
    mcp("Tool", tool)
    assert tool["title"] == "Search"
    assert tool["annotations"] == {"readOnlyHint": True}
