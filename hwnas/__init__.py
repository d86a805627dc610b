"""hwnas: hardware-aware neural architecture search for PyTorch."""

# The block types are registered before anything else: the spec layer (hwnas.arch) reads them to check and
# resolve a block, and must not import hwnas.blocks itself (blocks sit above arch). Pure Python, no torch.
import hwnas.blocks.registry  # noqa: F401  (registers the built-in block types)

__version__ = "0.1.0"
