"""Hostile modules for the confinement tests: rendered from the templates beside this file into a
fresh directory under build/, served by a real gateway, and judged on the host.

Each rendering gets its own values: a token (in every marker path and record), a secret that
only the gateway's environment holds, and the port of a host TCP listener on 127.0.0.1. A
module that reaches the host leaves a marker file, a connection, or the secret or a line of
/etc/shadow in an answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

import httpx

from integration.wire import ModernWire, sse_messages_of

from ..harness import CALL_TIMEOUT_S, REPO, Gateway
from ..host import children, named, namespace

TEMPLATES = Path(__file__).resolve().parent
MODULES = REPO / "build" / "escape-modules"
SECRET_NAME = "SANDGATE_TEST_SECRET"
NOTHING_ARRIVES_S = 0.3
GONE_WITHIN_S = 2.0


# --- Rendering -----------------------------------------------------------------------------------

def module_directory(test_name: str, token: str) -> Path:
    """A fresh directory for one test's modules: build/escape-modules/<test>-<token>."""
    directory = MODULES / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', test_name)[:80]}-{token}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def render(template: str, directory: Path, **values: object) -> Path:
    """tests/sandbox/hostile/<template>.py.tmpl with `values` filled in, as <directory>/<template>.py."""
    text = Template((TEMPLATES / f"{template}.py.tmpl").read_text())
    path = directory / f"{template}.py"
    path.write_text(text.substitute({key: str(value) for key, value in values.items()}))
    return path


# --- The host's side -----------------------------------------------------------------------------

class Listener:
    """A TCP listener on 127.0.0.1 that records every connection and what it carried: none may come."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        self.connections: list[tuple[Any, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="escape-listener")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, address = self._socket.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    self.connections.append((address, conn.recv(4096)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


class Escape:
    """One rendering's host-side values, and the judgement of what reached the host."""

    def __init__(self, listener: Listener) -> None:
        self.token = secrets.token_hex(8)
        self.secret = secrets.token_hex(16)
        self.listener = listener
        self.marker_prefix = f"/var/tmp/sandgate-escape-{self.token}"

    def render(self, template: str, directory: Path) -> Path:
        """The hostile module and, beside it, the escape_actions module it imports."""
        actions = render("actions", directory, marker_prefix=self.marker_prefix, port=self.listener.port,
                         host_mnt_ns=os.readlink("/proc/self/ns/mnt"), token=self.token)
        actions.rename(directory / "escape_actions.py")
        return render(template, directory)

    def markers(self, where: str = "") -> list[Path]:
        """Marker files on the host: all of this rendering's, or those written at `where`."""
        pattern = f"sandgate-escape-{self.token}-{where}" if where else f"sandgate-escape-{self.token}*"
        return sorted(Path("/var/tmp").glob(pattern))

    def assert_nothing_reached_the_host(self, *answers: str, where: str = "") -> None:
        """No marker file, no connection, and neither the secret nor a line of /etc/shadow in any
        answer; with `where`, only the marker and connections of the attempt made there count."""
        written = self.markers(where)
        assert written == [], f"module code wrote on the host: {[str(marker) for marker in written]}"
        time.sleep(NOTHING_ARRIVES_S)
        arrived = [c for c in self.listener.connections if not where or c[1].startswith(f"{where} ".encode())]
        assert arrived == [], f"module code connected to the host: {arrived}"
        shadow = host_shadow_lines()
        for answer in answers:
            assert self.secret not in answer, f"the gateway's {SECRET_NAME} reached an answer: {answer[:500]}"
            leaked = [line for line in shadow if line in answer]
            assert not leaked, f"lines of the host's /etc/shadow reached an answer: {leaked[:3]}"

    def remove_markers(self) -> None:
        for marker in self.markers():
            marker.unlink(missing_ok=True)


def host_shadow_lines() -> list[str]:
    return [line for line in Path("/etc/shadow").read_text().splitlines() if line.strip()]


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = list(children(pid))
    while pending and len(found) < 10_000:  # bounded, whatever forks meanwhile
        child = pending.pop()
        found.append(child)
        pending.extend(children(child))
    return found


def host_user_namespace() -> str:
    return namespace(os.getpid(), "user")


def in_host_user_namespace(pid: int) -> bool:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        return namespace(pid, "user") == host_user_namespace()
    return False


def kill_named(marker: str) -> None:
    """SIGKILL the processes this test's module named `marker` (only ever ours), if any survived."""
    for pid in named(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


# --- Serving -------------------------------------------------------------------------------------

class HostileGateway(Gateway):
    """harness.Gateway with extra variables in the gateway's environment (a secret to steal)."""

    def __init__(self, target: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        saved = {key: os.environ.get(key) for key in env or {}}
        os.environ.update(env or {})  # Popen copies the environment: only the gateway keeps these
        try:
            super().__init__(target, args)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextlib.contextmanager
def served(template: str, test_name: str, files: Mapping[str, str] | None = None,
           args: Sequence[str] = ()) -> Iterator[tuple[Gateway, Escape]]:
    """A gateway serving the rendered `template` (plus `files` beside it), with the secret in its
    environment; it must survive, and exit 0 on SIGTERM."""
    listener = Listener()
    escape = Escape(listener)
    directory = module_directory(test_name, escape.token)
    module = escape.render(template, directory)
    for relative, content in (files or {}).items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(content)
    try:
        with HostileGateway(module, args, {SECRET_NAME: escape.secret}).serving() as gateway:
            environ = Path(f"/proc/{gateway.pid}/environ").read_bytes()
            assert f"{SECRET_NAME}={escape.secret}".encode() in environ.split(b"\0"), \
                "the secret is not there to steal"
            yield gateway, escape
    finally:
        listener.close()
        escape.remove_markers()
        shutil.rmtree(directory, ignore_errors=True)


def rpc(gateway: Gateway, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One stateless request (resources/read, prompts/get): the JSON-RPC response and its raw text."""
    with httpx.Client(timeout=CALL_TIMEOUT_S) as http:
        reply = ModernWire(gateway.url, http).request(method, params, request_id=1)
    assert reply.status_code == 200, f"{method}: {reply.status_code}: {reply.text[:500]}"
    if "json" in reply.headers.get("content-type", ""):
        return reply.json(), reply.text
    answers = [message for message in sse_messages_of(reply.text) if "id" in message]
    assert answers, f"{method}: no JSON-RPC response in {reply.text[:500]!r}"
    return answers[-1], json.dumps(answers[-1])
