"""Search spaces: the single source of truth for what each method searches (pure Python, no torch)."""

from hwnas.space.base import Choice, Dim, SearchSpace, Slot, SpaceGeometry, check_geometry

__all__ = ["Choice", "Dim", "SearchSpace", "Slot", "SpaceGeometry", "check_geometry"]
