"""What is wrong with a policy file, where, under a stable code: errors refuse the file, warnings do not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the file as a whole is meant
    column: int  # 1-based
    code: str  # stable snake_case slug, e.g. unknown_key, duplicate_key, unknown_principal
    message: str
    path: KeyPath = field(default=(), compare=False)
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        key = f" at {dotted(self.path)}" if self.path else ""
        return f"{where}: {self.severity}: {self.message}{key} [{self.code}]"


def dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class PolicyError(ValueError):
    """A policy file that cannot be served: every error found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problem for problem in problems if problem.severity == "error")
        super().__init__("\n".join(str(problem) for problem in self.problems))
