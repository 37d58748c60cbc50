"""Example tools, resources and a prompt; `make run` serves them with `sandgate serve`."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from sandgate import MCPServer, ResourceNotFound

server = MCPServer(
    "sandgate-examples",
    version="1.0.0",
    instructions="Arithmetic, text utilities and a small user directory for trying Sandgate.",
)


class UserProfile(BaseModel):
    id: int
    name: str
    email: str
    roles: list[str]


class WordCount(TypedDict):
    words: int
    characters: int
    lines: int


USERS: dict[int, UserProfile] = {
    1: UserProfile(id=1, name="Ada Lovelace", email="ada@example.com", roles=["admin"]),
    2: UserProfile(id=2, name="Alan Turing", email="alan@example.com", roles=["engineer"]),
}


@server.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@server.tool
def word_count(text: str) -> WordCount:
    """Count the words, characters and lines of a text."""
    return {
        "words": len(text.split()),
        "characters": len(text),
        "lines": text.count("\n") + 1 if text else 0,
    }


@server.tool
def slugify(text: Annotated[str, Field(description="Text to turn into a URL slug")]) -> str:
    """Lower-case ASCII slug of a text, words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@server.tool
def reverse_words(text: str) -> str:
    """Reverse the order of the words in a text."""
    return " ".join(reversed(text.split()))


@server.tool
async def slow_echo(
    text: str,
    delay_s: Annotated[float, Field(ge=0, le=30, description="Seconds to wait")] = 1.0,
) -> str:
    """Echo the text back after a delay, without blocking other calls."""
    await asyncio.sleep(delay_s)
    return text


@server.tool
def fail(message: str) -> str:
    """Always fail with the given message, to show how tool errors reach the client."""
    raise ValueError(message)


@server.tool(annotations={"readOnlyHint": True})
def describe_user(user_id: int) -> UserProfile:
    """Look up a user's profile by id."""
    try:
        return USERS[user_id]
    except KeyError:
        raise LookupError(f"no user with id {user_id}") from None


@server.resource("config://app", mime_type="application/json")
def app_config() -> dict[str, object]:
    """Settings of the example application."""
    return {"feature_flags": {"dark_mode": True, "beta_search": False}, "max_upload_mib": 16}


@server.resource("users://{user_id}/profile", mime_type="application/json")
def user_profile(user_id: int) -> UserProfile:
    """A user's profile as JSON."""
    if user_id not in USERS:
        raise ResourceNotFound("Resource not found", data={"uri": f"users://{user_id}/profile"})
    return USERS[user_id]


@server.prompt
def summarize(
    text: Annotated[str, Field(description="The text to summarize")],
    style: Annotated[Literal["short", "detailed"], Field(description="Summary length")] = "short",
) -> str:
    """Ask for a summary of a text."""
    length = "in one sentence" if style == "short" else "in a few paragraphs, keeping key details"
    return f"Summarize the following text {length}:\n\n{text}"


if __name__ == "__main__":
    server.run(transport="http")
