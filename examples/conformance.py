"""Fixtures for the official MCP conformance suite.

Serves the tools, resources and prompts that the server scenarios of
@modelcontextprotocol/conformance call by name:

    python -m sandgate serve examples/conformance.py --port 0

`make test` runs the suite against this server through
tests/conformance/test_conformance.py; scenarios the gateway does not pass
yet are listed, with their issue, in tests/conformance/expected-failures-*.yaml.
"""

import asyncio
import base64
import json
from typing import Any

from sandgate import Audio, Context, Image, MCPServer

server = MCPServer("sandgate-conformance", version="1.0.0")

# A 1x1 red PNG and a minimal WAV, the same payloads as the suite's reference server.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV_MINIMAL = base64.b64decode("UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=")
PNG_1X1_B64 = base64.b64encode(PNG_1X1).decode("ascii")


# ---------------------------------------------------------------- tools
# Registration order matters: http-header-validation calls the first listed
# tool with empty arguments and expects a successful result.
# Tools returning content blocks are annotated `Any`: a `dict` or `list`
# annotation would declare structured output instead of content.


@server.tool(description="Tests simple text content response")
def test_simple_text() -> str:
    return "This is a simple text response for testing."


@server.tool(description="Tests image content response")
def test_image_content() -> Image:
    return Image(PNG_1X1, mime_type="image/png")


@server.tool(description="Tests audio content response")
def test_audio_content() -> Audio:
    return Audio(WAV_MINIMAL, mime_type="audio/wav")


@server.tool(description="Tests embedded resource content response")
def test_embedded_resource() -> Any:
    return {
        "type": "resource",
        "resource": {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content.",
        },
    }


@server.tool(description="Tests response with multiple content types (text, image, resource)")
def test_multiple_content_types() -> Any:
    return [
        "Multiple content types test:",
        Image(PNG_1X1, mime_type="image/png"),
        {
            "type": "resource",
            "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": json.dumps({"test": "data", "value": 123}, separators=(",", ":")),
            },
        },
    ]


@server.tool(description="Tests tool that emits log messages during execution")
async def test_tool_with_logging(ctx: Context) -> str:
    # Sandboxed: each message crosses the call socket and reaches the client as notifications/message.
    await ctx.info("Tool execution started")
    await asyncio.sleep(0.05)
    await ctx.info("Tool processing data")
    await asyncio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool(description="Tests tool that reports progress notifications")
async def test_tool_with_progress(ctx: Context) -> str:
    # Sandboxed: the child's reports reach the client as notifications/progress when it sent a token.
    for step in (0, 50, 100):
        if step:
            await asyncio.sleep(0.05)
        await ctx.report_progress(step, 100, f"Completed step {step} of 100")
    return "Tool with progress executed successfully"


@server.tool(description="Tests server-to-client sampling: asks the client's model")
async def test_sampling(prompt: str, ctx: Context) -> str:
    answer = await ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {answer.text}"


@server.tool(description="Tests server-to-client elicitation: asks the user for a username and email")
async def test_elicitation(message: str, ctx: Context) -> str:
    schema = {"type": "object", "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    }, "required": ["username", "email"]}
    answer = await ctx.elicit(message, schema)
    content = json.dumps(answer.data) if answer.action == "accept" else "{}"
    return f"User response: action={answer.action}, content={content}"


@server.tool(description="Tests elicitation with default values for every primitive type (SEP-1034)")
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    schema = {"type": "object", "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                   "default": "active"},
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    }, "required": []}
    answer = await ctx.elicit("Please review and update the form fields with defaults", schema)
    content = json.dumps(answer.data) if answer.action == "accept" else "{}"
    return f"Elicitation completed: action={answer.action}, content={content}"


@server.tool(description="Tests the enum forms of elicitation schemas (SEP-1330)")
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    schema = {"type": "object", "properties": {
        "untitledSingle": {"type": "string", "description": "Pick one", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "description": "Pick one", "oneOf": [
            {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"},
            {"const": "value3", "title": "Third Option"}]},
        "legacyEnum": {"type": "string", "description": "Pick one", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "description": "Pick some", "minItems": 1, "maxItems": 3,
                          "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "description": "Pick some", "minItems": 1, "maxItems": 3,
                        "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                            {"const": "value2", "title": "Second Choice"},
                                            {"const": "value3", "title": "Third Choice"}]}},
    }, "required": []}
    answer = await ctx.elicit("Please select options from the enum fields", schema)
    content = json.dumps(answer.data) if answer.action == "accept" else "{}"
    return f"Elicitation completed: action={answer.action}, content={content}"


@server.tool(description="Tests error response handling")
def test_error_handling() -> str:
    raise RuntimeError("This tool intentionally returns an error for testing")


# Diagnostic tools of the 2026-07-28 server-stateless scenario.


@server.tool(description="Diagnostic tool: its response stream must carry no server-to-client requests")
def test_streaming_elicitation() -> str:
    return "Streaming complete"


@server.tool(description="Diagnostic tool: must not log unless the request sets a log level")
async def test_logging_tool(ctx: Context) -> str:
    # The gateway sends it only when the request asked for log messages by its _meta log level.
    await ctx.info("Logging evaluated")
    return "Logging evaluated"


# ---------------------------------------------------------------- resources


@server.resource(
    "test://static-text",
    name="static-text",
    description="A static text resource for testing",
    mime_type="text/plain",
)
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource(
    "test://static-binary",
    name="static-binary",
    description="A static binary resource (image) for testing",
    mime_type="image/png",
)
def static_binary() -> bytes:
    return PNG_1X1


@server.resource(
    "test://template/{id}/data",
    name="template",
    description="A resource template with parameter substitution",
    mime_type="application/json",
)
def template_data(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.resource(
    "test://watched-resource",
    name="watched-resource",
    description="A resource for subscription tests",
    mime_type="text/plain",
)
def watched_resource() -> str:
    return "Watched resource content"


# ---------------------------------------------------------------- prompts


@server.prompt(description="A simple prompt without arguments")
def test_simple_prompt() -> str:
    return "This is a simple prompt for testing."


@server.prompt(description="A prompt with required arguments")
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(description="A prompt that includes an embedded resource")
def test_prompt_with_embedded_resource(resourceUri: str) -> list:
    return [
        {
            "role": "user",
            "content": {
                "type": "resource",
                "resource": {
                    "uri": resourceUri,
                    "mimeType": "text/plain",
                    "text": "Embedded resource content for testing.",
                },
            },
        },
        {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}},
    ]


@server.prompt(description="A prompt that includes image content")
def test_prompt_with_image() -> list:
    return [
        {"role": "user", "content": {"type": "image", "data": PNG_1X1_B64, "mimeType": "image/png"}},
        {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}},
    ]

