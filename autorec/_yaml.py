"""YAML for files a user writes (genomes, search spaces, run configs): safe types only, no
duplicate keys (PyYAML lets the last one win without a word) and no aliases (``*name``: a
few hundred bytes of nested aliases expand to gigabytes when anything walks the value)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

__all__ = ["strict_load", "yaml_problem"]


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConstructorError(
                None,
                None,
                f"alias *{event.anchor} is not allowed (write the value out)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if duplicate:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"key {str(key)[:60]!r} appears twice (remove one)",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def strict_load(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys and aliases (``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_StrictLoader)


def yaml_problem(err: yaml.YAMLError) -> str:
    """``line N: what`` of a YAML error, in one line."""
    mark = getattr(err, "problem_mark", None)
    problem = str(getattr(err, "problem", None) or err).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem
