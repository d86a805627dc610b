"""Spaces by name: the four built-in spaces, or a YAML file (``hwnas space list``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hwnas.space.base import SearchSpace
from hwnas.space.fbnet import fbnet_space
from hwnas.space.hardcore import hardcore_space
from hwnas.space.spos import spos_space
from hwnas.space.tfnas import tfnas_space
from hwnas.space.yaml_space import load_yaml_space

SPACES: dict[str, Callable[..., SearchSpace]] = {
    "fbnet": fbnet_space,
    "hardcore": hardcore_space,
    "tfnas": tfnas_space,
    "spos": spos_space,
}


def space_names() -> list[str]:
    """Names of the built-in spaces (FBNet, HardCoRe-NAS, TF-NAS, SPOS)."""
    return list(SPACES)


def get_space(name: str, input_size: int = 224, in_channels: int = 3, num_classes: int = 1000,
              width_mult: float = 1.0) -> SearchSpace:
    """A built-in space by name, or the space a YAML file (``.yaml``/``.yml``) defines, for this geometry."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a space is a name ({', '.join(SPACES)}) or a YAML file, got {name!r}")
    name = name.strip()
    if name in SPACES:
        return SPACES[name](input_size, in_channels, num_classes, width_mult)
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        return load_yaml_space(name, input_size, in_channels, num_classes, width_mult)
    raise ValueError(f"unknown space {name!r}; valid: {', '.join(SPACES)}, or a path to a YAML space file")
