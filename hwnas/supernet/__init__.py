"""Weight-sharing supernets built from a SearchSpace: single path, weighted and sampled mixtures, elastic widths
by channel slicing, extraction of a child with copied weights, BN recalibration."""

from hwnas.blocks.slicing import copy_leading
from hwnas.supernet.bn_recalibration import recalibrate_bn
from hwnas.supernet.supernet import ChoiceLayer, Supernet, Weights, sample_candidates

__all__ = ["ChoiceLayer", "Supernet", "Weights", "copy_leading", "recalibrate_bn", "sample_candidates"]
