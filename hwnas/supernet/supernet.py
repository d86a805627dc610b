"""One weight-sharing supernet per search space, built from :meth:`SearchSpace.slots` alone.

Structure: the builder's own stem, prefix blocks, suffix blocks and head (:mod:`hwnas.nn`), and per slot a
:class:`ChoiceLayer` holding one builder block per candidate at the slot's largest width (``sharing="independent"``)
or one per group of candidates that share weights (``"entangled"``: Once-for-All/BigNAS weight entanglement, see
:mod:`hwnas.supernet.choice_layer`). Because every module is
made by :func:`hwnas.blocks.registry.create_block` from a resolved layer, a candidate has the same state-dict keys
as the block it becomes in ``build_model(space.to_spec(choice))``, and :meth:`Supernet.extract` copies weights
with one rule: the leading slice of every channel dimension and the centre of every kernel
(:func:`~hwnas.blocks.slicing.copy_sliced`). A narrower width or smaller kernel runs through its block type's
elastic forward (``BlockType.elastic_forward``, :mod:`hwnas.blocks`).

Forward modes (architecture weights are passed in, never owned here, so search methods own their parameters):

* single path (SPOS, Guo et al. 2019; HardCoRe-NAS pretraining): :meth:`Supernet.set_active` then
  :meth:`Supernet.forward`; only the chosen candidate of each active slot runs, narrower widths by channel slicing,
  slots beyond a stage's depth are skipped;
* weighted mixture (FBNet, Wu et al. 2019, Eq. 5-6): :meth:`Supernet.forward_mixture`, every candidate runs and
  the slot output is the weighted sum;
* sampled paths (TF-NAS bi-sampling, Hu et al. 2020; ProxylessNAS binary gates, Cai et al. 2019, Sec. 3.2.1):
  :meth:`Supernet.forward_sampled` runs ``k`` sampled candidates per slot, :meth:`Supernet.forward_paths` the
  candidates a search method picked;
* depth in the mixture modes: sink-connecting (TF-NAS, Hu et al. 2020), see :func:`_sink_connect`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import torch
from torch import nn

from hwnas.arch.resolve import Layer, resolve_block, resolve_layers
from hwnas.arch.spec import BlockSpec
from hwnas.blocks.registry import block_type, create_block
from hwnas.blocks.slicing import copy_leading, copy_sliced
from hwnas.cost.counting import count_params
from hwnas.cost.penalty import probs_for
from hwnas.nn.builder import ClassifierHead, HwnasNet, build_model, init_weights, zero_init_last_bn
from hwnas.nn.layers import ConvBnAct
from hwnas.space.base import Choice, SearchSpace, Slot, candidate_width
from hwnas.space.labels import depth_label
from hwnas.supernet.choice_layer import ChoiceLayer, check_sharing

Weights = Mapping[str, torch.Tensor]
"""Architecture weights: dimension label (``s1_b0_op``, ``s1_depth``) -> 1-D tensor, one value per option."""


def _stage_layer_count(stages: tuple[tuple[BlockSpec, ...], ...]) -> int:
    return sum(block.repeats for stage in stages for block in stage)


def sample_candidates(probs: torch.Tensor, k: int, generator: torch.Generator) -> list[int]:
    """``k`` distinct candidate indices drawn without replacement with probabilities ``probs`` (sorted).

    Sampling is not differentiated (``probs`` is detached); gradients reach ``probs`` through the weights the
    sampled outputs are combined with. ``generator`` is a CPU ``torch.Generator`` (no global RNG).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (paths per slot) must be a positive integer, got {k!r}")
    p = probs.detach().float().cpu()
    k = min(k, int((p > 0).sum()))  # without replacement, zero-probability candidates cannot be drawn
    if k >= len(p):
        return list(range(len(p)))
    return sorted(torch.multinomial(p, k, replacement=False, generator=generator).tolist())


def _weights_for(weights: Weights, label: str, count: int) -> torch.Tensor:
    return probs_for(weights, label, count)  # one check for every consumer of architecture weights


def _indices_for(paths: Mapping[str, list[int]], slot: Slot) -> list[int]:
    picked = paths.get(slot.op_label)
    n = len(slot.candidates)
    if (not picked or len(set(picked)) != len(picked)
            or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n for i in picked)):
        raise ValueError(f"paths[{slot.op_label!r}] must list distinct candidate indices in [0, {n}), got {picked!r}")
    return list(picked)


def _weighted_sum(weights: torch.Tensor, indices: list[int], run: Callable[[int], torch.Tensor]) -> torch.Tensor:
    out = None
    for i in indices:
        y = weights[i] * run(i)
        out = y if out is None else out + y
    assert out is not None
    return out


def _weighted_sum_per_sample(weights: torch.Tensor, indices, run: Callable[[int], torch.Tensor]) -> torch.Tensor:
    """``sum_i weights[:, i] * run(i)`` with one weight per sample (``weights`` is ``(batch, candidates)``)."""
    out = None
    for i in indices:
        y = weights[:, i].reshape(-1, 1, 1, 1) * run(i)
        out = y if out is None else out + y
    assert out is not None
    return out


def _sink_connect(stage: tuple[Slot, ...], min_depth: int, p: torch.Tensor, x: torch.Tensor,
                  run_slot: Callable[[Slot, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """TF-NAS sink-connecting (Hu et al. 2020): sum over allowed depths d of p(d) * (output after d
    blocks). Every block runs once; depth choices share the prefix of the stage instead of each adding a skip."""
    out = p[0] * x if min_depth == 0 else None
    for i, slot in enumerate(stage):
        x = run_slot(slot, x)
        if i + 1 >= min_depth:
            y = p[i + 1 - min_depth] * x
            out = y if out is None else out + y
    assert out is not None
    return out


def present_candidates(picked: torch.Tensor, count: int, world: Any = None) -> list[int]:
    """The candidates some sample picked, in index order. In a synchronised data-parallel step (``world``, the
    supernet's ``sync_world``), those of the global batch: every rank runs every one of them (on none of its rows,
    if need be), so that each candidate's global BatchNorm gathers the same ranks (:mod:`hwnas.nn.global_bn`)."""
    if world is None:
        return torch.unique(picked).tolist()
    seen = torch.zeros(count, device=picked.device)
    seen[picked] = 1.0
    world.sum_(seen)
    return torch.nonzero(seen).flatten().tolist()


class Supernet(nn.Module):
    """The weight-sharing network of ``space`` (see the module docstring for its modes)."""

    sync_world: Any = None  # the process group of a synchronised step (set by hwnas.nn.global_bn.synchronised)

    def __init__(self, space: SearchSpace, sharing: str = "independent", kernel_transform: bool = False,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        self.space = space
        self.sharing = check_sharing(sharing)
        if kernel_transform and sharing != "entangled":
            raise ValueError("kernel_transform needs sharing='entangled' (it maps a shared kernel to smaller ones)")
        self.num_classes = space.geometry.num_classes
        self.in_channels = space.geometry.in_channels
        # Prefix and suffix are fixed: resolve them inside the heaviest network, as the builder would.
        full = resolve_layers(space.to_spec(space.heaviest()))
        n_prefix, n_suffix = _stage_layer_count(space.prefix), _stage_layer_count(space.suffix)
        stem = space.stem
        self.stem = ConvBnAct(self.in_channels, stem.out, stem.kernel, stem.stride, act=stem.act or space.act)
        self.prefix = nn.Sequential(*(create_block(layer) for layer in full[:n_prefix]))
        self.choice_layers = nn.ModuleDict({
            slot.label: ChoiceLayer(slot, [resolve_block(b, slot.in_ch, space.act, space.se_mode)
                                           for b in slot.candidates.values()], sharing, kernel_transform)
            for slot in space.slots()})
        self.suffix = nn.Sequential(*(create_block(layer) for layer in full[len(full) - n_suffix:]))
        self.head = ClassifierHead.from_spec(space.head, full[-1].out_ch, self.num_classes, space.act)
        init_weights(self)
        if zero_init_residual:
            zero_init_last_bn(self)
        self._narrow: dict[tuple[str, int, Any], Layer | None] = {}
        self._active: Choice | None = None
        self._path: list[tuple[nn.Module, Callable | None, Layer | None]] = []

    # ------------------------------------------------------------------------------------------ widths
    def _narrow_layer(self, slot: Slot, index: int, width: Any) -> Layer | None:
        """The narrower layer candidate ``index`` of ``slot`` becomes at ``width``; ``None`` if full width."""
        key = (slot.label, index, width)
        if key not in self._narrow:
            self._narrow[key] = self._resolve_narrow(slot, index, width)
        return self._narrow[key]

    def _resolve_narrow(self, slot: Slot, index: int, width: Any) -> Layer | None:
        choice_layer = self.choice_layers[slot.label]
        name, full = choice_layer.names[index], choice_layer.module_layer(index)
        if width is None or slot.widths is None:
            layer = choice_layer.full_layers[index]
        else:
            if width not in slot.widths:
                raise ValueError(f"{slot.width_label}={width!r} is not one of {slot.widths}")
            block = self.space.block_for(slot, {slot.op_label: name, slot.width_label: width})
            layer = resolve_block(block, slot.in_ch, self.space.act, self.space.se_mode)
        if (layer.mid, layer.se_ch, layer.kernel) == (full.mid, full.se_ch, full.kernel):
            return None
        if layer.mid > full.mid or layer.se_ch > full.se_ch or layer.kernel > full.kernel:
            raise ValueError(f"{slot.label} candidate {name!r} at width {width!r} (mid {layer.mid}, SE "
                             f"{layer.se_ch}) is wider than its supernet block (mid {full.mid}, SE {full.se_ch}); "
                             "a space must write candidates at their largest width")
        if block_type(full.type).elastic_forward() is None:
            raise ValueError(f"{slot.label} candidate {name!r} ({full.type}) has no elastic (sliced) forward")
        return layer

    def _elastic(self, slot: Slot, index: int, layer: Layer | None) -> Callable | None:
        """The sliced forward of candidate ``index`` at ``layer`` (``None``: the module runs whole), with its
        module's kernel transforms bound in when it has them."""
        if layer is None:
            return None
        forward = block_type(layer.type).elastic_forward()
        transforms = self.choice_layers[slot.label].transforms(index)
        return forward if transforms is None else partial(forward, kernel_transforms=transforms)

    def _run_candidate(self, slot: Slot, index: int, x: torch.Tensor, width: Any = None) -> torch.Tensor:
        module = self.choice_layers[slot.label].module(index)
        layer = self._narrow_layer(slot, index, candidate_width(width, index))
        elastic = self._elastic(slot, index, layer)
        return module(x) if elastic is None else elastic(module, x, layer)

    # ------------------------------------------------------------------------------------------ single path
    def set_active(self, choice: Mapping[str, Any]) -> None:
        """Make ``choice`` the path :meth:`forward` runs (SPOS single path, Guo et al. 2019)."""
        self.space.check(choice)
        path = []
        for slot in self.space.active_slots(choice):
            index = self.choice_layers[slot.label].index(choice[slot.op_label])
            layer = self._narrow_layer(slot, index, choice.get(slot.width_label))
            module = self.choice_layers[slot.label].module(index)
            path.append((module, self._elastic(slot, index, layer), layer))
        self._active, self._path = dict(choice), path

    def sample_active(self, rng: random.Random) -> Choice:
        """Sample a uniformly random choice (SPOS uniform path sampling), make it active and return it."""
        choice = self.space.sample(rng)
        self.set_active(choice)
        return choice

    @property
    def active(self) -> Choice | None:
        """A copy of the active choice (``None`` before :meth:`set_active`)."""
        return None if self._active is None else dict(self._active)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the active single path: exactly the computation of ``extract(active)``."""
        if self._active is None:
            raise ValueError("no active architecture: call set_active(choice) before forward(x)")
        x = self.prefix(self.stem(x))
        for module, elastic, layer in self._path:
            x = module(x) if elastic is None else elastic(module, x, layer)
        return self.head(self.suffix(x))

    # ------------------------------------------------------------------------------------------ mixtures
    def forward_mixture(self, x: torch.Tensor, op_weights: Weights, depth_weights: Weights | None = None,
                        widths: Mapping[str, Any] | None = None) -> torch.Tensor:
        """Every candidate of every slot runs; a slot outputs ``sum_i w_i * op_i(x)``.

        FBNet (Wu et al. 2019, Eq. 5-6) passes Gumbel-softmax samples of its logits as ``op_weights``
        (``s{stage}_b{block}_op`` -> one weight per candidate, in slot order). ``depth_weights``
        (``s{stage}_depth`` -> one weight per allowed depth, increasing) mixes stage depths by sink-connecting;
        without it every slot is active. ``widths`` (width label -> value) fixes elastic widths; default the
        largest. TF-NAS's architecture step is this mode too (Gumbel-softmax op weights, softmax depth weights).
        """
        def run_slot(slot: Slot, h: torch.Tensor) -> torch.Tensor:
            w = _weights_for(op_weights, slot.op_label, len(slot.candidates))
            width = _get(widths, slot)
            return _weighted_sum(w, list(range(len(w))), lambda i: self._run_candidate(slot, i, h, width))

        return self._forward_stages(x, run_slot, depth_weights)

    def sample_paths(self, op_probs: Weights, k: int, generator: torch.Generator) -> dict[str, list[int]]:
        """Per slot (op label), ``k`` distinct candidate indices drawn from ``op_probs`` (:func:`sample_candidates`).

        Sampling a candidate from ``p`` is what the Gumbel-max trick does (FBNet, Wu et al. 2019, Eq. 6; the
        TF-NAS argmax of a Gumbel softmax); for TF-NAS's second, uniform path among the rest, pass uniform
        probabilities with the first path's entry set to zero.
        """
        return {slot.op_label: sample_candidates(_weights_for(op_probs, slot.op_label, len(slot.candidates)), k,
                                                 generator) for slot in self.space.slots()}

    def forward_sampled(self, x: torch.Tensor, op_probs: Weights, k: int = 2, *, generator: torch.Generator,
                        depth_weights: Weights | None = None,
                        widths: Mapping[str, Any] | None = None) -> torch.Tensor:
        """Run only ``k`` candidates per slot, drawn without replacement from ``op_probs`` with ``generator`` (a
        CPU ``torch.Generator``, so runs are reproducible): :meth:`sample_paths` then :meth:`forward_paths`."""
        return self.forward_paths(x, self.sample_paths(op_probs, k, generator), op_probs, depth_weights, widths)

    def forward_paths(self, x: torch.Tensor, paths: Mapping[str, list[int]], op_probs: Weights | None = None,
                      depth_weights: Weights | None = None,
                      widths: Mapping[str, Any] | None = None) -> torch.Tensor:
        """Run the candidates ``paths`` names per slot (op label -> candidate indices); only those are computed.

        With ``op_probs``, gradients reach the probabilities: several paths are combined with their renormalised
        probabilities ``p_i / sum_S p_j`` (the two-path update of ProxylessNAS, Cai et al. 2019, Sec. 3.2.1; TF-NAS
        bi-sampling, Hu et al. 2020, keeps two paths per step); one path is gated by ``1 + p_i - sg(p_i)``, value
        1 with the gradient of a gate on ``p_i`` (straight-through, as in ProxylessNAS binary gates and GDAS), at
        the memory of a single path. Without ``op_probs`` each slot names one candidate and its output is used as
        is: TF-NAS's weight step, which trains one Gumbel-sampled and one random path and mixes only depths.
        Depth and widths as in :meth:`forward_mixture`.
        """
        def run_slot(slot: Slot, h: torch.Tensor) -> torch.Tensor:
            picked = _indices_for(paths, slot)
            width = _get(widths, slot)
            if op_probs is None:
                if len(picked) != 1:
                    raise ValueError(f"{slot.op_label}: without op_probs a path names one candidate, got {picked}")
                return self._run_candidate(slot, picked[0], h, width)
            p = _weights_for(op_probs, slot.op_label, len(slot.candidates))
            if len(picked) == 1:
                gate = 1.0 + p[picked[0]] - p[picked[0]].detach()
                return gate * self._run_candidate(slot, picked[0], h, width)
            return _weighted_sum(p / p[picked].sum(), picked, lambda i: self._run_candidate(slot, i, h, width))

        return self._forward_stages(x, run_slot, depth_weights)

    def forward_per_sample(self, x: torch.Tensor, op_weights: Weights, depth_weights: Weights | None = None,
                           widths: Mapping[str, Any] | None = None, hard: bool = False) -> torch.Tensor:
        """Mixture with weights drawn per sample: ``op_weights[label]`` is a ``(batch, candidates)`` tensor.

        FBNet (Wu et al. 2019, Eq. 5-6) draws a Gumbel-softmax mask for every sample, so each image sees its own
        sampled architecture; the well-known reproduction draws one mask per batch. Soft (``hard=False``): every
        candidate runs on the whole batch and sample ``b`` gets ``sum_i w[b, i] * op_i(x_b)``. Hard
        (``hard=True``, straight-through, memory-lean): ``w`` must be one-hot in value (``hard - sg(soft) +
        soft``); each sample runs only its candidate, the batch split by candidate, so a step costs about one
        path, and gradients reach the soft weights of the chosen candidates. ``depth_weights`` may be per
        sample ``(batch, depths)`` or shared ``(depths,)``.
        """
        batch = x.shape[0]

        def per_sample(label: str, count: int) -> torch.Tensor:
            w = op_weights.get(label)
            if not isinstance(w, torch.Tensor) or tuple(w.shape) != (batch, count):
                shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
                raise ValueError(f"per-sample weights for {label!r} must have shape ({batch}, {count}), got {shape}")
            return w

        def run_slot(slot: Slot, h: torch.Tensor) -> torch.Tensor:
            w = per_sample(slot.op_label, len(slot.candidates))
            width = _get(widths, slot)
            if not hard:
                return _weighted_sum_per_sample(w, range(w.shape[1]), lambda i: self._run_candidate(slot, i, h, width))
            picked = w.detach().argmax(dim=1)
            pieces, order = [], []
            for i in present_candidates(picked, len(slot.candidates), self.sync_world):
                rows = torch.nonzero(picked == i).flatten()
                gate = w[rows, i].reshape(-1, 1, 1, 1)
                pieces.append(gate * self._run_candidate(slot, i, h[rows], width))
                order.append(rows)
            return torch.cat(pieces)[torch.argsort(torch.cat(order))]

        return self._forward_stages(x, run_slot, depth_weights, per_sample_depth=True)

    def _forward_stages(self, x: torch.Tensor, run_slot: Callable[[Slot, torch.Tensor], torch.Tensor],
                        depth_weights: Weights | None, per_sample_depth: bool = False) -> torch.Tensor:
        x = self.prefix(self.stem(x))
        for s, stage in enumerate(self.space.slots_by_stage):
            if depth_weights is not None and s in self.space.min_depth:
                min_depth = self.space.min_depth[s]
                label, count = depth_label(s), len(stage) - min_depth + 1
                w = depth_weights.get(label)
                if per_sample_depth and isinstance(w, torch.Tensor) and w.dim() == 2:
                    if tuple(w.shape) != (x.shape[0], count):
                        raise ValueError(f"per-sample weights for {label!r} must have shape ({x.shape[0]}, "
                                         f"{count}), got {tuple(w.shape)}")
                    p = w.t().reshape(count, -1, 1, 1, 1)  # p[d] broadcasts over (batch, C, H, W)
                else:
                    p = _weights_for(depth_weights, label, count)
                x = _sink_connect(stage, min_depth, p, x, run_slot)
            else:
                for slot in stage:
                    x = run_slot(slot, x)
        return self.head(self.suffix(x))

    # ------------------------------------------------------------------------------------------ children
    def path_blocks(self, choice: Mapping[str, Any]) -> list[nn.Module]:
        """The supernet blocks ``choice`` runs, in order: prefix, chosen candidates of active slots, suffix.

        They pair one to one with ``build_model(space.to_spec(choice)).blocks``.
        """
        return [module for module, _ in self._path_pairs(choice)]

    def _path_pairs(self, choice: Mapping[str, Any]) -> list[tuple[nn.Module, dict]]:
        """``path_blocks`` with, per block, the kernel transforms of its weights (for :func:`copy_sliced`)."""
        self.space.check(choice)
        pairs: list[tuple[nn.Module, dict]] = [(block, {}) for block in self.prefix]
        for slot in self.space.active_slots(choice):
            layer = self.choice_layers[slot.label]
            index = layer.index(choice[slot.op_label])
            transforms = layer.transforms(index)
            pairs.append((layer.module(index), {} if transforms is None else {"conv_dw.conv.weight": transforms}))
        return pairs + [(block, {}) for block in self.suffix]

    def extract(self, choice: Mapping[str, Any]) -> HwnasNet:
        """The child network of ``choice`` (``hwnas.nn.build_model`` of its spec) with the supernet's weights and
        BN statistics copied in (leading channel slices, centred kernels: :func:`copy_sliced`); same mode and
        device as the supernet."""
        child = build_model(self.space.to_spec(choice), self.num_classes, self.in_channels)
        pairs = self._path_pairs(choice)
        assert len(pairs) == len(child.blocks), (len(pairs), len(child.blocks))
        copy_leading(self.stem, child.stem)
        for (src, kernels), dst in zip(pairs, child.blocks):
            copy_sliced(src, dst, kernels)
        copy_leading(self.head, child.head)
        return child.to(self.stem.conv.weight.device).train(self.training)

    def heaviest(self) -> Choice:
        """The largest choice of the space (HardCoRe-NAS heaviest-network pretraining, Nayman et al. 2021)."""
        return self.space.heaviest()

    def param_count(self, choice: Mapping[str, Any] | None = None) -> int:
        """Parameters of the whole supernet, or (with ``choice``) of the child it extracts, BN included."""
        if choice is None:
            return sum(p.numel() for p in self.parameters())
        return count_params(self.space.to_spec(choice), self.num_classes, self.in_channels)


def _get(widths: Mapping[str, Any] | None, slot: Slot) -> Any:
    """The width ``widths`` fixes for ``slot`` (``None``: the largest; a tuple: one per candidate)."""
    if widths is None or slot.widths is None:
        return None
    return widths.get(slot.width_label)
