"""A tool that asks by returning InputRequired, for test_round_trips.py: `sandgate serve servers/round_trips.py`.

`book` asks for a date (elicitation), then for a confirmation, carrying the date in its request_state;
`peek` returns what it was given as state, so a test sees what the gateway opened.
"""

from __future__ import annotations

from typing import Any

from sandgate import Context, InputRequired, MCPServer

server = MCPServer("sandgate-round-trips", version="1.0.0")


def form(message: str, field: str, kind: str = "string") -> dict[str, Any]:
    return {"method": "elicitation/create", "params": {"message": message, "requestedSchema": {
        "type": "object", "properties": {field: {"type": kind}}, "required": [field]}}}


def answer(ctx: Context, key: str, field: str) -> Any:
    value = (ctx.input_responses or {}).get(key)
    if isinstance(value, dict) and value.get("action") == "accept" and isinstance(value.get("content"), dict):
        return value["content"].get(field)
    return None


@server.tool
def book(ctx: Context) -> Any:
    state = ctx.request_state
    if state is None:
        date = answer(ctx, "date", "date")
        if not isinstance(date, str):
            return InputRequired({"date": form("Which date?", "date")})
        return InputRequired({"confirm": form(f"Book {date}?", "ok", "boolean")}, request_state=f"date={date}")
    if answer(ctx, "confirm", "ok") is True:
        return f"booked {state.removeprefix('date=')}"
    return InputRequired({"confirm": form("Please confirm", "ok", "boolean")}, request_state=state)


@server.tool(isolation="none")
def book_here(ctx: Context) -> Any:
    return book(ctx)


@server.tool
def sample_only(ctx: Context) -> Any:
    if (ctx.input_responses or {}).get("s"):
        return "sampled"
    return InputRequired({"s": {"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}}})


@server.tool
def no_requests(ctx: Context) -> Any:
    return InputRequired({})
