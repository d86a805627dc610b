"""Search spaces: the single source of truth for what each method searches (pure Python, no torch)."""

from hwnas.space.base import Choice, Dim, SearchSpace, Slot, SpaceGeometry, check_geometry
from hwnas.space.fbnet import fbnet_space
from hwnas.space.hardcore import hardcore_space
from hwnas.space.registry import get_space, space_names
from hwnas.space.spos import spos_space
from hwnas.space.tfnas import tfnas_space
from hwnas.space.yaml_space import load_yaml_space, space_from_dict

__all__ = [
    "Choice", "Dim", "SearchSpace", "Slot", "SpaceGeometry", "check_geometry", "fbnet_space", "get_space",
    "hardcore_space", "load_yaml_space", "space_from_dict", "space_names", "spos_space", "tfnas_space",
]
