"""What the zygote may see: the interpreter, the packages, the tools, and nothing else of the host."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from sandgate.errors import ConfigError

# System directories Python and common libraries read at run time; all mounted read-only.
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/etc/ssl", "/etc/ca-certificates", "/etc/localtime",
                "/etc/alternatives", "/etc/ld.so.cache")


# Python sources beside the module (and packages) are importable; a directory holding more is refused.
MAX_MODULE_ENTRIES = 1024


def readonly_paths(tool_module_file: str, data_paths: Sequence[str] = ()) -> list[str]:
    """Existing paths to bind read-only into the sandbox, without ones nested in another."""
    candidates: set[str] = set(SYSTEM_PATHS)
    candidates.update({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    candidates.update(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    candidates.update(site.getsitepackages())
    import sandgate

    candidates.add(str(Path(sandgate.__file__).resolve().parent))
    candidates.update(module_view(tool_module_file))
    for path in data_paths:
        if not os.path.exists(path):
            raise ConfigError(f"data path {path} does not exist")
        candidates.add(os.path.realpath(path))
    # Paths as spelled (merged-/usr systems need /lib to exist beside /usr/lib for the loader).
    existing = {os.path.abspath(path) for path in candidates if os.path.exists(path)}
    ordered = sorted(existing, key=lambda path: (path.count("/"), path))
    kept: list[str] = []
    for path in ordered:
        if not any(path == parent or path.startswith(parent.rstrip("/") + "/") for parent in kept):
            kept.append(path)
    return sorted(kept)


def module_view(tool_module_file: str) -> list[str]:
    """What the sandbox sees of the module's directory: the module, the Python files and packages
    beside it (it may import them), never dotfiles (.env, .git), keys or anything else."""
    module = Path(tool_module_file).resolve()
    view = [str(module)]
    with os.scandir(module.parent) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.path == str(module):
                continue
            if (entry.is_file() and entry.name.endswith(".py")) or (
                    entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py"))):
                view.append(entry.path)
                if len(view) > MAX_MODULE_ENTRIES:
                    raise ConfigError(f"{module.parent} holds more than {MAX_MODULE_ENTRIES} Python files and "
                                      "packages; serve the module from a directory of its own")
    return view


def server_target(server: Any) -> str:
    """`path/to/module.py:variable` naming where `server` is defined, for the zygote to import."""
    for module in list(sys.modules.values()):
        if not isinstance(module, ModuleType):
            continue
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py"):
            continue
        for name, value in list(vars(module).items()):
            if value is server and name.isidentifier():
                return f"{os.path.realpath(file)}:{name}"
    raise LookupError("the server is not a module-level variable; the sandbox cannot import it")
