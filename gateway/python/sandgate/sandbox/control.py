"""The zygote's per-call control messages, byte for byte as sandbox/control_protocol.h lays them out.

Native byte order and sizes, no padding ("="): both ends run on the same machine. The start-up
handshake (need_maps, maps_written, ready, failed) stays JSON; a report starts with MAGIC instead.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

MAGIC = 0x435A4753  # "SGZC" in little-endian memory
VERSION = 1
OP_CALL, OP_SPAWNED, OP_SPAWN_FAILED, OP_EXITED = 1, 2, 3, 4
# Bit i of a call's limits_present says LIMIT_NAMES[i] was given; an absent limit stays the zygote's.
LIMIT_NAMES = ("address_space", "cpu_seconds", "open_files", "processes", "file_size")
CALL_PERSISTENT = 1  # a per_session worker
NONE = -1  # an exit code or signal that does not apply

_HEADER = "IBBH"  # magic, version, op, reserved
HEADER = struct.Struct("=" + _HEADER)
CALL = struct.Struct(f"={_HEADER}QII{len(LIMIT_NAMES)}qQ")  # id, limits_present, flags, limits, scratch
SPAWNED = struct.Struct(f"={_HEADER}QiI")  # id, pid, reserved
SPAWN_FAILED = struct.Struct(f"={_HEADER}QiI104s")  # id, errno, reserved, text
EXITED = struct.Struct(f"={_HEADER}QiiQQQ")  # id, exit code, signal, cpu µs, maxrss KiB, minor faults
_REPORTS = {OP_SPAWNED: SPAWNED, OP_SPAWN_FAILED: SPAWN_FAILED, OP_EXITED: EXITED}
_MAGIC_BYTES = struct.pack("=I", MAGIC)
_CALL_KEYS = frozenset({"op", "id", "limits", "scratch", "persistent"})


class ControlProtocolError(ValueError):
    """Bytes that are no report of this protocol version."""


def encode_call(call_id: int, limits: Mapping[str, int], scratch: int = 0, persistent: bool = False) -> bytes:
    """One call message; its one attached fd is the child's end of the call socketpair.

    Unknown limit names are an error, so a typo cannot silently lift a limit; the zygote refuses
    values below 1 with a spawn_failed report.
    """
    present = 0
    values = [0] * len(LIMIT_NAMES)
    for name, value in limits.items():
        if name not in LIMIT_NAMES:
            raise ValueError(f"unknown limit: {name}")
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"limit {name} must be an int")
        index = LIMIT_NAMES.index(name)
        present |= 1 << index
        values[index] = value
    try:
        return CALL.pack(MAGIC, VERSION, OP_CALL, 0, call_id, present,
                         CALL_PERSISTENT if persistent else 0, *values, scratch)
    except struct.error as exc:
        raise ValueError(f"call {call_id!r} does not fit the control message: {exc}") from None


def encode_call_message(message: Mapping[str, Any]) -> bytes:
    """The runner's call dict ({"op": "call", "id", "limits", "scratch"[, "persistent"]}) as bytes."""
    if message.get("op") != "call" or not _CALL_KEYS.issuperset(message):
        raise ValueError(f"not a call message: keys {sorted(message)}")
    return encode_call(message["id"], message["limits"], message.get("scratch", 0),
                       bool(message.get("persistent", False)))


def is_report(data: bytes) -> bool:
    """True for this protocol's messages, False for the JSON of the start-up handshake."""
    return data[:len(_MAGIC_BYTES)] == _MAGIC_BYTES


def decode_report(data: bytes) -> dict[str, Any]:
    """A zygote report as the dict the runner reads (op spawned, spawn_failed or exited)."""
    if len(data) < HEADER.size:
        raise ControlProtocolError(f"{len(data)} bytes are no control message")
    magic, version, op, reserved = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or reserved != 0:
        raise ControlProtocolError(f"not a version {VERSION} control message")
    layout = _REPORTS.get(op)
    if layout is None or len(data) != layout.size:
        raise ControlProtocolError(f"op {op} with {len(data)} bytes is no report")
    fields = layout.unpack(data)[4:]
    if op == OP_SPAWNED:
        call_id, pid, _ = fields
        return {"op": "spawned", "id": call_id, "pid": pid}
    if op == OP_SPAWN_FAILED:
        call_id, error, _, text = fields
        return {"op": "spawn_failed", "id": call_id, "errno": error,
                "message": text.rstrip(b"\0").decode("utf-8", "replace")}
    call_id, code, signal, cpu_microseconds, maxrss_kib, minor_faults = fields
    return {
        "op": "exited", "id": call_id,
        "code": None if code == NONE else code,
        "signal": None if signal == NONE else signal,
        "cpu": cpu_microseconds / 1e6,
        "maxrss_kib": maxrss_kib,
        "minor_faults": minor_faults,
    }
