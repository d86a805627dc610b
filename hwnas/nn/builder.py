"""Build a PyTorch network from an :class:`~hwnas.arch.ArchSpec`.

The network is stem -> one block per resolved layer (:func:`hwnas.arch.resolve_layers`, same order) -> head.
Every width and flag comes from the resolved layers, so the module, the analytic counters in
:mod:`hwnas.cost.counting` and the latency table all describe the same network.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch.resolve import resolve_layers
from hwnas.arch.spec import ArchSpec, HeadSpec
from hwnas.blocks.registry import create_block
from hwnas.nn.layers import ConvBnAct, create_act


class ClassifierHead(nn.Module):
    """Global average pool -> [1x1 conv with bias, no BN -> act] -> flatten -> dropout -> linear.

    The optional post-pool conv is the MobileNetV3 "efficient last stage" (Howard et al. 2019, Sec. 5.3): it runs
    on a 1x1 map, so it costs ``in * features`` MACs instead of ``in * features * H * W``. It has a bias and no BN
    because BN over a 1x1 map of a batch-1 input is meaningless.
    """

    def __init__(
        self,
        in_ch: int,
        num_classes: int,
        features: int | None = None,
        act: str = "re",
        dropout: float = 0.0,
        fc_bias: bool = True,
    ) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv2d(in_ch, features, 1, bias=True) if features else nn.Identity()
        self.act = create_act(act) if features else nn.Identity()
        self.flatten = nn.Flatten(1)
        self.dropout = nn.Dropout(dropout)
        self.num_features = features or in_ch
        self.fc = nn.Linear(self.num_features, num_classes, bias=fc_bias)

    @classmethod
    def from_spec(cls, head: HeadSpec, in_ch: int, num_classes: int, default_act: str) -> ClassifierHead:
        return cls(in_ch, num_classes, head.features, head.act or default_act, head.dropout, head.fc_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.flatten(self.act(self.conv(self.pool(x))))))


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class HwnasNet(nn.Module):
    """stem -> blocks (one per resolved layer) -> head; keeps the spec it was built from as ``.spec``."""

    def __init__(
        self,
        spec: ArchSpec,
        num_classes: int = 1000,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if not isinstance(spec, ArchSpec):
            raise ValueError(f"build_model needs an ArchSpec, got {type(spec).__name__}; parse text with "
                             "hwnas.arch.decode")
        _check_count("num_classes", num_classes)
        _check_count("in_channels", in_channels)
        self.spec = spec
        self.num_classes = num_classes
        self.in_channels = in_channels
        layers = resolve_layers(spec)
        self.stem = ConvBnAct(in_channels, spec.stem.out, spec.stem.kernel, spec.stem.stride,
                              act=spec.stem.act or spec.act)
        self.blocks = nn.Sequential(*(create_block(layer) for layer in layers))
        self.head = ClassifierHead.from_spec(spec.head, layers[-1].out_ch, num_classes, spec.act)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, before pooling (N, C, H / total_stride, W / total_stride)."""
        return self.blocks(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def init_weights(model: nn.Module) -> None:
    """MobileNet/MnasNet-style initialisation.

    * Conv: normal(0, sqrt(2 / fan_out)) with fan_out = k * k * out / groups (He et al. 2015, fan-out mode). We
      compute fan_out ourselves because torch's ``kaiming_normal_`` ignores groups, which makes depthwise filters
      ~``channels`` times too small; biases 0.
    * BatchNorm: weight 1, bias 0.
    * Linear: normal(0, 0.01), bias 0 (the classifier starts near uniform predictions).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def zero_init_last_bn(model: nn.Module) -> int:
    """Start every residual block as the identity: zero the scale of the last BatchNorm of its branch.

    BigNAS (Yu et al. 2020, Sec. 3.1, "initialization") trains big single-stage models only with this: the output
    of each residual block starts at its input, so a deep network of randomly chosen blocks is well-behaved from
    the first step (Goyal et al. 2017 use the same trick for large-batch ResNets). A block is residual when it
    says so (``has_residual``). Returns the number of blocks changed.
    """
    changed = 0
    for m in model.modules():
        if getattr(m, "has_residual", False):
            bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
            if bns:
                nn.init.zeros_(bns[-1].weight)
                changed += 1
    return changed


def build_model(spec: ArchSpec, num_classes: int = 1000, in_channels: int = 3) -> HwnasNet:
    """The network described by ``spec``, freshly initialised (see :func:`init_weights`)."""
    return HwnasNet(spec, num_classes, in_channels)
