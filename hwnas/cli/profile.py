"""``hwnas profile``: params, MACs, peak activation memory and MicroNet score of one network; per layer, with
predicted (``--lut``) and measured (``--measure``) latency shares, on request."""

from __future__ import annotations

import argparse
from typing import Any

from hwnas.cli.common import final_map_flag, geometry_flags, positive_int, print_result


def cmd_profile(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.cost import count_macs, count_params, peak_activation_bytes

    from hwnas.workflows.run_dir import adapt_spec

    ref = load_arch(args.arch)
    size = args.input_size if args.input_size is not None else ref.input_size or 224
    spec = adapt_spec(ref.spec, size, args.adapt, args.min_final_map)
    d = {"arch": ref.name, "input_size": size, "adapted": spec != ref.spec,
         "params": count_params(spec, num_classes=args.num_classes, in_channels=args.in_channels),
         "macs": count_macs(spec, size, num_classes=args.num_classes, in_channels=args.in_channels),
         "peak_activation_bytes": peak_activation_bytes(spec, size, in_channels=args.in_channels)}
    from hwnas.cost.profile import micronet_score

    d["micronet_score"] = micronet_score(d["params"], d["macs"], args.micronet_track, args.bits)
    text = (f"{ref.name} at {size}px: {d['params'] / 1e6:.3f}M params, {d['macs'] / 1e6:.1f}M MACs, "
            f"peak activations {d['peak_activation_bytes'] / 2**20:.2f} MiB (batch 1, fp32), MicroNet score "
            f"{d['micronet_score']:.4f} ({args.micronet_track}, {args.bits}-bit)")
    if args.per_layer or args.lut or args.measure:
        text += "\n" + _layer_profile(args, spec, size, d)
    print_result(args, d, text)


def _layer_profile(args: argparse.Namespace, spec: Any, size: int, d: dict[str, Any]) -> str:
    """Add the per-layer profile to ``d``; return it as a table."""
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.cost.profile import profile

    table = LatencyTable.load(args.lut) if args.lut else None
    geometry = {"input_size": size, "in_channels": args.in_channels, "num_classes": args.num_classes}
    if table is not None:
        table.check(input_size=size, in_channels=args.in_channels, num_classes=args.num_classes)
    prof = profile(spec, geometry, table, measure=args.measure, rounds=args.rounds,
                   micronet_track=args.micronet_track, bits=args.bits)
    d.update(layers=prof["layers"], predicted_ms=prof["predicted_ms"], measured_ms=prof["measured_ms"],
             measured_layers_sum_ms=prof.get("measured_layers_sum_ms"))
    return _layer_table(prof)


def _layer_table(prof: dict[str, Any]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}%"

    lines = [f"{'layer':<10} {'op':<28} {'output':>12} {'MACs':>11} {'params':>9} {'act MiB':>8} "
             f"{'pred ms':>8} {'share':>6} {'meas ms':>8} {'share':>6}"]
    for r in prof["layers"]:
        shape = "x".join(map(str, r["out_shape"]))
        lines.append(f"{r['label']:<10} {r['op'][:28]:<28} {shape:>12} {r['macs']:>11,} {r['params']:>9,} "
                     f"{r['activation_mb']:>8.3f} {ms(r['predicted_ms']):>8} {pct(r['share_pct']):>6} "
                     f"{ms(r.get('measured_ms')):>8} {pct(r.get('measured_share_pct')):>6}")
    lines.append(f"whole network: predicted {ms(prof['predicted_ms'])} ms, measured {ms(prof['measured_ms'])} ms"
                 + (f" (layers alone sum to {prof['measured_layers_sum_ms']:.4f} ms)"
                    if prof.get("measured_layers_sum_ms") else ""))
    return "\n".join(lines)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``profile`` to the ``hwnas`` parser."""
    p = sub.add_parser("profile", help="params, MACs, memory and MicroNet score; per layer with --per-layer")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--per-layer", action="store_true", help="each layer's costs and share (op-to-op profile)")
    p.add_argument("--lut", help="latency table: predicted ms per layer (its geometry must match)")
    p.add_argument("--measure", action="store_true",
                   help="time every layer alone and the whole network (the table's backend and settings, else "
                        "ONNX Runtime, 1 thread, batch 1)")
    p.add_argument("--rounds", type=positive_int, help="timed rounds for --measure")
    p.add_argument("--micronet-track", choices=("imagenet", "cifar100", "spos"), default="imagenet",
                   help="MicroNet score reference: MobileNetV2-1.4 (imagenet), WRN-28-10 (cifar100), SPOS OneShot")
    p.add_argument("--bits", type=positive_int, default=32, help="bit width of weights and math for the MicroNet score")
    geometry_flags(p)
    p.add_argument("--adapt", action="store_true",
                   help="apply the small-input transform first, as `hwnas train` does on small images")
    final_map_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_profile)
