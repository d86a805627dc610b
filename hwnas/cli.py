"""The ``hwnas`` command line. Each subcommand parses its arguments and makes one call into the library.

User errors (bad arch text, unknown names, missing files) print one line ``hwnas: error: ...`` and exit 2, work
that fails (a download, a diverged training run) prints one line and exits 1;
nothing a user can cause prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_USAGE = 2  # the user asked for something that cannot be done (bad arch, unknown name, missing file)
EXIT_FAILED = 1  # the request was valid but the work failed (download error, diverged training)


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    from hwnas.distributed import is_main

    if is_main():  # under torchrun, one rank reports
        print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


# ---------------------------------------------------------------------------------------------------------- zoo
def cmd_zoo_list(args: argparse.Namespace) -> None:
    from hwnas import zoo

    rows = [{"name": n, "input_size": zoo.get(n).input_size, "source": zoo.get(n).source} for n in zoo.names()]
    _print(args, rows, "\n".join(f"{r['name']:24s} {r['input_size']:4d}px  {r['source']}" for r in rows))


def zoo_summary(name: str) -> dict[str, Any]:
    from hwnas import zoo
    from hwnas.cost import count_macs, count_params

    e = zoo.get(name)
    return {"name": e.name, "arch": e.arch, "input_size": e.input_size, "params": count_params(e.spec),
            "macs": count_macs(e.spec, e.input_size), "published": {"macs_m": e.macs_m, "params_m": e.params_m,
                                                                     "top1": e.top1}, "source": e.source,
            "note": e.note}


def cmd_zoo_show(args: argparse.Namespace) -> None:
    d = zoo_summary(args.name)
    pub = d["published"]
    text = (f"{d['name']} ({d['input_size']}px)\n  arch: {d['arch']}\n"
            f"  params: {d['params'] / 1e6:.3f}M (published {pub['params_m']}M)\n"
            f"  MACs:   {d['macs'] / 1e6:.1f}M (published {pub['macs_m']}M)\n  source: {d['source']}"
            + (f"\n  note: {d['note']}" if d["note"] else ""))
    _print(args, d, text)


# ------------------------------------------------------------------------------------------------------ profile
def cmd_profile(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.cost import count_macs, count_params, peak_activation_bytes

    from hwnas.pipeline import adapt_spec

    ref = load_arch(args.arch)
    size = args.input_size or ref.input_size or 224
    spec = adapt_spec(ref.spec, size, args.adapt, args.min_final_map)
    d = {"arch": ref.name, "input_size": size, "adapted": spec != ref.spec,
         "params": count_params(spec, num_classes=args.num_classes, in_channels=args.in_channels),
         "macs": count_macs(spec, size, num_classes=args.num_classes, in_channels=args.in_channels),
         "peak_activation_bytes": peak_activation_bytes(spec, size, in_channels=args.in_channels)}
    from hwnas.cost.profile import micronet_score, profile

    d["micronet_score"] = micronet_score(d["params"], d["macs"], args.micronet_track, args.bits)
    text = (f"{ref.name} at {size}px: {d['params'] / 1e6:.3f}M params, {d['macs'] / 1e6:.1f}M MACs, "
            f"peak activations {d['peak_activation_bytes'] / 2**20:.2f} MiB (batch 1, fp32), MicroNet score "
            f"{d['micronet_score']:.4f} ({args.micronet_track}, {args.bits}-bit)")
    if args.per_layer or args.lut or args.measure:
        from hwnas.cost.lut import LatencyTable

        table = LatencyTable.load(args.lut) if args.lut else None
        geometry = {"input_size": size, "in_channels": args.in_channels, "num_classes": args.num_classes}
        if table is not None:
            table.check(input_size=size, in_channels=args.in_channels, num_classes=args.num_classes)
        prof = profile(spec, geometry, table, measure=args.measure, rounds=args.rounds,
                       micronet_track=args.micronet_track, bits=args.bits)
        d.update(layers=prof["layers"], predicted_ms=prof["predicted_ms"], measured_ms=prof["measured_ms"],
                 measured_layers_sum_ms=prof.get("measured_layers_sum_ms"))
        text += "\n" + _layer_table(prof)
    _print(args, d, text)


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


# -------------------------------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.pipeline import train_arch

    ref = load_arch(args.arch)
    extra = {k: v for k, v in (("weight_decay", args.weight_decay), ("label_smoothing", args.label_smoothing),
                               ("warmup_epochs", args.warmup_epochs), ("ema_decay", args.ema_decay))
             if v is not None}
    if args.amp:
        extra.update(amp=True, amp_dtype=args.amp)
    if args.channels_last:
        extra["channels_last"] = True
    metrics = train_arch(ref.spec, args.dataset, Path(args.out), epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, optimizer=args.optimizer, seed=args.seed, device=args.device,
                         data_dir=args.data_dir, download=args.download, limit=args.limit,
                         val_fraction=args.val_fraction, resume=args.resume, adapt=not args.no_adapt,
                         min_final_map=args.min_final_map,
                         progress=not args.quiet, augment=not args.no_augment, **extra)
    _print(args, metrics, f"test top-1 {metrics['top1']:.2f}%  top-5 {metrics['top5']:.2f}%  "
                          f"({metrics['epochs']} epochs, {metrics['wall_time_s']:.0f} s) -> {args.out}")


def _run_inputs(args: argparse.Namespace):
    """Spec and geometry for eval/export: from a run directory, or from ARCH plus explicit geometry flags."""
    from hwnas.archref import load_arch
    from hwnas.pipeline import RunGeometry, adapt_spec, read_run

    run_dir = Path(args.checkpoint).parent if args.checkpoint else None
    if run_dir is not None and (run_dir / "run.json").is_file() and args.arch in (None, "run"):
        return read_run(run_dir)
    if args.arch is None:
        raise ValueError("give ARCH, or a --checkpoint inside a training run directory (it holds run.json)")
    ref = load_arch(args.arch)
    size = args.input_size or ref.input_size or 224
    geometry = RunGeometry(getattr(args, "dataset", None) or "none", size, args.in_channels, args.num_classes)
    return adapt_spec(ref.spec, size, not args.no_adapt), geometry


def cmd_eval(args: argparse.Namespace) -> None:
    from hwnas.pipeline import evaluate_arch

    spec, geometry = _run_inputs(args)
    metrics = evaluate_arch(spec, geometry, Path(args.checkpoint), data_dir=args.data_dir, device=args.device,
                            limit=args.limit)
    _print(args, metrics, f"test top-1 {metrics['top1']:.2f}%  top-5 {metrics['top5']:.2f}%")


def cmd_export(args: argparse.Namespace) -> None:
    from hwnas.pipeline import export_arch

    spec, geometry = _run_inputs(args)
    if args.int8 and args.format != "onnx":
        raise ValueError("--int8 quantizes the ONNX export: use --format onnx")
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    report = export_arch(spec, geometry, checkpoint, Path(args.out), args.format, fold_bn=not args.no_fold_bn)
    text = (f"wrote {report.path} ({report.format}, {report.folded_bn} BatchNorms folded), max |diff| vs PyTorch "
            f"{report.max_abs_diff:.2e}; arch {report.arch_path}, weights {report.weights_path}")
    data = dict(report.__dict__)
    if args.int8:
        from hwnas.pipeline import export_int8

        q = export_int8(spec, geometry, checkpoint, Path(report.path), calib_images=args.calib_images,
                        rounds=args.rounds, data_dir=args.data_dir)
        data["int8"] = q
        top1 = (f"; test top-1 fp32 {q['fp32_top1']:.2f}% int8 {q['int8_top1']:.2f}%"
                if q["int8_top1"] is not None else "")
        text += (f"\nwrote {q['int8']}: {q['int8_ms']:.3f} ms vs fp32 {q['fp32_ms']:.3f} ms "
                 f"({q['speedup']:.2f}x, batch 1, {q['threads']} thread){top1}")
    _print(args, data, text)


# -------------------------------------------------------------------------------------------------------- space
def _space(args: argparse.Namespace):
    from hwnas.space import get_space

    return get_space(args.space, input_size=args.input_size, in_channels=args.in_channels,
                     num_classes=args.num_classes, width_mult=args.width_mult)


def cmd_space_list(args: argparse.Namespace) -> None:
    from hwnas.space import get_space, space_names

    rows = [{"name": n, "description": get_space(n).description} for n in space_names()]
    _print(args, rows, "\n".join(f"{r['name']:10s} {r['description']}" for r in rows)
           + "\n(or a YAML space file, e.g. configs/spaces/example.yaml)")


def _dim_text(values: Any) -> str:
    if isinstance(values, dict):
        return f"{values['min']}..{values['max']} ({values['count']} values)"
    return " ".join(str(v) for v in values)


def cmd_space_show(args: argparse.Namespace) -> None:
    d = _space(args).describe()
    text = (f"{d['name']}: {d['description']}\n"
            f"  geometry: {d['input_size']}px, {d['in_channels']} input channels, {d['num_classes']} classes, "
            f"width x{d['width_mult']:g}\n  size: {d['size']:.3g} choices, {d['layers']} searchable layers\n"
            + "\n".join(f"  {dim['label']:14s} {_dim_text(dim['values'])}" for dim in d["dims"]))
    _print(args, d, text)


def cmd_space_sample(args: argparse.Namespace) -> None:
    import random

    from hwnas.arch import encode

    space = _space(args)
    choice = space.sample(random.Random(args.seed))
    arch = encode(space.to_spec(choice))
    _print(args, {"space": space.name, "seed": args.seed, "input_size": args.input_size, "arch": arch,
                  "choice": choice}, arch)


# --------------------------------------------------------------------------------------------------------- data
def cmd_data_where(args: argparse.Namespace) -> None:
    from hwnas.data import find_fashion_mnist
    from hwnas.data.cifar import SPECS, find_cifar

    if args.name == "fashion-mnist":
        print(find_fashion_mnist(args.data_dir)[0].parent)
    elif args.name in SPECS:
        print(find_cifar(SPECS[args.name], args.data_dir))
    else:
        raise ValueError(f"unknown dataset {args.name!r}; valid: fashion-mnist, {', '.join(SPECS)}")


def cmd_data_fetch(args: argparse.Namespace) -> None:
    from hwnas.data import load_dataset

    info = load_dataset(args.name, data_dir=args.data_dir, download=True)
    print(f"{args.name}: {len(info)} training images, {info.num_classes} classes")


# ------------------------------------------------------------------------------------------------------- parser
def _geometry_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-size", type=int, help="input resolution (default: the network's own, else 224)")
    p.add_argument("--in-channels", type=int, default=3, help="input channels (default 3)")
    p.add_argument("--num-classes", type=int, default=1000, help="classifier width (default 1000)")


def _space_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", help="fbnet | hardcore | tfnas | spos, or a YAML space file")
    p.add_argument("--input-size", type=_positive_int, default=224,
                   help="input resolution; below 64 px the space uses its small-input strides (default 224)")
    p.add_argument("--in-channels", type=_positive_int, default=3, help="input channels (default 3)")
    p.add_argument("--num-classes", type=_positive_int, default=1000, help="classifier width (default 1000)")
    p.add_argument("--width-mult", type=float, default=1.0, help="channel width multiplier (default 1.0)")
    p.add_argument("--json", action="store_true")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwnas", description="Hardware-aware neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    zoo = sub.add_parser("zoo", help="reference architectures").add_subparsers(dest="zoo_cmd", required=True)
    p = zoo.add_parser("list", help="list the reference networks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_zoo_list)
    p = zoo.add_parser("show", help="arch text, params and MACs of one network vs its published figures")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_zoo_show)

    space = sub.add_parser("space", help="search spaces").add_subparsers(dest="space_cmd", required=True)
    p = space.add_parser("list", help="the built-in search spaces")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_space_list)
    p = space.add_parser("show", help="size, searchable layers and every dimension of a space")
    _space_args(p)
    p.set_defaults(func=cmd_space_show)
    p = space.add_parser("sample", help="a random architecture of a space, as one-line arch text")
    _space_args(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same network)")
    p.set_defaults(func=cmd_space_sample)

    p = sub.add_parser("profile", help="params, MACs, memory and MicroNet score; per layer with --per-layer")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--per-layer", action="store_true", help="each layer's costs and share (op-to-op profile)")
    p.add_argument("--lut", help="latency table: predicted ms per layer (its geometry must match)")
    p.add_argument("--measure", action="store_true",
                   help="time every layer alone and the whole network (the table's backend and settings, else "
                        "ONNX Runtime, 1 thread, batch 1)")
    p.add_argument("--rounds", type=_positive_int, help="timed rounds for --measure")
    p.add_argument("--micronet-track", choices=("imagenet", "cifar100", "spos"), default="imagenet",
                   help="MicroNet score reference: MobileNetV2-1.4 (imagenet), WRN-28-10 (cifar100), SPOS OneShot")
    p.add_argument("--bits", type=int, default=32, help="bit width of weights and math for the MicroNet score")
    _geometry_flags(p)
    p.add_argument("--adapt", action="store_true",
                   help="apply the small-input transform first, as `hwnas train` does on small images")
    _final_map_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("train", help="train an architecture from scratch")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist | cifar10 | cifar100 | imagefolder:PATH")
    p.add_argument("--epochs", type=_positive_int, default=3)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, help="peak learning rate (default: 0.1 x batch/256 for SGD, 2e-3 for AdamW)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--ema-decay", type=float, help="keep an EMA of the weights with this decay (e.g. 0.999)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="training data held out for validation")
    p.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (CUDA only; ignored with a note on CPU)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format (CUDA only)")
    p.add_argument("--no-augment", action="store_true",
                   help="train without the dataset's default random crop + flip (short schedules fit faster)")
    p.add_argument("--limit", type=_positive_int, help="use only N images per split (quick runs)")
    p.add_argument("--out", default="runs/train", help="run directory (checkpoints, metrics, arch.json)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-adapt", action="store_true", help="keep ImageNet strides on small inputs")
    _final_map_flag(p)
    _common_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="test accuracy of a trained network")
    p.add_argument("arch", nargs="?", help="ARCH (optional when the checkpoint sits in its run directory)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", help="dataset, when ARCH is given explicitly")
    p.add_argument("--limit", type=_positive_int)
    p.add_argument("--no-adapt", action="store_true")
    _geometry_flags(p)
    _common_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", help="export to ONNX or TorchScript and check it against PyTorch")
    p.add_argument("arch", nargs="?", help="ARCH (optional when the checkpoint sits in its run directory)")
    p.add_argument("--checkpoint", help="trained weights (omit to export a freshly initialised network)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument("--no-fold-bn", action="store_true", help="keep BatchNorm as its own op in the exported graph")
    p.add_argument("--out", required=True, help="output file, e.g. model.onnx")
    p.add_argument("--no-adapt", action="store_true")
    p.add_argument("--int8", action="store_true",
                   help="also write OUT.int8.onnx (static int8, ONNX Runtime), with fp32 vs int8 latency and top-1")
    p.add_argument("--calib-images", type=_positive_int, default=300, help="training images for int8 calibration")
    p.add_argument("--dataset", help="dataset for int8 calibration/evaluation (default: the run directory's)")
    p.add_argument("--data-dir")
    p.add_argument("--rounds", type=_positive_int, default=50, help="timed rounds for the fp32/int8 comparison")
    _geometry_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    data = sub.add_parser("data", help="find or fetch datasets").add_subparsers(dest="data_cmd", required=True)
    p = data.add_parser("where", help="print where a dataset was found")
    p.add_argument("name")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_where)
    p = data.add_parser("fetch", help="find a dataset, downloading it (with checksums) if needed")
    p.add_argument("name")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_fetch)

    from hwnas.cli_cost import add_commands  # lut build, latency: kept in their own module
    from hwnas.cli_run import add_commands as add_run
    from hwnas.cli_search import add_commands as add_search

    add_commands(sub)
    add_search(sub)
    add_run(sub)
    return parser


def _final_map_flag(p: argparse.ArgumentParser) -> None:
    from hwnas.arch.transform import MIN_FINAL_MAP

    p.add_argument("--min-final-map", type=_positive_int, default=MIN_FINAL_MAP, metavar="N",
                   help=f"small-input transform: drop downsamplings until the last feature map is >= N px a side "
                        f"(default {MIN_FINAL_MAP}; 4 is the CIFAR-style total stride 8 on 28-32 px, ~3x the MACs)")


def _common_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where the dataset lives (else $HWNAS_DATA, system dirs, the cache)")
    p.add_argument("--download", action="store_true", help="download the dataset if it is not found")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


DISTRIBUTED_COMMANDS = ("train", "search")


def _join_torchrun(args: argparse.Namespace) -> None:
    """Under torchrun: join the process group, put each rank on its device, resume after a restart."""
    from hwnas import distributed

    if not distributed.launched_by_torchrun():
        return
    if args.command not in DISTRIBUTED_COMMANDS:
        raise ValueError(f"`hwnas {args.command}` does not run under torchrun; the data-parallel commands are "
                         + ", ".join(f"`hwnas {c}`" for c in DISTRIBUTED_COMMANDS))
    world = distributed.init_from_env(args.device)
    args.device = distributed.device_for(args.device)
    if distributed.restarted() and not args.resume:
        args.resume = True  # torchrun --max-restarts started us again: continue from the last checkpoint
        if world.is_main:
            print(f"hwnas: restarted by torchrun: resuming from the last checkpoint in {args.out}", file=sys.stderr)
    if not world.is_main:
        args.quiet = True


def main(argv: list[str] | None = None) -> int:
    """Run one command; under torchrun, leave the process group on every way out, exceptions included."""
    from hwnas import distributed

    completed = False
    try:
        code = _main(argv)
        completed = code == 0
        return code
    except BaseException as e:
        if distributed.current().active:
            _drop_locals(e)
        raise
    finally:
        # Every rank that completed waits for the others before leaving; a rank that failed leaves at once, as
        # its peers may never reach that barrier. A no-op for one process.
        distributed.shutdown(wait_for_peers=completed)


def _drop_locals(e: BaseException) -> None:
    """Clear the local variables of the frames ``e`` unwound (the traceback still prints file and line).

    They hold the models, and a DistributedDataParallel wrapper holds the process group: kept alive by the
    escaping exception, the group would be destroyed only while the interpreter finalises, when its backend
    threads can no longer take the GIL and the process aborts on top of the error it reports.
    """
    import traceback

    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:  # chained exceptions keep frames of their own
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _join_torchrun(args)
        args.func(args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as e:
        print(f"hwnas: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # DownloadError and other I/O failures: worth a retry, not a usage mistake
        print(f"hwnas: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as e:
        from hwnas.train import NonFiniteLossError

        if not isinstance(e, NonFiniteLossError):
            raise  # a bug: keep the traceback
        print(f"hwnas: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("hwnas: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
