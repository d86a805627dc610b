"""Our params/MACs of every zoo network next to the published figures, as a Markdown table.

Counting follows :mod:`hwnas.cost.counting`; params are shown in the convention of each network's source
(``no_bn``: conv/linear weights and biases only; ``all``: every parameter, BN included). The table in
docs/ARCHITECTURES.md is this script's output.

    .venv/bin/python benchmarks/zoo_counts.py
"""

from __future__ import annotations

from hwnas import zoo
from hwnas.cost import count_macs, count_params, peak_activation_bytes

# timm's results CSV param_count for HardCoRe-NAS (no paper figures exist; architectures.md section 2.2).
TIMM_HARDCORE_PARAMS_M = {"a": 5.26, "b": 5.18, "c": 5.52, "d": 7.50, "e": 8.07, "f": 8.20}


def _delta(ours: float, published: float | None) -> str:
    return f"{100 * (ours / published - 1):+.2f}%" if published else "–"


def rows() -> list[list[str]]:
    out = []
    for name in zoo.names():
        e = zoo.get(name)
        params_pub, convention = e.params_m, e.params_convention
        if name.startswith("hardcorenas_"):
            params_pub, convention = TIMM_HARDCORE_PARAMS_M[name[-1]], "all (timm)"
        params = count_params(e.spec, include_bn=e.params_convention == "all") / 1e6
        macs = count_macs(e.spec, e.input_size) / 1e6
        peak = peak_activation_bytes(e.spec, e.input_size) / 2**20
        out.append([name, str(e.input_size), convention, f"{params:.3f}", f"{params_pub or '–'}",
                    _delta(params, params_pub), f"{macs:.1f}", f"{e.macs_m or '–'}", _delta(macs, e.macs_m),
                    f"{peak:.2f}", f"{e.top1 or '–'}"])
    return out


def main() -> None:
    header = ["network", "input", "params convention", "params (M)", "published", "Δ", "MACs (M)", "published",
              "Δ", "peak act. (MiB)", "top-1 (pub.)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows():
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
