"""Prompt definitions, string argument coercion and message rendering."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import mcp.types
import pytest
from pydantic import Field

from conftest import check_mcp
from sandgate import DuplicateName, MCPServer, Message


def get(server: MCPServer, name: str, arguments: dict) -> tuple[int, dict]:
    status, text = server.dispatcher().call("prompts/get", name, json.dumps(arguments), "{}", None)
    result = json.loads(text)
    if status == 0:
        check_mcp("GetPromptResult", result)
    return status, result


def user_text(text: str) -> dict:
    return {"role": "user", "content": {"type": "text", "text": text}}


@pytest.fixture
def server() -> MCPServer:
    server = MCPServer("prompts-test")

    @server.prompt
    def summarize(
        text: Annotated[str, Field(description="Text to summarize")],
        style: Literal["short", "detailed"] = "short",
        max_words: int = 50,
    ) -> str:
        """Summarize a text."""
        return f"{style} summary under {max_words} words: {text}"

    @server.prompt(name="review", title="Code review")
    def code_review(code: str, focus: list[str] | None = None) -> list:
        return [
            Message(f"Review this code:\n{code}"),
            {"role": "assistant", "content": "Which aspects matter most?"},
            {"role": "user", "content": {"type": "text", "text": f"Focus on {focus}"}},
            mcp.types.PromptMessage(role="assistant", content=mcp.types.TextContent(type="text", text="OK")),
        ]

    @server.prompt()
    def bad_role() -> list:
        return [{"role": "system", "content": "not allowed"}]

    return server


def test_prompt_definition_lists_arguments(server, mcp):
    catalog = json.loads(server.dispatcher().catalog_json())
    summarize, review, bad_role = catalog["prompts"]
    assert summarize == {
        "name": "summarize",
        "description": "Summarize a text.",
        "arguments": [
            {"name": "text", "required": True, "description": "Text to summarize"},
            {"name": "style", "required": False},
            {"name": "max_words", "required": False},
        ],
    }
    assert review["title"] == "Code review"
    assert bad_role == {"name": "bad_role", "arguments": []}
    for prompt in catalog["prompts"]:
        mcp("Prompt", prompt)


def test_string_arguments_are_coerced(server):
    assert get(server, "summarize", {"text": "abc", "style": "detailed", "max_words": "20"}) == (0, {
        "description": "Summarize a text.",
        "messages": [user_text("detailed summary under 20 words: abc")],
    })


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "Invalid arguments for prompt 'summarize': text: Field required"),
        ({"text": "a", "style": "long"},
         "Invalid arguments for prompt 'summarize': style: Input should be 'short' or 'detailed'"),
        ({"text": "a", "max_words": "many"},
         "Invalid arguments for prompt 'summarize': max_words: Input should be a valid integer, "
         "unable to parse string as an integer"),
    ],
)
def test_missing_or_invalid_arguments_are_status_1(server, arguments, message):
    assert get(server, "summarize", arguments) == (1, {"message": message, "data": {"prompt": "summarize"}})


def test_structured_arguments_arrive_as_json_text(server):
    status, result = get(server, "review", {"code": "x = 1", "focus": '["naming", "tests"]'})
    assert status == 0
    assert result["messages"][2] == user_text("Focus on ['naming', 'tests']")


def test_message_shapes_are_rendered(server):
    status, result = get(server, "review", {"code": "x = 1"})
    assert status == 0
    assert "description" not in result
    assert result["messages"] == [
        user_text("Review this code:\nx = 1"),
        {"role": "assistant", "content": {"type": "text", "text": "Which aspects matter most?"}},
        user_text("Focus on None"),
        {"role": "assistant", "content": {"type": "text", "text": "OK"}},
    ]


def test_invalid_role_is_an_internal_error(server):
    status, result = get(server, "bad_role", {})
    assert status == 3
    assert result["message"] == (
        "Error rendering prompt 'bad_role': ValueError: prompt 'bad_role' returned a message "
        "with role 'system'"
    )


def test_message_rejects_unknown_role():
    with pytest.raises(ValueError, match="role"):
        Message("hi", role="system")  # type: ignore[arg-type]


def test_non_object_arguments_are_status_1(server):
    status, text = server.dispatcher().call("prompts/get", "summarize", '["a"]', "{}", None)
    assert status == 1
    assert json.loads(text)["message"] == (
        "Invalid arguments for prompt 'summarize': arguments must be an object of strings"
    )


def test_duplicate_prompt_is_rejected(server):
    with pytest.raises(DuplicateName, match="summarize"):
        server.add_prompt(lambda: "", name="summarize")
