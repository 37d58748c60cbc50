"""Mapping handler return values to MCP content blocks and `CallToolResult` JSON."""

from __future__ import annotations

import base64
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json

from sandgate.errors import describe_validation_error

# The keys each MCP content block kind requires, to tell blocks from data dicts with a "type".
CONTENT_KEYS = {
    "text": ("text",),
    "image": ("data", "mimeType"),
    "audio": ("data", "mimeType"),
    "resource": ("resource",),
    "resource_link": ("uri", "name"),
}
CONTENT_KINDS = frozenset(CONTENT_KEYS)


@dataclasses.dataclass(frozen=True, slots=True)
class Image:
    """Image bytes returned by a tool, sent as an MCP image content block."""

    data: bytes
    mime_type: str = "image/png"

    def to_content(self) -> dict[str, Any]:
        return {"type": "image", "data": encode_base64(self.data), "mimeType": self.mime_type}


@dataclasses.dataclass(frozen=True, slots=True)
class Audio:
    """Audio bytes returned by a tool, sent as an MCP audio content block."""

    data: bytes
    mime_type: str = "audio/wav"

    def to_content(self) -> dict[str, Any]:
        return {"type": "audio", "data": encode_base64(self.data), "mimeType": self.mime_type}


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def json_text(value: Any) -> str:
    """Compact JSON; NaN and infinities become null so the output stays valid JSON."""
    return to_json(value, fallback=str, inf_nan_mode="null", bytes_mode="base64").decode()


def is_content_annotation(annotation: Any) -> bool:
    """True for return types sent as plain content: text, bytes, media, content blocks, None."""
    return _content_kind(annotation) is not None


def looks_like_content_block(value: dict[Any, Any]) -> bool:
    required = CONTENT_KEYS.get(value.get("type"))  # type: ignore[arg-type]
    return required is not None and all(key in value for key in required)


def content_block(value: Any, blob_uri: str) -> dict[str, Any]:
    """One content block for one value; anything without a natural form becomes JSON text."""
    if isinstance(value, str):
        return {"type": "text", "text": value}
    if isinstance(value, bool):
        return {"type": "text", "text": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"type": "text", "text": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        blob = encode_base64(value)
        resource = {"uri": blob_uri, "mimeType": "application/octet-stream", "blob": blob}
        return {"type": "resource", "resource": resource}
    if isinstance(value, (Image, Audio)):
        return value.to_content()
    if isinstance(value, dict) and looks_like_content_block(value):
        return value
    if isinstance(value, BaseModel) and getattr(value, "type", None) in CONTENT_KINDS:
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {"type": "text", "text": json_text(value)}


def content_blocks(value: Any, blob_uri: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [content_block(item, blob_uri) for item in value if item is not None]
    return [content_block(value, blob_uri)]


ERROR_META_KEY = "io.sandgate/error"


def error_result(text: str, error_type: str | None = None) -> str:
    """An isError result; `error_type` names the exception a handler raised, for clients and the sandbox."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": True}
    if error_type is not None:
        result["_meta"] = {ERROR_META_KEY: {"type": error_type}}
    return json_text(result)


class ToolResultMapper:
    """Turns one tool's return values into `CallToolResult` JSON, per its return annotation.

    Structured values are validated (and coerced) by the return type, so structuredContent
    always matches the advertised outputSchema.
    """

    __slots__ = ("_tool", "_blob_uri", "_validate", "_serialize", "_envelope", "output_schema")

    def __init__(self, tool: str, adapter: TypeAdapter[Any] | None, schema: dict[str, Any] | None,
                 wrapped: bool) -> None:
        self._tool = tool
        self._blob_uri = f"sandgate://blob/{tool}"
        # The compiled validator and serializer, skipping TypeAdapter's per-call Python layer.
        self._validate = adapter.validator.validate_python if adapter is not None else None
        self._serialize = adapter.serializer.to_json if adapter is not None else None
        self._envelope = _WRAPPED if wrapped else _OBJECT
        self.output_schema = schema

    def __call__(self, value: Any) -> str:
        if self._validate is None:
            return self._unstructured(value)
        try:
            value = self._validate(value)
        except ValidationError as exc:
            return error_result(
                f"Tool '{self._tool}' returned a value that does not match its return type: "
                f"{describe_validation_error(exc)}"
            )
        structured = self._serialize(value, warnings=False)
        # A JSON string literal is already the text item; other JSON is quoted as a string.
        text = structured if isinstance(value, str) else to_json(structured.decode())
        head, middle, tail = self._envelope
        return b"".join((head, text, middle, structured, tail)).decode()

    def _unstructured(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            return b"".join((_TEXT_HEAD, to_json(value), _TEXT_TAIL)).decode()
        if kind is int or kind is float:
            return b"".join((_TEXT_HEAD, to_json(str(value)), _TEXT_TAIL)).decode()
        if isinstance(value, dict) and not looks_like_content_block(value):
            structured = to_json(value, fallback=str, inf_nan_mode="null", bytes_mode="base64")
            head, middle, tail = _OBJECT
            return b"".join((head, to_json(structured.decode()), middle, structured, tail)).decode()
        return json_text({"content": content_blocks(value, self._blob_uri)})


_TEXT_HEAD = b'{"content":[{"type":"text","text":'
_TEXT_TAIL = b"}]}"
_OBJECT = (_TEXT_HEAD, b'}],"structuredContent":', b"}")
_WRAPPED = (_TEXT_HEAD, b'}],"structuredContent":{"result":', b"}}")


def _content_kind(annotation: Any) -> str | None:
    """Which content a type maps to ("text" or "media"); None when it gets an outputSchema."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _content_kind(typing.get_args(annotation)[0])
    if annotation in (str, type(None), None, typing.Any, object):
        return "text"
    if annotation in (bytes, bytearray, Image, Audio) or _is_content_model_class(annotation):
        return "media"
    if origin in (typing.Union, types.UnionType, list, tuple, Sequence):
        kinds = [_content_kind(arg) for arg in typing.get_args(annotation) if arg is not ...]
        if None in kinds:
            return None
        if "media" in kinds:
            return "media"
        # A list of plain values is data, so it gets a wrapped outputSchema.
        return "text" if origin in (typing.Union, types.UnionType) else None
    return None


def _is_content_model_class(annotation: Any) -> bool:
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return False
    kind = annotation.model_fields.get("type")
    return kind is not None and kind.default in CONTENT_KINDS
