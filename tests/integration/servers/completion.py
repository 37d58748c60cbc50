"""Prompts and a resource template to complete, for test_completion.py: `sandgate serve servers/completion.py`.

`@server.completion` answers for `poem`'s `theme` (from a coroutine); every other argument falls back
to its type: `mood` is a Literal, `style` an Enum. Asked for an argument named `probe`, the handler says
what it sees of the gateway's environment, so a test knows it ran in the sandbox (whose environment is
an allowlist), not in the gateway.
"""

from __future__ import annotations

import enum
import os
from typing import Literal

from sandgate import MCPServer, PromptReference

server = MCPServer("sandgate-completion", version="1.0.0")


class Style(enum.Enum):
    HAIKU = "haiku"
    SONNET = "sonnet"
    LIMERICK = "limerick"


@server.prompt
def poem(theme: str, mood: Literal["calm", "cheerful", "grim"] = "calm", style: Style = Style.HAIKU) -> str:
    return f"Write a {mood} {style.value} about {theme}"


@server.resource("weather://{city}/today")
def forecast(city: Literal["paris", "park city", "oslo"]) -> str:
    return f"Sunny in {city}"


@server.completion
async def complete(ref, argument, context):
    if argument.name == "probe":
        return [os.environ.get("SANDGATE_COMPLETION_PROBE", "absent")]
    if isinstance(ref, PromptReference) and ref.name == "poem" and argument.name == "theme":
        chosen = (context.arguments or {}).get("mood", "") if context else ""
        themes = ["nature", "night", "love"] if chosen != "grim" else ["nightfall", "ruin"]
        return [theme for theme in themes if theme.startswith(argument.value)]
    return None
