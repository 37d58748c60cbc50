"""Echo tools for test_value_fidelity.py: `sandgate serve servers/fidelity.py`.

Both tools take a list of arbitrary JSON values and report exactly what Python received, once
as a type-tagged `canonical` view and once as the values themselves, so a test can tell what
the gateway delivered to the tool apart from what it delivered back to the client. `echo`
runs with the default isolation (a sandboxed child per call); `echo_in_process` runs in the
gateway (`isolation="none"`, honoured only when the server is started with `--trust`).
"""

from __future__ import annotations

from sandgate import MCPServer

server = MCPServer("sandgate-fidelity", version="1.0.0")


def canonical(value: object) -> list[object]:
    """An exact, type-tagged encoding of a JSON value that any JSON round trip leaves unchanged.

    Floats go as their hex form (every bit counts, -0.0 too), ints as decimal text (any size),
    so no number is ever re-read by a JSON parser. Containers are flattened into their tag
    list (`["l", *items]`, `["d", key, value, ...]` sorted by key, since key order is not part
    of a value) so a view nests no deeper than the value plus one: the views of values near
    the gateway's depth limit still fit under it.
    """
    if value is None:
        return ["n"]
    if isinstance(value, bool):  # before int: bool is an int subclass
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, list):
        return ["l", *(canonical(item) for item in value)]
    if isinstance(value, dict):
        view: list[object] = ["d"]
        for key in sorted(value):
            view += [key, canonical(value[key])]
        return view
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def report(values: list[object]) -> dict[str, list[object]]:
    """What the tool received: a dict return type makes the result carry structuredContent."""
    return {"views": [canonical(value) for value in values], "values": values}


@server.tool
def echo(values: list[object]) -> dict[str, list[object]]:
    """Report the values received, from a sandboxed child."""
    return report(values)


@server.tool(isolation="none")
def echo_in_process(values: list[object]) -> dict[str, list[object]]:
    """Report the values received, from the gateway's own process."""
    return report(values)
