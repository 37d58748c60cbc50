"""2026-07-28 multi-round-trip requests (SEP-2322): a handler that needs input ends its round with an
`input_required` result, and runs again when the client retries with its answers.

A handler returns `InputRequired(input_requests={key: {"method", "params"}}, request_state=...)` (or
fastmcp's `InputRequiredResult`, read by its attributes) and reads `ctx.input_responses` (the client's
answers, by key) and `ctx.request_state` (its own state of the round before) when it runs again. The
gateway seals `request_state` (the client only echoes it, and only the same principal's retry of the
same call opens it) and sends only requests the client declared a capability for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from sandgate.results import json_text


@dataclass(frozen=True, slots=True)
class InputRequired:
    """What a handler returns to ask the client for input: `input_requests` maps keys of its choosing to
    {"method": "elicitation/create" | "sampling/createMessage" | "roots/list", "params": {...}}."""

    input_requests: dict[str, Any]
    request_state: str | None = None


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A retry's answers (`inputResponses`, as sent) and the handler's own state of the round before."""

    input_responses: dict[str, Any] | None
    request_state: str | None


def round_trip_of(text: str | None) -> RoundTrip | None:
    """The core's {"inputResponses", "requestState"} (it checked their types and opened the state)."""
    if not text:
        return None
    value = from_json(text)
    responses, state = value.get("inputResponses"), value.get("requestState")
    return RoundTrip(responses if isinstance(responses, dict) else None, state if isinstance(state, str) else None)


def is_input_required(value: Any) -> bool:
    return isinstance(value, InputRequired) or (
        type(value).__name__ == "InputRequiredResult" and hasattr(value, "input_requests"))


def result_json(value: Any) -> str:
    """The input_required result; the core checks the requests against the client's capabilities and seals
    the state."""
    requests = value.input_requests
    state = getattr(value, "request_state", None)
    if not isinstance(requests, dict) or not requests:
        raise TypeError("an input_required result needs at least one input request")
    result: dict[str, Any] = {"resultType": "input_required",
                              "inputRequests": {str(key): _plain(request) for key, request in requests.items()}}
    if state is not None:
        if not isinstance(state, str):
            raise TypeError("request_state must be a string")
        result["requestState"] = state
    return json_text(result)


def _plain(request: Any) -> Any:
    """A request as JSON data: fastmcp hands pydantic models of the SDK's types."""
    if hasattr(request, "model_dump"):
        return request.model_dump(by_alias=True, exclude_none=True, mode="json")
    return request
