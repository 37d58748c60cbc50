"""What a handler may ask its client during a call (handshake eras): sampling, elicitation, roots.

The core sends the request on the call's own stream and routes the client's answer back; it sends
only what the client declared a capability for. A handler asks through its `Context`
(`ctx.sample`, `ctx.elicit`, `ctx.list_roots`); a sandboxed one's request crosses the call socket,
is checked again here (the child is untrusted), and the answer is written back to the same child.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json

from sandgate.errors import SandgateError
from sandgate.results import json_text

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

# The core's, for one request: ask(method, params JSON, on_answer(is_error, JSON)) -> "" when sent, else why not.
Asker = Callable[[str, str, Callable[[bool, str], None]], str]
# What a Context asks with: the method and its params in, the client's result out (or ClientRequestError).
Requester = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

METHODS = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
PRIMITIVE_TYPES = frozenset({"string", "number", "integer", "boolean"})


class ClientRequestError(SandgateError, RuntimeError):
    """A request to the client that could not be made or was refused: not declared, no stream, an error
    answer, no answer in time."""

    code = "client_request.failed"


@dataclass(frozen=True, slots=True)
class Root:
    uri: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SampledMessage:
    """The client's model's answer: `text` when it is text, the content block as sent in `content`."""

    role: str
    content: dict[str, Any]
    model: str | None = None
    stop_reason: str | None = None

    @property
    def type(self) -> str:
        return str(self.content.get("type"))

    @property
    def text(self) -> str | None:
        text = self.content.get("text")
        return text if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class AcceptedElicitation(Generic[T]):
    data: T
    action: Literal["accept"] = "accept"


@dataclass(frozen=True, slots=True)
class DeclinedElicitation:
    action: Literal["decline"] = "decline"


@dataclass(frozen=True, slots=True)
class CancelledElicitation:
    action: Literal["cancel"] = "cancel"


# --- asking -------------------------------------------------------------------------------------------------


def in_process_requester(ask: Asker, wait_s: float) -> Requester:
    """A Requester for a handler running on the gateway's event loop: the answer comes from an I/O thread."""

    async def request(method: str, params: dict[str, Any]) -> dict[str, Any]:
        import asyncio  # here: a zygote serving plain functions never loads it

        loop = asyncio.get_running_loop()
        answered: asyncio.Future[tuple[bool, str]] = loop.create_future()

        def on_answer(is_error: bool, text: str) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, answered, is_error, text)

        refusal = ask(method, json_text(params), on_answer)
        if refusal:
            raise ClientRequestError(f"{method} was not sent: {refusal}")
        try:
            is_error, text = await asyncio.wait_for(answered, wait_s)
        except TimeoutError:
            raise ClientRequestError(f"the client did not answer {method} within {wait_s:g} s") from None
        return answer_of(method, is_error, text)

    return request


def _settle(future: asyncio.Future[tuple[bool, str]], is_error: bool, text: str) -> None:
    if not future.done():
        future.set_result((is_error, text))


def answer_of(method: str, is_error: bool, text: str) -> dict[str, Any]:
    """The client's result object, or ClientRequestError with its error's message."""
    try:
        body = from_json(text)
    except ValueError:
        body = None
    if is_error:
        message = body.get("message") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        raise ClientRequestError(f"the client answered {method} with error {code}: {message}")
    if not isinstance(body, dict):
        raise ClientRequestError(f"the client's answer to {method} is not an object")
    return body


def check_request(value: Any) -> tuple[str, dict[str, Any]]:
    """A sandboxed child's request ({method, params}), checked again: ValueError naming what is wrong."""
    if not isinstance(value, dict) or value.keys() != {"method", "params"}:
        raise ValueError("a request to the client is {method, params}")
    method, params = value["method"], value["params"]
    if method not in METHODS:
        raise ValueError(f"a call may not send its client {method!r}")
    if not isinstance(params, dict):
        raise ValueError("a request's params must be an object")
    if method == "elicitation/create":
        if params.get("mode", "form") == "url":
            url_params(params.get("message"), params.get("url"), params.get("elicitationId"))
        else:
            check_requested_schema(params.get("requestedSchema"))
        if not isinstance(params.get("message"), str):
            raise ValueError("an elicitation needs a string message")
    if method == "sampling/createMessage":
        if not isinstance(params.get("messages"), list) or not isinstance(params.get("maxTokens"), int):
            raise ValueError("a sampling request needs messages and an integer maxTokens")
    return method, params


# --- sampling -----------------------------------------------------------------------------------------------


def sampling_params(messages: Any, system_prompt: str | None, include_context: str | None,
                    temperature: float | None, max_tokens: int | None, model_preferences: Any,
                    stop_sequences: list[str] | None) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [messages]
    if not isinstance(messages, list | tuple) or not messages:
        raise ClientRequestError("ctx.sample needs a message or a non-empty list of messages")
    shaped = []
    for message in messages:
        if isinstance(message, str):
            shaped.append({"role": "user", "content": {"type": "text", "text": message}})
        elif isinstance(message, dict) and message.get("role") in ("user", "assistant") and "content" in message:
            shaped.append(message)
        else:
            raise ClientRequestError("each sampling message is a string or a {role, content} object")
    params: dict[str, Any] = {"messages": shaped, "maxTokens": max_tokens if max_tokens is not None else 512}
    if system_prompt is not None:
        params["systemPrompt"] = system_prompt
    if include_context is not None:
        params["includeContext"] = include_context
    if temperature is not None:
        params["temperature"] = temperature
    if model_preferences is not None:
        params["modelPreferences"] = (
            {"hints": [{"name": model_preferences}]} if isinstance(model_preferences, str)
            else {"hints": [{"name": name} for name in model_preferences]} if isinstance(model_preferences, list)
            else model_preferences)
    if stop_sequences is not None:
        params["stopSequences"] = list(stop_sequences)
    return params


def sampled(result: dict[str, Any]) -> SampledMessage:
    content = result.get("content")
    if isinstance(content, list):  # 2025-11-25 allows several blocks; the first carries the answer's text
        content = next((block for block in content if isinstance(block, dict)), None)
    if not isinstance(content, dict) or not isinstance(result.get("role"), str):
        raise ClientRequestError("the client's sampling answer has no role or content")
    model, stop = result.get("model"), result.get("stopReason")
    return SampledMessage(result["role"], content, model if isinstance(model, str) else None,
                          stop if isinstance(stop, str) else None)


def roots_of(result: dict[str, Any]) -> list[Root]:
    roots = result.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, dict) and isinstance(r.get("uri"), str) for r in roots):
        raise ClientRequestError("the client's roots answer is not a list of {uri, name?}")
    return [Root(r["uri"], r.get("name") if isinstance(r.get("name"), str) else None) for r in roots]


# --- elicitation --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElicitForm:
    """The schema sent, and how an accepted answer becomes the handler's value."""

    schema: dict[str, Any]
    read: Callable[[dict[str, Any]], Any]


def elicit_form(response_type: Any) -> ElicitForm:
    """The requestedSchema for a response type, fastmcp's shapes: None (nothing asked), a primitive, Literal or
    Enum (one `value` field), a list of strings (one choice), a dataclass, TypedDict or pydantic model (its
    fields), or a JSON Schema object given as it is."""
    if response_type is None:
        return ElicitForm({"type": "object", "properties": {}}, lambda content: {})
    if isinstance(response_type, dict):
        check_requested_schema(response_type)
        return ElicitForm(response_type, lambda content: content)
    if isinstance(response_type, list):
        if not response_type or not all(isinstance(choice, str) for choice in response_type):
            raise ClientRequestError("a list response type is a non-empty list of strings to choose from")
        return _wrapped({"type": "string", "enum": list(response_type)}, TypeAdapter(str))
    if _is_object_type(response_type):
        adapter: TypeAdapter[Any] = TypeAdapter(response_type)
        schema = _flattened(adapter.json_schema())
        check_requested_schema(schema)
        return ElicitForm(schema, lambda content: adapter.validate_python(content))
    adapter = TypeAdapter(response_type)
    return _wrapped(_flattened(adapter.json_schema()), adapter)


def _wrapped(field: dict[str, Any], adapter: TypeAdapter[Any]) -> ElicitForm:
    schema = {"type": "object", "properties": {"value": field}, "required": ["value"]}
    check_requested_schema(schema)
    return ElicitForm(schema, lambda content: adapter.validate_python(content.get("value")))


def _is_object_type(tp: Any) -> bool:
    return inspect.isclass(tp) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp)
                                    or typing.is_typeddict(tp))


def _flattened(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic schema with its `$defs` (enums) inlined and titles pydantic invents dropped."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = dict(defs[node["$ref"].rsplit("/", 1)[-1]])
                target.pop("title", None)
                return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}})
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    flat = inline(schema)
    flat.pop("title", None)
    if "enum" in flat and "type" not in flat and all(isinstance(v, str) for v in flat["enum"]):
        flat["type"] = "string"
    for prop in flat.get("properties", {}).values():
        if isinstance(prop, dict) and "enum" in prop and "type" not in prop:
            prop["type"] = "string"
    return flat


def check_requested_schema(schema: Any) -> None:
    """The subset of JSON Schema an elicitation may request: a flat object of strings, numbers, integers,
    booleans, single-choice enums (enum, enumNames, oneOf const/title) and multi-choice string arrays."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ClientRequestError("an elicitation's requestedSchema must be an object schema")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ClientRequestError("an elicitation's properties must be an object")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(name in properties for name in required):
        raise ClientRequestError("an elicitation's required names must be among its properties")
    for name, prop in properties.items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in PRIMITIVE_TYPES:
            continue
        if kind == "array" and isinstance(prop.get("items"), dict) and (
                "enum" in prop["items"] or "anyOf" in prop["items"]):
            continue
        raise ClientRequestError(
            f"elicitation field {name!r} must be a string, number, integer, boolean or a choice of strings "
            "(nested objects are not allowed)")


MAX_URL_CHARS = 8192


def url_params(message: Any, url: Any, elicitation_id: Any) -> dict[str, Any]:
    """An out-of-band (URL mode) elicitation's params: the user is sent to `url` (http or https, absolute) and the
    client answers accept, decline or cancel; ClientRequestError naming what is wrong."""
    if not isinstance(message, str):
        raise ClientRequestError("an elicitation's message must be a string")
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise ClientRequestError(f"a URL elicitation needs a URL string of at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in url):
        raise ClientRequestError(f"a URL elicitation needs an absolute http(s) URL, not {url!r}")
    if not isinstance(elicitation_id, str) or not elicitation_id:
        raise ClientRequestError("a URL elicitation needs a non-empty string elicitationId")
    return {"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id}


@dataclass(frozen=True, slots=True)
class URLElicitation:
    """Where a handler needs the user to go first: `url` (absolute http or https), and why."""

    message: str
    url: str
    elicitation_id: str | None = None  # None: a fresh one


class URLElicitationRequired(SandgateError):
    """Raised by a handler that cannot go on until the user has been at `elicitations` (2025-11-25's -32042
    URLElicitationRequiredError: the client sends the user there, then may retry). Only a client that declared
    `elicitation.url` gets it; 2026-07-28 asks through InputRequired instead."""

    code = "elicitation.url_required"

    def __init__(self, elicitations: URLElicitation | list[URLElicitation],
                 message: str = "This request needs the user at a URL first") -> None:
        items = [elicitations] if isinstance(elicitations, URLElicitation) else list(elicitations)
        if not items or not all(isinstance(item, URLElicitation) for item in items):
            raise ClientRequestError("URLElicitationRequired needs one or more URLElicitation")
        super().__init__(message, data={"elicitations": [
            url_params(item.message, item.url, item.elicitation_id or uuid.uuid4().hex) for item in items]})


def elicited_url(result: dict[str, Any]) -> Any:
    """A URL elicitation's answer: AcceptedElicitation (data None: what the user did happened out of band),
    DeclinedElicitation or CancelledElicitation."""
    action = result.get("action")
    if action == "accept":
        return AcceptedElicitation(None)
    if action == "decline":
        return DeclinedElicitation()
    if action == "cancel":
        return CancelledElicitation()
    raise ClientRequestError(f"the client's elicitation answer has an unknown action {action!r}")


def elicited(result: dict[str, Any], form: ElicitForm) -> Any:
    action = result.get("action")
    if action == "decline":
        return DeclinedElicitation()
    if action == "cancel":
        return CancelledElicitation()
    if action != "accept":
        raise ClientRequestError(f"the client's elicitation answer has an unknown action {action!r}")
    content = result.get("content", {})
    if not isinstance(content, dict):
        raise ClientRequestError("the client's accepted elicitation has no content object")
    try:
        return AcceptedElicitation(form.read(content))
    except ValidationError as exc:
        raise ClientRequestError(f"the client's accepted elicitation does not fit the form: {exc}") from None

