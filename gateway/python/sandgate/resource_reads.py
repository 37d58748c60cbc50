"""A handler reading one of its server's resources (`await ctx.read_resource(uri)`), as fastmcp's Context does.

The resource runs where the server's resources run: inside a sandboxed call, in that same call's sandbox (the
module's own code, under the call's limits); in a trusted in-process handler, in process when the policy's plan
for resources says "none", else in a call child of its own. Its answer comes back as a `ResourceResult`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# uri -> the read's ReadResourceResult JSON text; raises what the read raised.
Reader = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ResourceContent:
    """One item of a read: `content` is text, or bytes for a blob (fastmcp's names)."""

    content: str | bytes
    mime_type: str | None = None
    uri: str = ""
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ResourceResult:
    contents: list[ResourceContent] = field(default_factory=list)
    meta: dict[str, Any] | None = None


def result_of(read_json: str) -> ResourceResult:
    """The ReadResourceResult JSON a read produced, as fastmcp's ResourceResult has it."""
    result = json.loads(read_json)
    contents = []
    for item in result.get("contents", []):
        content: str | bytes = (item["text"] if "text" in item
                                else base64.b64decode(item.get("blob", ""), validate=True))
        contents.append(ResourceContent(content, item.get("mimeType"), item.get("uri", ""), item.get("_meta")))
    return ResourceResult(contents, result.get("_meta"))

