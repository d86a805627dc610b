"""Dotted ``KEY=VALUE`` settings: the one parser behind ``hwnas search --set`` and ``hwnas run --set``.

``--set evolution.generations=5`` reaches a field of a nested config dataclass; ``--set search.settings.epochs=3``
a key of a run preset. Three steps, each used by both commands:

* :func:`parse_settings`: the command line's ``KEY=VALUE`` strings -> ``{key: value}``, values read as YAML
  scalars (``3``, ``0.5``, ``true``, ``sampled``);
* :func:`set_dotted`: one dotted key into a nested dict (a preset before it is validated);
* :func:`apply_overrides`: dotted keys into a (nested) config dataclass, all at once, so that settings checked
  against each other (``top_k <= population``) can change together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as YAML scalars (``3``, ``0.5``, ``true``, ``sampled``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE (e.g. --set evolution.generations=5), got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def set_dotted(data: dict[str, Any], key: str, value: Any, keep_whole: tuple[str, ...] = ()) -> None:
    """``data[a][b][c] = value`` for ``key="a.b.c"``; below a section named by ``keep_whole`` (a dotted prefix,
    e.g. ``search.settings``) the rest of the key stays one key (method settings are dotted names themselves)."""
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"--set: malformed key {key!r}")
    for prefix in keep_whole:
        head = prefix.split(".")
        if parts[:len(head)] == head and len(parts) > len(head):
            parts = [*head, ".".join(parts[len(head):])]
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"--set {key}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(cfg: Any, overrides: Mapping[str, Any]) -> Any:
    """A copy of the dataclass ``cfg`` with every dotted ``overrides`` key set (nested dataclasses included)."""
    return _apply(cfg, {tuple(k.split(".")): v for k, v in overrides.items()}, "")


def _apply(cfg: Any, overrides: Mapping[tuple[str, ...], Any], prefix: str) -> Any:
    names = {f.name for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    nested: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in overrides.items():
        full = prefix + ".".join(path)
        if path[0] not in names:
            raise ValueError(f"{type(cfg).__name__} has no setting {full!r}; valid: {', '.join(sorted(names))}")
        if len(path) == 1:
            changes[path[0]] = value
        elif dataclasses.is_dataclass(getattr(cfg, path[0])):
            nested.setdefault(path[0], {})[path[1:]] = value
        else:
            raise ValueError(f"setting {prefix + path[0]!r} has no fields (in {full!r})")
    for name, inner in nested.items():
        changes[name] = _apply(getattr(cfg, name), inner, f"{prefix}{name}.")
    try:
        return dataclasses.replace(cfg, **changes)
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad settings {', '.join(prefix + k for k in changes)}: {e}") from None
