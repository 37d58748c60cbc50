"""Running an MCPServer on the native core over HTTP or stdio."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from sandgate.errors import ConfigError
from sandgate.logs import announce
from sandgate.policy.serving import ModulePlans, bind, memory_needed
from sandgate.sandbox.trust import DEFAULT_CEILING, log_refusals
from sandgate.settings import ServerSettings

logger = logging.getLogger("sandgate.serve")

if TYPE_CHECKING:
    from sandgate.app import MCPServer
    from sandgate.metrics import MetricsServer
    from sandgate.policy.reload import Loaded, PolicyFile
    from sandgate.sandbox.runner import SandboxRunner

MODERN_PROTOCOL = "2026-07-28"
# Settings the sandbox runner reads; the native core has no field for them.
SANDBOX_ONLY_SETTINGS = frozenset({"max_session_workers", "prespawned_children", "call_uid_base",
                                   "prespawn_idle_s", "import_timeout_s", "import_memory"})
PYTHON_ONLY_SETTINGS = frozenset({"metrics", "metrics_host", "metrics_port", "audit_log", "max_audit_queued_lines",
                                  "client_wait_s", "max_announcements_per_call"})
AUDIT_SALT_VARIABLE = "SANDGATE_AUDIT_SALT"
REQUEST_STATE_KEY_VARIABLE = "SANDGATE_REQUEST_STATE_KEY"  # popped: sandboxed code never sees it
WILDCARD_HOSTS = ("0.0.0.0", "::")
POLICY_POLL_S = 2.0  # how soon an edited policy file serves without a SIGHUP
STDIO_API_KEY_VARIABLE = "SANDGATE_API_KEY"


@dataclass(frozen=True)
class Identity:
    """What the core announces: a trusted server's own fields, or a hosted module's catalog."""

    name: str
    version: str | None
    instructions: str | None
    tool_names: frozenset[str]


@dataclass(frozen=True)
class Served:
    identity: Identity
    dispatcher: Any
    plans: ModulePlans  # what the module asked for: each policy version grants it anew
    grant: Any  # the core's SandboxGrant under the policy served at start
    runner: SandboxRunner | None


# Builds what is served once the loop runs, under the policy version served at start: the zygote (if any) starts there.
Source = Callable[[asyncio.AbstractEventLoop, ServerSettings, "Loaded"], Coroutine[Any, Any, "Served"]]


def core_settings(core: Any, identity: Identity | MCPServer, settings: ServerSettings) -> Any:
    """The native settings object: every ServerSettings field plus the server's identity."""
    from sandgate import __version__

    native = core.Settings()
    for field in ServerSettings.model_fields:
        if field in SANDBOX_ONLY_SETTINGS or field in PYTHON_ONLY_SETTINGS:
            continue
        value = getattr(settings, field)
        setattr(native, field, list(value) if isinstance(value, tuple) else value)
    native.server_name = identity.name
    native.server_version = identity.version or __version__
    native.instructions = identity.instructions or ""
    key = os.environ.pop(REQUEST_STATE_KEY_VARIABLE, "")
    if key and not re.fullmatch(r"[0-9a-fA-F]{64}", key):
        raise ConfigError(f"{REQUEST_STATE_KEY_VARIABLE} must be 64 hex digits (a 32-byte key)")
    native.request_state_key = key
    return native


def trusted(server: MCPServer, data_paths: Sequence[str] = ()) -> Source:
    """The operator's own server object (a script, or `serve --trust`): isolation "none" holds where the policy
    trusts modules (the embedded default does)."""

    async def build(loop: asyncio.AbstractEventLoop, settings: ServerSettings, loaded: Loaded) -> Served:
        registry = server.registry
        plans = ModulePlans(server.sandbox_requests(), in_gateway=True,
                            tool_names=frozenset(tool.name for tool in registry.tools),
                            has_handlers=bool(registry.resources or registry.templates or registry.prompts),
                            sandboxed=False, memory_bound=memory_needed(loaded.compiled.checked.policy),
                            label=server.name)
        grant = plans.grant(loaded)
        log_refusals(grant, server.name)
        runner = None
        if plans.needs_sandbox(grant):
            from sandgate.sandbox.paths import server_target

            runner = await start_sandbox(server_target(server), loop, settings, plans.memory_bound, data_paths)
            plans = replace(plans, sandboxed=True)
        identity = Identity(server.name, server.version, server.instructions, plans.tool_names)
        dispatcher = server.dispatcher(loop=loop, runner=runner, client_wait_s=settings.client_wait_s,
                                       max_announcements_per_call=settings.max_announcements_per_call)
        return Served(identity, dispatcher, plans, grant, runner)

    return build


def hosted(target: str, data_paths: Sequence[str] = ()) -> Source:
    """A module this process never imports: the confined zygote imports it and sends its catalog."""

    async def build(loop: asyncio.AbstractEventLoop, settings: ServerSettings, loaded: Loaded) -> Served:
        from sandgate.hosting import HostedModule
        from sandgate.sandbox.catalog import load_catalog

        memory_bound = memory_needed(loaded.compiled.checked.policy)
        runner = await start_sandbox(target, loop, settings, memory_bound, data_paths)
        label = target.rpartition(":")[0] or target
        try:
            assert runner.catalog is not None
            module = HostedModule(load_catalog(runner.catalog, label), label)
            plans = ModulePlans(module.catalog.requests.as_json(), in_gateway=False, tool_names=module.tool_names,
                                has_handlers=True, sandboxed=True, memory_bound=memory_bound, label=label)
            grant = plans.grant(loaded)
        except BaseException:
            await runner.close()
            raise
        log_refusals(grant, label)
        if module.catalog.settings:
            logger.warning("%s: server settings set by the module are ignored (%s); the operator sets them "
                           "with sandgate serve --set KEY=VALUE", label, ", ".join(module.catalog.settings))
        identity = Identity(module.name, module.version, module.instructions, module.tool_names)
        return Served(identity, module.dispatcher(loop, runner, settings.client_wait_s,
                                                  settings.max_announcements_per_call), plans, grant, runner)

    return build


def _served_policy(policy: PolicyFile | None) -> tuple[PolicyFile, Loaded]:
    """The operator's policy file, else the embedded default; loaded, as it serves at start."""
    from sandgate.policy.reload import PolicyFile

    served = policy if policy is not None else PolicyFile.embedded_default()
    loaded = served.current
    assert loaded is not None, "the policy file is loaded before serving starts"
    logger.info("policy %r from %s (sha256 %s)%s", loaded.compiled.checked.policy.metadata.name,
                served.path if policy is not None else "the embedded default", loaded.sha256[:12],
                ", reloaded on change" if served.watched else "")
    return served, loaded


def serve_http(source: Source, settings: ServerSettings, *, banner: bool = False,
               policy: PolicyFile | None = None) -> None:
    asyncio.run(_serve_http(source, settings, banner, policy))


async def _watch_policy(policy: PolicyFile) -> None:
    """Polls the file (a symlink swap included); a bad version is logged once and the last good one serves."""
    while True:
        await asyncio.sleep(POLICY_POLL_S)
        await asyncio.get_running_loop().run_in_executor(None, policy.reload)


async def _serve_http(source: Source, settings: ServerSettings, banner: bool, policy: PolicyFile | None) -> None:
    from sandgate import __version__, _core

    loop = asyncio.get_running_loop()
    policy, loaded = _served_policy(policy)
    served = await source(loop, settings, loaded)
    counters = registry(_core, served.runner)
    native = core_settings(_core, served.identity, settings)
    bound = bind(_core, policy, served.plans, served.grant, native, counters, loop,
                 on_swapped=partial(served.dispatcher.announce_list_changed, "tools"))
    served.dispatcher.attach_resource_plan(bound.server_plan)
    audit = open_audit_log(_core, settings, counters, stdio=False)
    try:
        http = _core.HttpServer(native, served.dispatcher, served.grant, counters, bound.gate, audit)
    except ValueError as exc:  # what the core refuses to serve (an x-mcp-header annotation it cannot honour)
        raise ConfigError(f"cannot serve this module: {exc}") from None
    if served.runner is not None:  # /readyz follows the sandbox's zygote: 503 while it is down or restarting
        http.set_backend_ready(served.runner.ready)
        served.runner.readiness = http.set_backend_ready
    watcher = loop.create_task(_watch_policy(policy)) if policy.watched else None
    shutdown: list[asyncio.Future[None]] = []

    def request_shutdown() -> None:
        # shutdown() blocks until in-flight calls finish, and those may need this loop.
        if not shutdown:
            shutdown.append(loop.run_in_executor(None, http.shutdown))

    # Handlers first: a supervisor may signal as soon as it reads the banner.
    installed = _install_signal_handlers(loop, request_shutdown)
    if policy.watched or audit is not None:
        def hangup() -> None:  # the operator's SIGHUP: reread the policy, reopen the rotated audit log
            if policy.watched:
                policy.reload()
            if audit is not None:
                audit.reopen()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, hangup)
            installed.append(signal.SIGHUP)
    metrics = serve_metrics(_core, counters, settings, policy) if settings.metrics else None
    try:
        port = http.start()
    except BaseException:
        if metrics is not None:
            metrics.close()
        raise
    announce(f"Sandgate {__version__} serving MCP at {endpoint_url(settings.host, port)}")
    if metrics is not None:
        announce(f"Sandgate metrics at http://{_url_host(settings.metrics_host)}:{metrics.port}/metrics")
    if banner:
        announce(banner_text(served.identity, settings.host, port))
    stopped = False
    try:
        await loop.run_in_executor(None, http.wait)
        stopped = True
    finally:
        if not stopped:
            request_shutdown()
        if shutdown:
            await shutdown[0]
        if watcher is not None:
            watcher.cancel()
        if metrics is not None:
            metrics.close()
        bound.close()
        if served.runner is not None:
            await served.runner.close()
        for signum in installed:
            loop.remove_signal_handler(signum)


async def start_sandbox(target: str, loop: asyncio.AbstractEventLoop, settings: ServerSettings,
                        memory_bound: int = DEFAULT_CEILING.memory, data_paths: Sequence[str] = ()) -> SandboxRunner:
    """The zygote for `path/module.py:variable`, started (confined, imported) before any request."""
    from sandgate.sandbox.paths import readonly_paths
    from sandgate.sandbox.runner import SandboxRunner, ZygoteConfig

    module = target.rpartition(":")[0] or target
    config = ZygoteConfig(target=target, readonly_paths=readonly_paths(module, data_paths),
                          max_session_workers=settings.max_session_workers,
                          prespawned_children=settings.prespawned_children,
                          prespawn_idle_s=settings.prespawn_idle_s, call_uid_base=settings.call_uid_base,
                          import_timeout_s=settings.import_timeout_s, import_memory=settings.import_memory,
                          max_call_memory=memory_bound)
    runner = SandboxRunner(config, loop)
    await runner.start()
    return runner


def serve_stdio(source: Source, settings: ServerSettings, policy: PolicyFile | None = None) -> None:
    """Serve on stdin/stdout; coroutine handlers run on a loop in a background thread."""
    from sandgate import __version__, _core

    # The client that started this process put its credential in our environment (MCP's stdio authorization);
    # taken out, so nothing started from here inherits it.
    api_key = os.environ.pop(STDIO_API_KEY_VARIABLE, "")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandgate-asyncio", daemon=True)
    thread.start()
    announce(f"Sandgate {__version__} serving MCP over stdio")
    try:
        policy, loaded = _served_policy(policy)
        served = asyncio.run_coroutine_threadsafe(source(loop, settings, loaded), loop).result()
    except BaseException:
        _stop_loop(loop, thread, settings.shutdown_grace_s)
        raise
    counters = registry(_core, served.runner)
    native = core_settings(_core, served.identity, settings)
    bound = bind(_core, policy, served.plans, served.grant, native, counters, loop,
                 on_swapped=partial(served.dispatcher.announce_list_changed, "tools"))
    served.dispatcher.attach_resource_plan(bound.server_plan)
    audit = open_audit_log(_core, settings, counters, stdio=True)
    if policy.watched:  # no SIGHUP here: the main thread is inside the core
        asyncio.run_coroutine_threadsafe(_watch_policy(policy), loop)
    try:
        # stdout carries the protocol, so stray prints from handlers must not reach it.
        with contextlib.redirect_stdout(sys.stderr):
            _core.serve_stdio(native, served.dispatcher, served.grant, counters, bound.gate, api_key, audit)
    except ValueError as exc:  # raised before the first message is read: what the core refuses to serve
        raise ConfigError(f"cannot serve this module: {exc}") from None
    finally:
        loop.call_soon_threadsafe(bound.close)
        if served.runner is not None:
            asyncio.run_coroutine_threadsafe(served.runner.close(), loop).result()
        _stop_loop(loop, thread, settings.shutdown_grace_s)


def open_audit_log(core: Any, settings: ServerSettings, counters: Any, *, stdio: bool) -> Any:
    """The audit trail's writer, or None when audit_log is unset. The salt for argument hashes comes from
    SANDGATE_AUDIT_SALT (taken out of the environment: hashes then compare across restarts), else is random."""
    from sandgate.errors import ConfigError

    salt = os.environ.pop(AUDIT_SALT_VARIABLE, "") or os.urandom(32).hex()
    if settings.audit_log is None:
        return None
    if stdio and settings.audit_log == "-":
        raise ConfigError("audit_log='-' writes to stdout, which carries the protocol over stdio: give a file")
    try:
        return core.AuditLog(settings.audit_log, settings.max_audit_queued_lines, salt, counters)
    except RuntimeError as exc:
        raise ConfigError(str(exc)) from None


def serve_metrics(core: Any, counters: Any, settings: ServerSettings, policy: PolicyFile) -> MetricsServer:
    """The metrics port, bound before the MCP port: a port in use stops the start before anything serves."""
    from sandgate import __version__
    from sandgate.errors import ConfigError
    from sandgate.metrics import CoreCollector, MetricsServer

    def served() -> tuple[str, str] | None:
        current = policy.current
        if current is None:
            return None
        return str(current.compiled.native.revision), current.sha256

    collector = CoreCollector(counters, __version__, core.build_revision, served)
    try:
        server = MetricsServer(collector, settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise ConfigError(f"the metrics port {settings.metrics_host}:{settings.metrics_port} cannot be bound "
                          f"({exc.strerror}); --set metrics_port=N, or metrics=false") from None
    return server


def registry(core: Any, runner: SandboxRunner | None) -> Any:
    """The one counter registry: what the sandbox runner counts, the core reports with its own."""
    return runner.counters if runner is not None else core.Counters()


def endpoint_url(host: str, port: int) -> str:
    return f"http://{_url_host(host)}:{port}/mcp"


def banner_text(identity: Identity, host: str, port: int) -> str:
    """The endpoint and a curl command that exercises it in the modern (stateless) protocol."""
    local = "127.0.0.1" if host in WILDCARD_HOSTS else host
    url = endpoint_url(local, port)
    meta = (f'"_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN_PROTOCOL}",'
            '"io.modelcontextprotocol/clientCapabilities":{}}')
    if "add" in identity.tool_names:
        method, name_header = "tools/call", " -H 'Mcp-Name: add'"
        params = f'{{"name":"add","arguments":{{"a":2,"b":3}},{meta}}}'
    else:
        method, name_header = "tools/list", ""
        params = f"{{{meta}}}"
    body = f'{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}'
    curl = (f"curl -s {url} -H 'Content-Type: application/json' "
            "-H 'Accept: application/json, text/event-stream' "
            f"-H 'MCP-Protocol-Version: {MODERN_PROTOCOL}' -H 'Mcp-Method: {method}'"
            f"{name_header} -d '{body}'")
    return f"MCP endpoint: {url}\nTry it:\n  {curl}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, handler: Any) -> list[int]:
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handler)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            continue
        installed.append(signum)
    return installed


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread, grace_s: float) -> None:
    async def drain() -> None:
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=grace_s + 1.0)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=grace_s)
    if not thread.is_alive():
        loop.close()
