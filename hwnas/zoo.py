"""Reference architectures as data: the searched networks of the four seed papers and the hand-designed baselines.

Every entry is written the way its source writes it (FBNet per-layer op names, timm block lists, SPOS choice
indices, TF-NAS per-block rows) and turned into an :class:`~hwnas.arch.ArchSpec` by a few small translators
below. Specs and published figures are from ``shared/reference/architectures.md``; each entry names its source.

Published ``macs`` are multiply-adds (what these papers call FLOPs) at ``input_size``; ``params`` are counts in
millions. ``tolerance`` widens the default 1 % check only where a source is known not to be reproducible (see
``note``). Sources count parameters differently: Google's MobileNet READMEs, mobile-vision's FBNet tables and the
SPOS README leave BatchNorm out (``params_convention="no_bn"``); MnasNet and timm count everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwnas.arch import ArchSpec, decode, encode

# --------------------------------------------------------------------------------------------------------------
# FBNet (Wu et al., CVPR 2019, Tables 1-2): 22 searchable layers, 9 candidates each.
FBNET_STAGES = (  # (out channels, searchable layers, stride of the first layer)
    (16, 1, 1), (24, 4, 2), (32, 4, 2), (64, 4, 2), (112, 4, 1), (184, 4, 2), (352, 1, 1),
)
FBNET_CANDIDATES = {  # name: (expansion, kernel, groups); "skip" has no parameters of its own
    "k3_e1": (1, 3, 1), "k3_e1_g2": (1, 3, 2), "k3_e3": (3, 3, 1), "k3_e6": (6, 3, 1),
    "k5_e1": (1, 5, 1), "k5_e1_g2": (1, 5, 2), "k5_e3": (3, 5, 1), "k5_e6": (6, 5, 1), "skip": None,
}


def fbnet_block(op: str, out: int, stride: int) -> str:
    """Block string of one FBNet candidate (pw-always inverted residual, ReLU, no SE)."""
    if op not in FBNET_CANDIDATES:
        raise ValueError(f"unknown FBNet candidate {op!r}; valid: {', '.join(FBNET_CANDIDATES)}")
    if op == "skip":
        return f"skip_s{stride}_c{out}"
    exp, kernel, groups = FBNET_CANDIDATES[op]
    return f"ir_r1_k{kernel}_s{stride}_e{exp}_c{out}" + (f"_g{groups}" if groups > 1 else "")


def fbnet_arch(ops: list[str], head: int, stem: int = 16, channels: tuple[int, ...] | None = None) -> ArchSpec:
    """An FBNet network from its 22 per-layer choices (stage order), stem and head widths."""
    channels = channels or tuple(c for c, _, _ in FBNET_STAGES)
    if len(ops) != sum(n for _, n, _ in FBNET_STAGES):
        raise ValueError(f"FBNet needs {sum(n for _, n, _ in FBNET_STAGES)} layer choices, got {len(ops)}")
    stages, i = [], 0
    for (_, n, stride), out in zip(FBNET_STAGES, channels):
        stages.append(" ".join(fbnet_block(ops[i + j], out, stride if j == 0 else 1) for j in range(n)))
        i += n
    return decode(" | ".join([f"act=re se=in", f"stem_k3_s2_c{stem}", *stages, f"cn_r1_k1_s1_c{head}", "head"]))


# --------------------------------------------------------------------------------------------------------------
def timm_arch(arch_def: list[list[str]], stem: int, act: str, se_mode: str, head: str = "head",
              stem_act: str | None = None) -> ArchSpec:
    """A network written as timm block lists (one list per stage), e.g. HardCoRe-NAS and MobileNetV3."""
    stem_text = f"stem_k3_s2_c{stem}" + (f"_n{stem_act}" if stem_act else "")
    return decode(" | ".join([f"act={act} se={se_mode}", stem_text, *(" ".join(s) for s in arch_def), head]))


# --------------------------------------------------------------------------------------------------------------
# SPOS (Guo et al. 2019): ShuffleNetV2 supernet, 20 choice blocks in stages of [4, 4, 8, 4].
SPOS_STAGES = ((64, 4), (160, 4), (320, 8), (640, 4))
SPOS_CHOICES = ("shuffle_r1_k3", "shuffle_r1_k5", "shuffle_r1_k7", "xception_r1_k3")


def spos_arch(blocks: list[int], scales: list[float]) -> ArchSpec:
    """A SPOS network from its 20 block-choice indices and 20 mid-channel scales."""
    if len(blocks) != 20 or len(scales) != 20:
        raise ValueError(f"SPOS needs 20 block choices and 20 scales, got {len(blocks)} and {len(scales)}")
    stages, i = [], 0
    for out, n in SPOS_STAGES:
        parts = []
        for j in range(n):
            w = format(scales[i], "g")
            parts.append(f"{SPOS_CHOICES[blocks[i]]}_s{2 if j == 0 else 1}_c{out}_w{w}")
            i += 1
        stages.append(" ".join(parts))
    return decode(" | ".join(["act=re se=in", "stem_k3_s2_c16", *stages, "cn_r1_k1_s1_c1024", "head_d0.1_nobias"]))


# --------------------------------------------------------------------------------------------------------------
# TF-NAS (Hu et al., ECCV 2020): rows of (stage, in, mid, se, out, kernel, stride, activation); nominal e6 blocks
# with elasticity-scaled mid widths. The "second_stem" row has no expansion conv, so it is a `ds` block.
def tfnas_arch(rows: list[tuple[str, int, int, int, int, int, int, str]]) -> ArchSpec:
    """A TF-NAS network from its per-block rows, grouped into stages by their stage name."""
    stages: dict[str, list[str]] = {}
    for stage, _, mid, se, out, k, s, act in rows:
        relu = "_nre" if act == "relu" else ""
        sec = f"_sec{se}" if se else ""
        if stage == "second_stem":
            text = f"ds_r1_k{k}_s{s}_e1_c{out}{relu}{sec}"
        else:
            text = f"ir_r1_k{k}_s{s}_e6_c{out}_m{mid}{relu}{sec}"
        stages.setdefault(stage, []).append(text)
    return decode(" | ".join(["act=sw se=in", "stem_k3_s2_c32_nre", *(" ".join(b) for b in stages.values()),
                              "cn_r1_k1_s1_c1280", "head"]))


TFNAS_A_ROWS = [
    ("second_stem", 32, 32, 8, 16, 3, 1, "relu"),
    ("stage1", 16, 83, 32, 24, 3, 2, "relu"), ("stage1", 24, 128, 0, 24, 5, 1, "relu"),
    ("stage2", 24, 138, 48, 40, 3, 2, "swish"), ("stage2", 40, 297, 0, 40, 3, 1, "swish"),
    ("stage2", 40, 170, 80, 40, 5, 1, "swish"),
    ("stage3", 40, 248, 80, 80, 5, 2, "swish"), ("stage3", 80, 500, 0, 80, 3, 1, "swish"),
    ("stage3", 80, 424, 0, 80, 3, 1, "swish"), ("stage3", 80, 477, 0, 80, 3, 1, "swish"),
    ("stage4", 80, 504, 160, 112, 3, 1, "swish"), ("stage4", 112, 796, 0, 112, 3, 1, "swish"),
    ("stage4", 112, 723, 224, 112, 3, 1, "swish"), ("stage4", 112, 555, 224, 112, 3, 1, "swish"),
    ("stage5", 112, 813, 0, 192, 3, 2, "swish"), ("stage5", 192, 1370, 0, 192, 3, 1, "swish"),
    ("stage5", 192, 1138, 384, 192, 3, 1, "swish"), ("stage5", 192, 1359, 384, 192, 3, 1, "swish"),
    ("stage6", 192, 1203, 384, 320, 5, 1, "swish"),
]

# --------------------------------------------------------------------------------------------------------------
# ProxylessNAS-Mobile (Cai et al. 2019), per-unit lists as in the osmr/imgclsmob definition. A unit with
# residual 0 is a zero (identity) layer and is dropped; MB1 units have no expansion conv, so they are `ds`.
PROXYLESS_MOBILE = dict(
    residuals=[[1], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1]],
    channels=[[16], [32, 32, 32, 32], [40, 40, 40, 40], [80, 80, 80, 80, 96, 96, 96, 96],
              [192, 192, 192, 192, 320]],
    kernels=[[3], [5, 3, 3, 3], [7, 3, 5, 5], [7, 5, 5, 5, 5, 5, 5, 5], [7, 7, 7, 7, 7]],
    expansions=[[1], [3, 3, 3, 3], [3, 3, 3, 3], [6, 3, 3, 3, 6, 3, 3, 3], [6, 6, 3, 3, 6]],
)


def proxyless_arch(d: dict) -> ArchSpec:
    stages = []
    for si, (res, ch, ks, es) in enumerate(zip(d["residuals"], d["channels"], d["kernels"], d["expansions"])):
        blocks = []
        for j, (r, c, k, e) in enumerate(zip(res, ch, ks, es)):
            if not r:
                continue
            s = 2 if j == 0 and si > 0 else 1
            blocks.append(f"ds_r1_k{k}_s{s}_e1_c{c}" if e == 1 else f"ir_r1_k{k}_s{s}_e{e}_c{c}")
        stages.append(" ".join(blocks))
    return decode(" | ".join(["act=r6 se=in", "stem_k3_s2_c32", *stages, "cn_r1_k1_s1_c1280", "head"]))


# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ZooEntry:
    """A reference network and what its authors published about it."""

    name: str
    spec: ArchSpec
    input_size: int = 224
    macs_m: float | None = None  # published multiply-adds, millions
    params_m: float | None = None  # published parameters, millions
    top1: float | None = None  # published ImageNet top-1, %
    source: str = ""
    tolerance: float = 0.01  # relative tolerance of our counts against the published ones
    params_convention: str = "all"  # "all" parameters, or "no_bn": conv/linear weights and biases without BN
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def arch(self) -> str:
        return encode(self.spec)


HARDCORE_DEFS = {
    "a": [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre', 'ir_r1_k5_s1_e3_c24_nre_se0.25'],
          ['ir_r1_k5_s2_e3_c40_nre', 'ir_r1_k5_s1_e6_c40_nre_se0.25'],
          ['ir_r1_k5_s2_e6_c80_se0.25', 'ir_r1_k5_s1_e6_c80_se0.25'],
          ['ir_r1_k5_s1_e6_c112_se0.25', 'ir_r1_k5_s1_e6_c112_se0.25'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25'], ['cn_r1_k1_s1_c960']],
    "b": [['ds_r1_k3_s1_e1_c16_nre'],
          ['ir_r1_k5_s2_e3_c24_nre', 'ir_r1_k5_s1_e3_c24_nre_se0.25', 'ir_r1_k3_s1_e3_c24_nre'],
          ['ir_r1_k5_s2_e3_c40_nre', 'ir_r1_k5_s1_e3_c40_nre', 'ir_r1_k5_s1_e3_c40_nre'],
          ['ir_r1_k5_s2_e3_c80', 'ir_r1_k5_s1_e3_c80', 'ir_r1_k3_s1_e3_c80', 'ir_r1_k3_s1_e3_c80'],
          ['ir_r1_k5_s1_e3_c112', 'ir_r1_k3_s1_e3_c112', 'ir_r1_k3_s1_e3_c112', 'ir_r1_k3_s1_e3_c112'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25', 'ir_r1_k3_s1_e3_c192_se0.25'],
          ['cn_r1_k1_s1_c960']],
    "c": [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre', 'ir_r1_k5_s1_e3_c24_nre_se0.25'],
          ['ir_r1_k5_s2_e3_c40_nre', 'ir_r1_k5_s1_e3_c40_nre', 'ir_r1_k5_s1_e3_c40_nre', 'ir_r1_k5_s1_e3_c40_nre'],
          ['ir_r1_k5_s2_e4_c80', 'ir_r1_k5_s1_e6_c80_se0.25', 'ir_r1_k3_s1_e3_c80', 'ir_r1_k3_s1_e3_c80'],
          ['ir_r1_k5_s1_e6_c112_se0.25', 'ir_r1_k3_s1_e3_c112', 'ir_r1_k3_s1_e3_c112', 'ir_r1_k3_s1_e3_c112'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25', 'ir_r1_k3_s1_e3_c192_se0.25'],
          ['cn_r1_k1_s1_c960']],
    "d": [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre_se0.25', 'ir_r1_k5_s1_e3_c24_nre_se0.25'],
          ['ir_r1_k5_s2_e3_c40_nre_se0.25', 'ir_r1_k5_s1_e4_c40_nre_se0.25', 'ir_r1_k3_s1_e3_c40_nre_se0.25'],
          ['ir_r1_k5_s2_e4_c80_se0.25', 'ir_r1_k3_s1_e3_c80_se0.25', 'ir_r1_k3_s1_e3_c80_se0.25',
           'ir_r1_k3_s1_e3_c80_se0.25'],
          ['ir_r1_k3_s1_e4_c112_se0.25', 'ir_r1_k5_s1_e4_c112_se0.25', 'ir_r1_k3_s1_e3_c112_se0.25',
           'ir_r1_k5_s1_e3_c112_se0.25'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25',
           'ir_r1_k3_s1_e6_c192_se0.25'],
          ['cn_r1_k1_s1_c960']],
    "e": [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre_se0.25', 'ir_r1_k5_s1_e3_c24_nre_se0.25'],
          ['ir_r1_k5_s2_e6_c40_nre_se0.25', 'ir_r1_k5_s1_e4_c40_nre_se0.25', 'ir_r1_k5_s1_e4_c40_nre_se0.25',
           'ir_r1_k3_s1_e3_c40_nre_se0.25'],
          ['ir_r1_k5_s2_e4_c80_se0.25', 'ir_r1_k3_s1_e6_c80_se0.25'],
          ['ir_r1_k5_s1_e6_c112_se0.25', 'ir_r1_k5_s1_e6_c112_se0.25', 'ir_r1_k5_s1_e6_c112_se0.25',
           'ir_r1_k5_s1_e3_c112_se0.25'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25',
           'ir_r1_k3_s1_e6_c192_se0.25'],
          ['cn_r1_k1_s1_c960']],
    "f": [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre_se0.25', 'ir_r1_k5_s1_e3_c24_nre_se0.25'],
          ['ir_r1_k5_s2_e6_c40_nre_se0.25', 'ir_r1_k5_s1_e6_c40_nre_se0.25'],
          ['ir_r1_k5_s2_e6_c80_se0.25', 'ir_r1_k5_s1_e6_c80_se0.25', 'ir_r1_k3_s1_e3_c80_se0.25',
           'ir_r1_k3_s1_e3_c80_se0.25'],
          ['ir_r1_k3_s1_e6_c112_se0.25', 'ir_r1_k5_s1_e6_c112_se0.25', 'ir_r1_k5_s1_e6_c112_se0.25',
           'ir_r1_k3_s1_e3_c112_se0.25'],
          ['ir_r1_k5_s2_e6_c192_se0.25', 'ir_r1_k5_s1_e6_c192_se0.25', 'ir_r1_k3_s1_e6_c192_se0.25',
           'ir_r1_k3_s1_e6_c192_se0.25'],
          ['cn_r1_k1_s1_c960']],
}
HARDCORE_LATENCY_MS = {"a": 38, "b": 40, "c": 44, "d": 50, "e": 55, "f": 60}
HARDCORE_TOP1 = {"a": 75.3, "b": 75.8, "c": 76.4, "d": 77.1, "e": 77.6, "f": 78.0}

FBNET_OPS = {
    "a": ["skip", "k3_e3", "k3_e1", "skip", "skip", "k5_e6", "k3_e3", "k5_e1", "k3_e3", "k5_e6", "k5_e3",
          "k5_e1_g2", "k5_e6", "k3_e6", "k5_e1_g2", "k5_e3", "k3_e1_g2", "k5_e6", "k5_e6", "k5_e3", "k5_e6", "k5_e6"],
    "b": ["k3_e1", "k3_e6", "k5_e1", "k3_e1", "k3_e1", "k5_e6", "k5_e3", "k3_e6", "k5_e6", "k5_e6", "k5_e1",
          "skip", "k5_e3", "k5_e6", "k3_e1", "k5_e1", "k5_e3", "k5_e6", "k5_e1", "k5_e6", "k5_e6", "k3_e6"],
    "c": ["k3_e1", "k3_e6", "skip", "k3_e1", "k3_e1", "k5_e6", "k5_e3", "k5_e6", "k3_e6", "k5_e6", "k5_e3",
          "k5_e6", "k5_e6", "k5_e6", "k5_e6", "k5_e6", "k5_e3", "k5_e6", "k5_e6", "k5_e6", "k5_e6", "k3_e6"],
    "iphonex": ["skip", "k3_e6", "k3_e1", "k3_e1", "k3_e1", "k3_e6", "k3_e6", "k3_e6", "k3_e6", "k3_e6", "k3_e6",
                "k3_e3", "k3_e6", "k3_e6", "k3_e3", "k3_e3", "k3_e3", "k5_e6", "k5_e6", "k5_e6", "k5_e3", "k5_e6"],
    "s8": ["k3_e1", "k3_e3", "k3_e1", "skip", "skip", "k5_e6", "k3_e3", "k3_e3", "k3_e6", "k5_e6", "k5_e3",
           "k5_e3", "k5_e3", "k3_e6", "k5_e3", "k5_e3", "k5_e3", "k5_e6", "k5_e6", "k5_e3", "k5_e6", "k5_e6"],
    "96": ["k3_e1", "k3_e6", "k3_e6", "skip", "skip", "k5_e6", "k5_e6", "skip", "skip", "k5_e6", "skip", "skip",
           "skip", "k3_e6", "skip", "skip", "skip", "k5_e6", "k5_e6", "skip", "skip", "k5_e6"],
}

MOBILENETV2 = [['ds_r1_k3_s1_c16'], ['ir_r2_k3_s2_e6_c24'], ['ir_r3_k3_s2_e6_c32'], ['ir_r4_k3_s2_e6_c64'],
               ['ir_r3_k3_s1_e6_c96'], ['ir_r3_k3_s2_e6_c160'], ['ir_r1_k3_s1_e6_c320'], ['cn_r1_k1_s1_c1280']]
MOBILENETV3_LARGE = [['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k3_s2_e4_c24_nre', 'ir_r1_k3_s1_e3_c24_nre'],
                     ['ir_r3_k5_s2_e3_c40_se0.25_nre'],
                     ['ir_r1_k3_s2_e6_c80', 'ir_r1_k3_s1_e2.5_c80', 'ir_r2_k3_s1_e2.3_c80'],
                     ['ir_r2_k3_s1_e6_c112_se0.25'], ['ir_r3_k5_s2_e6_c160_se0.25'], ['cn_r1_k1_s1_c960']]
MNASNET_A1 = [['ds_r1_k3_s1_e1_c16_noskip'], ['ir_r2_k3_s2_e6_c24'], ['ir_r3_k5_s2_e3_c40_se0.25'],
              ['ir_r4_k3_s2_e6_c80'], ['ir_r2_k3_s1_e6_c112_se0.25'], ['ir_r3_k5_s2_e6_c160_se0.25'],
              ['ir_r1_k3_s1_e6_c320'], ['cn_r1_k1_s1_c1280']]
MNASNET_B1 = [['ds_r1_k3_s1_c16_noskip'], ['ir_r3_k3_s2_e3_c24'], ['ir_r3_k5_s2_e3_c40'], ['ir_r3_k5_s2_e6_c80'],
              ['ir_r2_k3_s1_e6_c96'], ['ir_r4_k5_s2_e6_c192'], ['ir_r1_k3_s1_e6_c320_noskip'],
              ['cn_r1_k1_s1_c1280']]
SPNASNET = [['ds_r1_k3_s1_c16_noskip'], ['ir_r3_k3_s2_e3_c24'], ['ir_r1_k5_s2_e6_c40', 'ir_r3_k3_s1_e3_c40'],
            ['ir_r1_k5_s2_e6_c80', 'ir_r3_k3_s1_e3_c80'], ['ir_r1_k5_s1_e6_c96', 'ir_r3_k5_s1_e3_c96'],
            ['ir_r4_k5_s2_e6_c192'], ['ir_r1_k3_s1_e6_c320_noskip'], ['cn_r1_k1_s1_c1280']]

_FBNET_SRC = "FBNet paper (Wu et al. 2019) and mobile-vision; architectures.md 1.3-1.4"


def _fbnet_entries() -> list[ZooEntry]:
    return [
        ZooEntry("fbnet_a", fbnet_arch(FBNET_OPS["a"], head=1504), macs_m=249, params_m=4.3, top1=73.0,
                 source=_FBNET_SRC, tags=("fbnet",), params_convention="no_bn"),
        ZooEntry("fbnet_b", fbnet_arch(FBNET_OPS["b"], head=1984), macs_m=295, params_m=4.8, top1=74.1,
                 source=_FBNET_SRC, tags=("fbnet",), params_convention="no_bn",
                 note="the paper's 4.5M params is not reproducible from any definition; checked against the "
                      "4.8M of the mobile-vision Caffe2 README for the same network"),
        ZooEntry("fbnet_c", fbnet_arch(FBNET_OPS["c"], head=1984), macs_m=383.0, params_m=5.5, top1=74.9,
                 source=_FBNET_SRC, tags=("fbnet",), params_convention="no_bn",
                 note="the paper's 375M MACs is not reproducible from the official definition; checked against "
                      "the 383.0M of the mobile-vision Caffe2 README"),
        ZooEntry("fbnet_iphonex", fbnet_arch(FBNET_OPS["iphonex"], head=1504), macs_m=322, params_m=4.47,
                 top1=73.20, source=_FBNET_SRC + " (Table 5, unconfirmed)", tags=("fbnet",), params_convention="no_bn"),
        ZooEntry("fbnet_s8", fbnet_arch(FBNET_OPS["s8"], head=1504), macs_m=293, params_m=4.43, top1=73.27,
                 source=_FBNET_SRC + " (Table 5, unconfirmed)", tags=("fbnet",), params_convention="no_bn"),
        ZooEntry("fbnet_96_035_1", fbnet_arch(FBNET_OPS["96"], head=1416, stem=8,
                                              channels=(8, 16, 16, 24, 40, 72, 128)),
                 input_size=96, macs_m=12.9, params_m=1.8, top1=50.2, source=_FBNET_SRC, tags=("fbnet",),
                 params_convention="no_bn", tolerance=0.025,
                 note="params published to one decimal (1.8M, Caffe2 README); our 1.835M agrees at that precision"),
    ]


def _hardcore_entries() -> list[ZooEntry]:
    return [ZooEntry(f"hardcorenas_{v}", timm_arch(arch_def, stem=32, act="hs", se_mode="exp", head="head_c1280"),
                     top1=HARDCORE_TOP1[v], tags=("hardcore",),
                     source="HardCoRe-NAS (Nayman et al. 2021) README / timm hardcorenas.py; architectures.md 2",
                     note=f"searched for {HARDCORE_LATENCY_MS[v]} ms on an Intel Xeon CPU, batch 1; "
                          "no MACs/params were published") for v, arch_def in HARDCORE_DEFS.items()]


def _searched_entries() -> list[ZooEntry]:
    """TF-NAS-A and the two SPOS results."""
    return [
        ZooEntry("tfnas_a", tfnas_arch(TFNAS_A_ROWS), macs_m=457, top1=76.87, tags=("tfnas",),
                 source="TF-NAS (Hu et al. 2020) README; config from the first author's TF_NAS_A; architectures.md 3"),
        ZooEntry("spos_official", spos_arch([2, 1, 0, 1, 2, 0, 2, 0, 2, 0, 2, 3, 0, 0, 0, 0, 3, 2, 3, 3], [1.0] * 20),
                 macs_m=323, params_m=3.5, top1=74.4, tags=("spos",), params_convention="no_bn",
                 source="SPOS (Guo et al. 2019), megvii README; architectures.md 4"),
        ZooEntry("spos_block_channel",
                 spos_arch([0, 0, 3, 1, 1, 1, 0, 0, 2, 0, 2, 1, 1, 0, 2, 0, 2, 1, 3, 2],
                           [1.4, 1.2, 0.8, 1.2, 0.6, 1.4, 0.8, 1.0, 0.6, 1.2, 1.6, 1.2, 1.0, 1.4, 1.6, 1.0, 1.0,
                            1.2, 1.0, 0.8]),
                 macs_m=328, params_m=3.4, top1=74.7, tags=("spos",), params_convention="no_bn",
                 source="SPOS paper block+channel search result; architectures.md 4"),
    ]


def _reference_entries() -> list[ZooEntry]:
    """The hand-designed and other-NAS networks a search is compared with."""
    return [
        ZooEntry("mobilenetv2_100", timm_arch(MOBILENETV2, stem=32, act="r6", se_mode="in"), macs_m=300,
                 params_m=3.47, top1=71.8, tags=("reference",), params_convention="no_bn",
                 source="MobileNetV2 (Sandler et al. 2018), tensorflow/models slim README"),
        ZooEntry("mobilenetv3_large_100", timm_arch(MOBILENETV3_LARGE, stem=16, act="hs", se_mode="exp",
                                                    head="head_c1280"),
                 macs_m=217, params_m=5.4, top1=75.2, tags=("reference",), tolerance=0.02,
                 note="the published 5.4M is truncated: timm counts 5.48M for the same network, as we do",
                 source="MobileNetV3 (Howard et al. 2019), tensorflow/models slim README"),
        ZooEntry("mnasnet_a1", timm_arch(MNASNET_A1, stem=32, act="re", se_mode="in"), macs_m=312, params_m=3.9,
                 top1=75.2, tags=("reference",), source="MnasNet (Tan et al. 2019), tensorflow/tpu README"),
        ZooEntry("mnasnet_b1", timm_arch(MNASNET_B1, stem=32, act="re", se_mode="in"), tags=("reference",),
                 source="MnasNet-B1 as in timm mnasnet_100", note="no figures in architectures.md"),
        ZooEntry("spnasnet_100", timm_arch(SPNASNET, stem=32, act="re", se_mode="in"), top1=74.96,
                 tags=("reference",), source="Single-Path NAS (Stamoulis et al. 2019), timm spnasnet_100",
                 note="MACs/params unconfirmed, so not checked"),
        ZooEntry("proxylessnas_mobile", proxyless_arch(PROXYLESS_MOBILE), top1=74.6, tags=("reference",),
                 source="ProxylessNAS (Cai et al. 2019), osmr/imgclsmob proxylessnas mobile",
                 note="MACs/params not published in a stored source, so not checked"),
    ]


ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in
                            [*_fbnet_entries(), *_hardcore_entries(), *_searched_entries(), *_reference_entries()]}


def get(name: str) -> ZooEntry:
    """The zoo entry called ``name``; unknown names raise ValueError listing the valid ones."""
    try:
        return ZOO[name]
    except KeyError:
        raise ValueError(f"unknown zoo network {name!r}; valid names: {', '.join(sorted(ZOO))}") from None


def names() -> list[str]:
    return sorted(ZOO)
