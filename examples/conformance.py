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

from sandgate import Audio, Context, Image, InputRequired, MCPServer

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


JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                          "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
                   "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                   "phone": {"type": "string"}, "email": {"type": "string"}},
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@server.tool(description="Tool with JSON Schema 2020-12 features", input_schema=JSON_SCHEMA_2020_12)
def json_schema_2020_12_tool(name: str = "", address: dict[str, Any] | None = None, contactMethod: str = "",
                             phone: str = "", email: str = "") -> str:
    return f"{name} by {contactMethod or 'any'}"


# ------------------------------------------- 2026-07-28 multi-round-trip requests (SEP-2322)
# Each tool asks by returning InputRequired and reads the client's answers from ctx.input_responses
# when it runs again; the gateway seals request_state and refuses a changed one.


def ask_form(message: str, field: str, kind: str = "string") -> dict[str, Any]:
    return {"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}}}


def ask_model(text: str, max_tokens: int = 100) -> dict[str, Any]:
    return {"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens}}


ASK_ROOTS = {"method": "roots/list", "params": {}}


def accepted(ctx: Context, key: str, field: str) -> Any:
    """The accepted elicitation's `field` answered under `key`, or None (missing, declined, malformed)."""
    answer = (ctx.input_responses or {}).get(key)
    if isinstance(answer, dict) and answer.get("action") == "accept" and isinstance(answer.get("content"), dict):
        return answer["content"].get(field)
    return None


def sampled_text(ctx: Context, key: str) -> str | None:
    answer = (ctx.input_responses or {}).get(key)
    content = answer.get("content") if isinstance(answer, dict) else None
    return content.get("text") if isinstance(content, dict) else None


def listed_roots(ctx: Context, key: str) -> list[Any] | None:
    answer = (ctx.input_responses or {}).get(key)
    roots = answer.get("roots") if isinstance(answer, dict) else None
    return roots if isinstance(roots, list) else None


@server.tool(description="MRTR: asks the user's name by elicitation, then greets them")
def test_input_required_result_elicitation(ctx: Context) -> Any:
    name = accepted(ctx, "user_name", "name")
    if not isinstance(name, str):
        return InputRequired({"user_name": ask_form("What is your name?", "name")})
    return f"Hello, {name}!"


@server.tool(description="MRTR: asks the client's model a question")
def test_input_required_result_sampling(ctx: Context) -> Any:
    text = sampled_text(ctx, "capital_question")
    if text is None:
        return InputRequired({"capital_question": ask_model("What is the capital of France?")})
    return f"The model said: {text}"


@server.tool(description="MRTR: asks the client for its roots")
def test_input_required_result_list_roots(ctx: Context) -> Any:
    roots = listed_roots(ctx, "client_roots")
    if roots is None:
        return InputRequired({"client_roots": ASK_ROOTS})
    return "Roots: " + ", ".join(str(root.get("uri")) for root in roots if isinstance(root, dict))


@server.tool(description="MRTR: asks for a confirmation and carries state across the round")
def test_input_required_result_request_state(ctx: Context) -> Any:
    if ctx.request_state == "confirm-pending" and accepted(ctx, "confirm", "ok") is not None:
        return "state-ok: requestState validated"
    return InputRequired({"confirm": ask_form("Please confirm", "ok", "boolean")}, request_state="confirm-pending")


@server.tool(description="MRTR: asks for three inputs at once")
def test_input_required_result_multiple_inputs(ctx: Context) -> Any:
    name, greeting, roots = accepted(ctx, "user_name", "name"), sampled_text(ctx, "greeting"), listed_roots(
        ctx, "client_roots")
    if ctx.request_state == "multi" and name is not None and greeting is not None and roots is not None:
        return f"{greeting} {name} ({len(roots)} roots)"
    return InputRequired({"user_name": ask_form("What is your name?", "name"),
                          "greeting": ask_model("Generate a greeting", 50), "client_roots": ASK_ROOTS},
                         request_state="multi")


@server.tool(description="MRTR: two rounds of questions, then the answer")
def test_input_required_result_multi_round(ctx: Context) -> Any:
    state = ctx.request_state or ""
    if state.startswith("round-2:") and accepted(ctx, "step2", "color") is not None:
        return f"{state.removeprefix('round-2:')} likes {accepted(ctx, 'step2', 'color')}"
    if state == "round-1" and isinstance(accepted(ctx, "step1", "name"), str):
        return InputRequired({"step2": ask_form("Step 2: What is your favorite color?", "color")},
                             request_state="round-2:" + accepted(ctx, "step1", "name"))
    return InputRequired({"step1": ask_form("Step 1: What is your name?", "name")}, request_state="round-1")


@server.tool(description="MRTR: a sealed requestState; a changed one is refused by the gateway")
def test_input_required_result_tampered_state(ctx: Context) -> Any:
    if ctx.request_state == "tamper-test" and accepted(ctx, "confirm", "ok") is not None:
        return "state intact"
    return InputRequired({"confirm": ask_form("Please confirm", "ok", "boolean")}, request_state="tamper-test")


@server.tool(description="MRTR: asks only for what this request's client declared")
def test_input_required_result_capabilities(ctx: Context) -> Any:
    if ctx.input_responses:
        return "Inputs received"
    declared = ctx.client_capabilities
    requests = {}
    if "elicitation" in declared:
        requests["elicit_input"] = ask_form("What is your name?", "name")
    if "sampling" in declared:
        requests["sample_input"] = ask_model("Say hello", 50)
    return InputRequired(requests) if requests else "No input capability declared"


@server.tool(description="Test tool requiring sampling")
def test_missing_capability(ctx: Context) -> Any:
    if sampled_text(ctx, "sample") is not None:
        return "Success"
    return InputRequired({"sample": ask_model("Say hello", 10)})


@server.prompt(description="MRTR: a prompt that asks for its context first")
def test_input_required_result_prompt(ctx: Context) -> Any:
    context = accepted(ctx, "user_context", "context")
    if not isinstance(context, str):
        return InputRequired({"user_context": ask_form("What context should the prompt use?", "context")})
    return f"Use this context: {context}"


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


PARAM_HEADER_SCHEMA = {"type": "object", "required": ["region"],
                       "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}


@server.tool(description="Routes on its region: a client mirrors it into the Mcp-Param-Region header (SEP-2243)",
             input_schema=PARAM_HEADER_SCHEMA)
def test_param_header(region: str) -> str:
    return f"deployed to {region}"


@server.tool(description="Diagnostic tool: announces that the tool list changed (to subscriptions/listen streams)")
async def test_trigger_tool_change(ctx: Context) -> str:
    await ctx.notify_list_changed("tools")
    return "tools list changed"


@server.tool(description="Diagnostic tool: announces that the prompt list changed")
async def test_trigger_prompt_change(ctx: Context) -> str:
    await ctx.notify_list_changed("prompts")
    return "prompts list changed"


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

