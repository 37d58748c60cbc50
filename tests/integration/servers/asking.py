"""Handlers that ask their client, for test_client_requests.py: `sandgate serve servers/asking.py`.

Each asks in-process (`*_here`) and sandboxed per call or on a session's worker: the client's model
(`ctx.sample`), the user (`ctx.elicit`, a typed form and a raw JSON Schema; `ctx.elicit_url`, out of band),
the client's roots.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandgate import Context, MCPServer, URLElicitation, URLElicitationRequired

server = MCPServer("sandgate-asking", version="1.0.0")


async def summarize(topic: str, ctx: Context) -> str:
    answer = await ctx.sample(f"Summarize {topic}", system_prompt="Be brief", max_tokens=50)
    return f"{answer.role}/{answer.model}: {answer.text}"


@dataclass
class Person:
    name: str
    age: int


async def register(ctx: Context) -> str:
    answer = await ctx.elicit("Who are you?", Person)
    if answer.action != "accept":
        return answer.action
    return f"{answer.data.name} is {answer.data.age}"


async def choose(ctx: Context) -> str:
    answer = await ctx.elicit("Pick a colour", ["red", "green"])
    return answer.data if answer.action == "accept" else answer.action


async def roots(ctx: Context) -> str:
    found = await ctx.list_roots()
    return ", ".join(f"{root.name}={root.uri}" for root in found)


async def everything(ctx: Context) -> str:
    """Three round trips in one call, each answered to this call."""
    first = await ctx.sample("one", max_tokens=5)
    chosen = await ctx.elicit("Pick a colour", ["red", "green"])
    found = await ctx.list_roots()
    return f"{first.text}|{chosen.data}|{len(found)}"


async def sign_in(url: str, ctx: Context) -> str:
    """Sends the user to `url` (a URL elicitation) and says what they did."""
    answer = await ctx.elicit_url("Sign in to continue", url, elicitation_id="sign-in-1")
    return f"{answer.action} {getattr(answer, 'data', None)}"


async def sign_in_and_confirm(url: str, ctx: Context) -> str:
    """Sends the user to `url`, then tells the client the elicitation completed."""
    answer = await ctx.elicit_url("Sign in to continue", url, elicitation_id="sign-in-2")
    await ctx.notify_elicitation_complete("sign-in-2")
    return answer.action


async def needs_sign_in(ctx: Context) -> str:
    """Cannot go on until the user signed in: the request's -32042, not a tool error."""
    raise URLElicitationRequired([URLElicitation("Sign in first", "https://login.example/a", "auth-1"),
                                  URLElicitation("And here", "https://login.example/b", "auth-2")])


for fn in (summarize, register, choose, roots, everything, sign_in, sign_in_and_confirm, needs_sign_in):
    server.tool(fn, name=f"{fn.__name__}_here", isolation="none")
    server.tool(fn, name=f"{fn.__name__}_sandboxed")
server.tool(everything, name="everything_per_session", isolation="per_session")


async def whoami(ctx: Context) -> str:
    return f"request {ctx.request_id!r}, client {ctx.client_id!r}"


server.tool(whoami, name="whoami_here", isolation="none")
server.tool(whoami, name="whoami_sandboxed")
