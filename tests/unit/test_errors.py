"""The exception tree: stable codes and built-in bases."""

from __future__ import annotations

import pytest

from sandgate import (
    ConfigError,
    DuplicateName,
    InvalidArguments,
    PromptNotFound,
    ResourceNotFound,
    SandgateError,
    ToolNotFound,
)


@pytest.mark.parametrize(
    ("error", "code", "builtin"),
    [
        (SandgateError, "sandgate.error", Exception),
        (ConfigError, "config.invalid", ValueError),
        (DuplicateName, "registry.duplicate", ValueError),
        (InvalidArguments, "tools.invalid_arguments", ValueError),
        (ToolNotFound, "tools.not_found", LookupError),
        (ResourceNotFound, "resources.not_found", LookupError),
        (PromptNotFound, "prompts.not_found", LookupError),
    ],
)
def test_codes_and_bases(error, code, builtin):
    raised = error("message", data={"k": 1})
    assert raised.code == code
    assert isinstance(raised, SandgateError)
    assert isinstance(raised, builtin)
    assert str(raised) == "message"
    assert raised.data == {"k": 1}


def test_lookups_are_not_key_errors():
    # KeyError would quote the message in str(); LookupError keeps it readable.
    assert not issubclass(ToolNotFound, KeyError)
    assert str(ToolNotFound("Unknown tool: x")) == "Unknown tool: x"
