"""The example module served by `make run` behaves as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import check_mcp
from sandgate import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tools.py"


@pytest.fixture
def dispatcher(restore_imports):
    return cli.load_server(str(EXAMPLES)).dispatcher()


def call_tool(dispatcher, name: str, arguments: dict) -> dict:
    status, text = dispatcher.call("tools/call", name, json.dumps(arguments), "{}", None)
    assert status == 0
    result = json.loads(text)
    check_mcp("CallToolResult", result)
    return result


def test_catalog_is_valid_mcp(dispatcher):
    catalog = json.loads(dispatcher.catalog_json())
    assert [tool["name"] for tool in catalog["tools"]] == [
        "add", "multiply", "word_count", "slugify", "reverse_words", "slow_echo", "fail", "describe_user"
    ]
    for kind, definition in [("tools", "Tool"), ("resources", "Resource"),
                             ("resourceTemplates", "ResourceTemplate"), ("prompts", "Prompt")]:
        assert catalog[kind], kind
        for item in catalog[kind]:
            check_mcp(definition, item)
    slow_echo = catalog["tools"][5]["inputSchema"]["properties"]["delay_s"]
    assert (slow_echo["maximum"], slow_echo["default"]) == (30, 1.0)


@pytest.mark.parametrize(
    ("tool", "arguments", "structured", "text"),
    [
        ("add", {"a": 2, "b": 3}, {"result": 5}, "5"),
        ("multiply", {"a": 1.5, "b": 4}, {"result": 6.0}, "6.0"),
        ("word_count", {"text": "one two\nthree"}, {"words": 3, "characters": 13, "lines": 2},
         '{"words":3,"characters":13,"lines":2}'),
        ("slugify", {"text": "Héllo, Wörld!"}, None, "hello-world"),
        ("reverse_words", {"text": "a b c"}, None, "c b a"),
        ("slow_echo", {"text": "later", "delay_s": 0}, None, "later"),
    ],
)
def test_tools(dispatcher, tool, arguments, structured, text):
    result = call_tool(dispatcher, tool, arguments)
    assert result.get("structuredContent") == structured
    assert result["content"] == [{"type": "text", "text": text}]


def test_bounded_delay_and_failing_tool(dispatcher):
    too_slow = call_tool(dispatcher, "slow_echo", {"text": "x", "delay_s": 31})
    assert too_slow["content"][0]["text"] == (
        "Invalid arguments for tool 'slow_echo': delay_s: Input should be less than or equal to 30"
    )
    assert call_tool(dispatcher, "fail", {"message": "on purpose"})["content"][0]["text"] == (
        "ValueError: on purpose"
    )


def test_describe_user_is_structured(dispatcher):
    result = call_tool(dispatcher, "describe_user", {"user_id": 1})
    assert result["structuredContent"] == {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com",
                                           "roles": ["admin"]}


def test_resources_and_prompt(dispatcher):
    status, text = dispatcher.call("resources/read", "users://2/profile", "{}", "{}", None)
    assert status == 0
    assert json.loads(json.loads(text)["contents"][0]["text"])["name"] == "Alan Turing"
    assert dispatcher.call("resources/read", "users://5/profile", "{}", "{}", None)[0] == 2
    status, text = dispatcher.call("resources/read", "config://app", "{}", "{}", None)
    assert json.loads(json.loads(text)["contents"][0]["text"])["max_upload_mib"] == 16
    status, text = dispatcher.call("prompts/get", "summarize", '{"text":"T","style":"short"}', "{}", None)
    assert json.loads(text)["messages"][0]["content"]["text"] == "Summarize the following text in one sentence:\n\nT"
