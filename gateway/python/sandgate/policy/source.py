"""A policy file's YAML as plain data plus where each key and value was written.

Stricter than YAML: a key written twice is an error (PyYAML keeps the last silently), and so is a YAML 1.1
boolean spelled other than true/false (`no`, `on`, `yes`, ...), which a reader takes for a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from sandgate.policy.problems import KeyPath, Problem

MAX_SOURCE_BYTES = 4 * 1024 * 1024  # a policy is reviewed by people; anything bigger is a mistake
MAX_NODES = 200_000  # aliases cannot blow a small file up either
_PLAIN_BOOLEANS = re.compile(r"^(true|false)$", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    file: str
    data: Any
    marks: dict[KeyPath, tuple[int, int]]  # key path → (line, column), 1-based, of the value

    def where(self, path: KeyPath) -> tuple[int, int]:
        """The position of `path`, or of its nearest written ancestor (a missing key's parent)."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark
        return (1, 1)

    def problem(self, path: KeyPath, code: str, message: str, severity: str = "error") -> Problem:
        line, column = self.where(path)
        return Problem(self.file, line, column, code, message, path, severity)  # type: ignore[arg-type]


class SourceError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_source(text: str, file: str) -> Source:
    """Parse `text`; SourceError lists every duplicate key and ambiguous boolean, or the first syntax error."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise SourceError([Problem(file, 0, 0, "file_too_large", f"policy files are limited to {MAX_SOURCE_BYTES} bytes")])
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise SourceError([Problem(file, line, column, "yaml_syntax", f"{exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise SourceError([Problem(file, 0, 0, "yaml_syntax", str(exc))]) from None
    if len(nodes) > 1:
        start = nodes[1].start_mark
        raise SourceError([Problem(file, start.line + 1, start.column + 1, "multiple_documents",
                                   "a policy file holds one YAML document")])
    if not nodes or nodes[0] is None:
        raise SourceError([Problem(file, 0, 0, "empty_file", "the policy file is empty")])
    builder = _Builder(file)
    data = builder.build(nodes[0], ())
    if builder.problems:
        raise SourceError(builder.problems)
    return Source(file, data, builder.marks)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[KeyPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used
        self.nodes = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SourceError([self._problem(node, path, "too_many_nodes",
                                             f"more than {MAX_NODES} values (aliases included)")])
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        self.constructor.flatten_mapping(node)  # merge keys (<<) as YAML defines them
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.problems.append(self._problem(key_node, path, "bad_key", "keys are plain strings"))
                continue
            child = (*path, key)
            if key in result:
                first = self.marks.get(child, (0, 0))
                self.problems.append(self._problem(
                    key_node, child, "duplicate_key", f"key {key!r} is written twice (first on line {first[0]})"))
                continue
            self.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, bool) and node.style is None and not _PLAIN_BOOLEANS.match(node.value):
            self.problems.append(self._problem(
                node, path, "yaml11_boolean",
                f"{node.value!r} reads as a boolean in YAML 1.1: write true or false, or quote it for a string"))
        return value

    def _problem(self, node: yaml.Node, path: KeyPath, code: str, message: str) -> Problem:
        return Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1, code, message, path)
