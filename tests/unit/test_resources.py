"""Static resources, resource templates and reading them."""

from __future__ import annotations

import base64
import json
import re

import pytest
from pydantic import BaseModel

from conftest import check_mcp
from sandgate import ConfigError, DuplicateName, MCPServer, ResourceNotFound


class Profile(BaseModel):
    id: int
    name: str


def make_server() -> MCPServer:
    server = MCPServer("resources-test")

    @server.resource("config://app", title="App config")
    def app_config() -> dict:
        """Application settings."""
        return {"debug": False, "regions": ["eu", "us"]}

    @server.resource("text://motd")
    def motd() -> str:
        return "Welcome"

    @server.resource("file://logo.png", mime_type="image/png")
    def logo() -> bytes:
        return b"\x89PNG"

    @server.resource("users://{user_id}/profile")
    def profile(user_id: int) -> Profile:
        if user_id != 1:
            raise ResourceNotFound("Resource not found", data={"uri": f"users://{user_id}/profile"})
        return Profile(id=1, name="Ada")

    @server.resource("files://{folder}/{name}", mime_type="text/plain")
    def file(folder: str, name: str, encoding: str = "utf-8") -> str:
        return f"{folder}|{name}|{encoding}"

    return server


def read(uri: str, server: MCPServer | None = None) -> tuple[int, dict]:
    status, text = (server or make_server()).dispatcher().call("resources/read", uri, "{}", "{}", None)
    result = json.loads(text)
    if status == 0:
        check_mcp("ReadResourceResult", result)
    return status, result


def test_static_json_resource():
    assert read("config://app") == (0, {"contents": [{
        "uri": "config://app", "mimeType": "application/json",
        "text": '{"debug":false,"regions":["eu","us"]}',
    }]})


def test_static_text_and_blob_resources():
    assert read("text://motd")[1]["contents"] == [
        {"uri": "text://motd", "mimeType": "text/plain", "text": "Welcome"}
    ]
    assert read("file://logo.png")[1]["contents"] == [
        {"uri": "file://logo.png", "mimeType": "image/png", "blob": base64.b64encode(b"\x89PNG").decode()}
    ]


def test_template_parameters_are_coerced_by_type_hints():
    status, result = read("users://1/profile")
    assert status == 0
    assert json.loads(result["contents"][0]["text"]) == {"id": 1, "name": "Ada"}


def test_template_with_several_placeholders_decodes_them():
    assert read("files://docs/read%20me.txt")[1]["contents"][0]["text"] == "docs|read me.txt|utf-8"


@pytest.mark.parametrize("uri", ["config://other", "users://1/profile/extra", "files://a/b/c", "nothing"])
def test_unknown_uri_is_status_2(uri):
    assert read(uri) == (2, {"message": "Resource not found", "data": {"uri": uri}})


def test_handler_raising_resource_not_found_is_status_2():
    assert read("users://2/profile") == (2, {"message": "Resource not found",
                                             "data": {"uri": "users://2/profile"}})


def test_invalid_template_parameter_is_status_1():
    status, result = read("users://abc/profile")
    assert status == 1
    assert result["message"] == (
        "Invalid parameters in resource URI 'users://abc/profile': user_id: Input should be a "
        "valid integer, unable to parse string as an integer"
    )


def test_handler_error_is_status_3():
    server = MCPServer("broken")

    @server.resource("broken://x")
    def broken() -> str:
        raise OSError("disk unavailable")

    assert read("broken://x", server) == (3, {"message": "Error reading resource 'broken://x': "
                                                         "OSError: disk unavailable"})


def test_definitions(mcp):
    catalog = json.loads(make_server().dispatcher().catalog_json())
    assert catalog["resources"][0] == {"uri": "config://app", "name": "app_config", "title": "App config",
                                       "description": "Application settings.",
                                       "mimeType": "application/json"}
    assert catalog["resourceTemplates"] == [
        {"uriTemplate": "users://{user_id}/profile", "name": "profile", "mimeType": "application/json"},
        {"uriTemplate": "files://{folder}/{name}", "name": "file", "mimeType": "text/plain"},
    ]
    for resource in catalog["resources"]:
        mcp("Resource", resource)
    for template in catalog["resourceTemplates"]:
        mcp("ResourceTemplate", template)


@pytest.mark.parametrize(
    ("uri", "source", "message"),
    [
        ("x://{id}", "def f(other: int) -> str: ...", "placeholders ['id'] are not parameters"),
        ("x://{id}", "def f(id: int, other: int) -> str: ...", "required parameters ['other']"),
        ("x://static", "def f(id: int) -> str: ...", "makes a resource template"),
        ("x://{+path}", "def f(path: str) -> str: ...", "RFC 6570 operators are not supported"),
        ("x://{id}/{id}", "def f(id: str) -> str: ...", "repeats placeholder"),
        ("no-scheme", "def f() -> str: ...", "needs a scheme"),
    ],
)
def test_invalid_resource_definitions(uri, source, message):
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(ConfigError, match=re.escape(message)):
        MCPServer("bad").add_resource(namespace["f"], uri)


def test_duplicate_uri_is_rejected():
    server = make_server()
    with pytest.raises(DuplicateName):
        server.add_resource(lambda: "", "config://app")
    with pytest.raises(DuplicateName):
        server.add_resource(lambda user_id: "", "users://{user_id}/profile")


def test_resource_decorator_requires_a_uri():
    server = MCPServer("bad")
    with pytest.raises(TypeError, match="needs a URI"):
        server.resource(lambda: "")  # type: ignore[arg-type]
