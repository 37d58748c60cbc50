"""What a handler may ask its client: the forms an elicitation may send, the sampling params, and a sandboxed
child's requests checked again by the gateway before anything reaches the client."""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from sandgate import Context
from sandgate.client_requests import (
    AcceptedElicitation,
    ClientRequestError,
    DeclinedElicitation,
    check_request,
    elicit_form,
    elicited,
    in_process_requester,
    sampling_params,
)
from sandgate.outbound import Outbound, relay


class Size(enum.Enum):
    S = "s"
    M = "m"


@dataclass
class Address:
    street: str
    number: int = 1


class Nested(BaseModel):
    address: Address


@pytest.mark.parametrize(("response_type", "field"), [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (bool, {"type": "boolean"}),
    (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
    (Size, {"type": "string", "enum": ["s", "m"]}),
    (["x", "y"], {"type": "string", "enum": ["x", "y"]}),
])
def test_a_single_value_is_asked_as_one_required_value_field(response_type: Any, field: dict[str, Any]):
    form = elicit_form(response_type)
    assert form.schema["required"] == ["value"]
    assert {k: v for k, v in form.schema["properties"]["value"].items() if k != "title"} == field


def test_a_dataclass_is_asked_field_by_field_and_read_back_as_itself():
    form = elicit_form(Address)
    assert form.schema["properties"]["street"]["type"] == "string"
    assert form.schema["required"] == ["street"]
    answer = elicited({"action": "accept", "content": {"street": "Main", "number": 5}}, form)
    assert answer == AcceptedElicitation(Address("Main", 5))
    assert elicited({"action": "decline"}, form) == DeclinedElicitation()


@pytest.mark.parametrize("response_type", [
    Nested,  # a nested object: not a form a client can show
    {"type": "object", "properties": {"a": {"type": "object"}}},
    {"type": "array"},
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]},
    [],
    [1, 2],
])
def test_what_is_no_flat_form_is_refused_before_anything_is_sent(response_type: Any):
    with pytest.raises(ClientRequestError):
        elicit_form(response_type)


@pytest.mark.parametrize("answer", [
    {"action": "accept", "content": {"street": 5}},
    {"action": "accept", "content": "text"},
    {"action": "maybe"},
])
def test_an_answer_that_does_not_fit_is_an_error(answer: dict[str, Any]):
    with pytest.raises(ClientRequestError):
        elicited(answer, elicit_form(Address))


def test_sampling_params_take_strings_or_messages():
    params = sampling_params("hi", "sys", None, 0.5, None, ["claude"], None)
    assert params == {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                      "maxTokens": 512, "systemPrompt": "sys", "temperature": 0.5,
                      "modelPreferences": {"hints": [{"name": "claude"}]}}
    with pytest.raises(ClientRequestError):
        sampling_params([], None, None, None, None, None, None)
    with pytest.raises(ClientRequestError):
        sampling_params([{"role": "system", "content": "x"}], None, None, None, None, None, None)


@pytest.mark.parametrize("value", [
    None, [], {"method": "roots/list"},  # no params
    {"method": "tools/call", "params": {}},  # not a request a call may send
    {"method": "ping", "params": {}},
    {"method": "roots/list", "params": [], },
    {"method": "roots/list", "params": {}, "id": 3},  # a key no request frame has
    {"method": "elicitation/create", "params": {"message": "m", "requestedSchema": {"type": "object",
                                                "properties": {"x": {"type": "object"}}}}},
    {"method": "elicitation/create", "params": {"requestedSchema": {"type": "object", "properties": {}}}},
    {"method": "sampling/createMessage", "params": {"messages": "hi", "maxTokens": 5}},
])
def test_a_childs_malformed_request_is_refused_and_answered_as_an_error(value: Any):
    with pytest.raises((ValueError, ClientRequestError)):
        check_request(value)
    asked: list[Any] = []
    answers: list[dict[str, Any]] = []
    forward = relay({}, Outbound(ask=lambda *args: asked.append(args) or ""))
    assert forward.ask(value, answers.append) is False
    assert asked == []
    assert answers[0]["is_error"] is True
    assert "refused by the gateway" in json.loads(answers[0]["json"])["message"]


def test_a_childs_well_formed_request_is_sent_and_its_answer_goes_back():
    answers: list[dict[str, Any]] = []

    def ask(method: str, params_json: str, on_answer: Any) -> str:
        assert (method, json.loads(params_json)) == ("roots/list", {})
        on_answer(False, '{"roots":[]}')
        return ""

    assert relay({}, Outbound(ask=ask)).ask({"method": "roots/list", "params": {}}, answers.append) is True
    assert answers == [{"is_error": False, "json": '{"roots":[]}'}]


def test_a_core_refusal_reaches_the_child_as_an_error_answer():
    answers: list[dict[str, Any]] = []
    forward = relay({}, Outbound(ask=lambda method, params, on_answer: "the client did not declare roots"))
    assert forward.ask({"method": "roots/list", "params": {}}, answers.append) is False
    assert "did not declare roots" in json.loads(answers[0]["json"])["message"]


def test_in_process_a_refusal_an_error_answer_and_silence_are_the_handlers_errors():
    def refusing(method: str, params: str, on_answer: Any) -> str:
        return "no stream"

    def erring(method: str, params: str, on_answer: Any) -> str:
        on_answer(True, '{"code":-1,"message":"user said no"}')
        return ""

    def silent(method: str, params: str, on_answer: Any) -> str:
        return ""

    for ask, needle in ((refusing, "no stream"), (erring, "user said no"), (silent, "did not answer")):
        ctx = Context(requester=in_process_requester(ask, 0.05))
        with pytest.raises(ClientRequestError, match=needle):
            asyncio.run(ctx.list_roots())


def test_without_a_way_to_the_client_asking_says_why():
    with pytest.raises(ClientRequestError, match="cannot reach the client"):
        asyncio.run(Context().sample("hi"))
