"""ctx.read_resource: the handler's read goes where the server's resources run, and comes back as fastmcp's
ResourceResult shape; a failed read raises what a client would be told."""

from __future__ import annotations

import asyncio

import pytest

from sandgate import Context, MCPServer, ResourceNotFound, SandgateError
from sandgate.dispatch import failure_of
from sandgate.resource_reads import result_of


def reading_server() -> MCPServer:
    server = MCPServer("reading")

    @server.resource("note://{name}", mime_type="text/plain")
    def note(name: str) -> str:
        return f"note {name}"

    @server.resource("blob://one")
    def blob() -> bytes:
        return b"\x00\xff"

    @server.tool(isolation="none")
    async def read(uri: str, ctx: Context) -> str:
        result = await ctx.read_resource(uri)
        return f"{result.contents[0].mime_type}: {result.contents[0].content!r}"

    return server


def test_result_of_gives_text_and_bytes_with_their_types():
    result = result_of('{"contents":[{"uri":"a://b","mimeType":"text/plain","text":"hi"},'
                       '{"uri":"c://d","mimeType":"application/octet-stream","blob":"AP8="}],"_meta":{"k":1}}')
    assert [(c.uri, c.mime_type, c.content) for c in result.contents] == [
        ("a://b", "text/plain", "hi"), ("c://d", "application/octet-stream", b"\x00\xff")]
    assert result.meta == {"k": 1}


def test_a_failed_read_raises_what_the_client_would_be_told():
    assert isinstance(failure_of(2, '{"message":"Resource not found","data":{"uri":"x://y"}}'), ResourceNotFound)
    error = failure_of(3, "not json")
    assert type(error) is SandgateError and error.message == "the read failed"


def test_an_in_process_handler_reads_in_process_when_resources_run_here():
    dispatcher = reading_server().dispatcher()
    dispatcher.attach_resource_plan(lambda: ("none",))
    status, body = dispatcher.call("tools/call", "read", '{"uri":"note://x"}', "{}", lambda *a: None)
    assert status == 0 and "text/plain: 'note x'" in body
    status, body = dispatcher.call("tools/call", "read", '{"uri":"blob://one"}', "{}", lambda *a: None)
    assert status == 0 and "application/octet-stream: b'\\\\x00\\\\xff'" in body


def test_a_sandboxed_plan_without_a_sandbox_is_refused_not_run_here():
    dispatcher = reading_server().dispatcher()
    dispatcher.attach_resource_plan(lambda: ("per_call", 30, 10, 1 << 30, 1 << 20, 64, 256, 1 << 20, 1 << 24))
    with pytest.raises(SandgateError, match="no sandbox runs"):
        asyncio.run(dispatcher.read_for_handler("note://x"))
    with pytest.raises(ResourceNotFound):
        asyncio.run(dispatcher.read_for_handler("nothing://here"))


def test_a_context_serving_no_request_has_nothing_to_read():
    with pytest.raises(ResourceNotFound):
        asyncio.run(Context().read_resource("note://x"))
