"""Length-prefixed JSON frames on the per-call socket between the gateway and a call child."""

from __future__ import annotations

import os
import struct
from typing import Any

import pydantic_core

HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 64 * 1024**2


def encode(message: Any) -> bytes:
    return encode_json(pydantic_core.to_json(message))


def encode_json(payload: bytes) -> bytes:
    """A frame around JSON that is already serialized."""
    return HEADER.pack(len(payload)) + payload


def read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the call socket")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, limit: int = MAX_REQUEST_BYTES) -> Any:
    (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
    if size > limit:
        raise ValueError(f"frame of {size} bytes exceeds {limit}")
    return pydantic_core.from_json(read_exactly(fd, size))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
