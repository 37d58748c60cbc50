"""completion/complete in the Dispatcher: a server's handler with fastmcp's call shape, the values inferred
from Literal and Enum arguments, and what is refused."""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from sandgate import Completion, MCPServer, PromptReference, ResourceTemplateReference
from sandgate.dispatch import INTERNAL_ERROR, INVALID_PARAMS, OK, RESOURCE_NOT_FOUND


class Colour(enum.Enum):
    RED = "red"
    ROSE = "rose"
    BLUE = "blue"


def make_server() -> MCPServer:
    server = MCPServer("complete")

    @server.prompt
    def paint(colour: Colour, finish: Literal["matte", "metallic", "gloss"], note: str = "") -> str:
        return f"{colour} {finish} {note}"

    @server.prompt
    def pick(size: Annotated[Literal[1, 2, 10] | None, Field(description="how many")] = None) -> str:
        return str(size)

    @server.resource("shop://{city}/{aisle}")
    def aisle(city: Literal["paris", "park city", "oslo"], aisle: str) -> str:
        return f"{city} {aisle}"

    return server


def complete(server: MCPServer, ref: dict[str, Any], name: str, value: str,
             context: dict[str, Any] | None = None) -> tuple[int, Any]:
    params: dict[str, Any] = {"ref": ref, "argument": {"name": name, "value": value}}
    if context is not None:
        params["context"] = context
    status, body = server.dispatcher().call("completion/complete", ref.get("name") or ref.get("uri"),
                                            json.dumps(params), "{}", None, "")
    return status, json.loads(body)


PAINT = {"type": "ref/prompt", "name": "paint"}
AISLE = {"type": "ref/resource", "uri": "shop://{city}/{aisle}"}


@pytest.mark.parametrize(("ref", "name", "value", "values"), [
    (PAINT, "colour", "r", ["red", "rose"]),
    (PAINT, "colour", "", ["red", "rose", "blue"]),
    (PAINT, "finish", "m", ["matte", "metallic"]),
    (PAINT, "note", "", []),  # a plain string: nothing to offer
    (PAINT, "missing", "", []),
    ({"type": "ref/prompt", "name": "pick"}, "size", "1", ["1", "10"]),
    (AISLE, "city", "pa", ["paris", "park city"]),
    (AISLE, "aisle", "", []),
])
def test_without_a_handler_literal_and_enum_arguments_complete_from_their_values(ref, name, value, values):
    assert complete(make_server(), ref, name, value) == (OK, {"completion": {"values": values}})


def test_a_handler_gets_fastmcps_arguments_and_its_values_are_sent():
    server = make_server()
    seen: list[Any] = []

    @server.completion
    def handler(ref, argument, context):
        seen.append((ref, argument.name, argument.value, context.arguments if context else None))
        if isinstance(ref, PromptReference) and argument.name == "note":
            return [n for n in ("nice", "neat", "bold") if n.startswith(argument.value)]
        if isinstance(ref, ResourceTemplateReference):
            return Completion(values=["aisle-1"], total=40, has_more=True)
        return None  # not handled: the argument's own values

    assert complete(server, PAINT, "note", "n", {"arguments": {"colour": "red"}}) == (
        OK, {"completion": {"values": ["nice", "neat"]}})
    assert complete(server, AISLE, "aisle", "") == (
        OK, {"completion": {"values": ["aisle-1"], "total": 40, "hasMore": True}})
    assert complete(server, PAINT, "colour", "b") == (OK, {"completion": {"values": ["blue"]}})
    assert seen[0] == (PromptReference("paint"), "note", "n", {"colour": "red"})
    assert seen[1][0] == ResourceTemplateReference("shop://{city}/{aisle}")


def test_an_async_handler_is_awaited():
    server = make_server()

    @server.completion()
    async def handler(ref, argument, context):
        return ["later"]

    assert complete(server, PAINT, "note", "") == (OK, {"completion": {"values": ["later"]}})


def test_more_than_a_hundred_values_are_cut_and_say_so():
    server = make_server()
    server.completion(lambda ref, argument, context: [f"v{i}" for i in range(150)])
    status, body = complete(server, PAINT, "note", "")
    assert status == OK
    assert body["completion"]["values"] == [f"v{i}" for i in range(100)]
    assert (body["completion"]["total"], body["completion"]["hasMore"]) == (150, True)


@pytest.mark.parametrize("answer", ["abc", [1, 2], [None]])
def test_a_handler_answer_that_is_no_list_of_strings_is_an_internal_error(answer):
    server = make_server()
    server.completion(lambda ref, argument, context: answer)
    status, body = complete(server, PAINT, "note", "")
    assert status == INTERNAL_ERROR
    assert "completion handler" in body["message"]


def test_an_unknown_prompt_or_template_is_named():
    server = make_server()
    assert complete(server, {"type": "ref/prompt", "name": "nope"}, "a", "")[0] == INVALID_PARAMS
    status, body = complete(server, {"type": "ref/resource", "uri": "shop://{x}"}, "x", "")
    assert status == RESOURCE_NOT_FOUND
    assert body["data"] == {"uri": "shop://{x}"}


def test_a_server_has_one_handler():
    server = make_server()
    server.completion(lambda ref, argument, context: None)
    with pytest.raises(Exception, match="one completion handler"):
        server.completion(lambda ref, argument, context: None)
