"""``hwnas train | eval | export``: train an architecture, test it, export it (ONNX/TorchScript, optionally int8).

Thin layer over :mod:`hwnas.workflows`; a checkpoint inside a training run directory brings its own spec and
geometry (``run.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hwnas.cli.common import common_flags, final_map_flag, geometry_flags, positive_int, print_result


def cmd_train(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.workflows.train import train_arch

    ref = load_arch(args.arch)
    extra = {k: v for k, v in (("weight_decay", args.weight_decay), ("label_smoothing", args.label_smoothing),
                               ("warmup_epochs", args.warmup_epochs), ("ema_decay", args.ema_decay))
             if v is not None}
    if args.amp:
        extra.update(amp=True, amp_dtype=args.amp)
    if args.channels_last is not None:  # else TrainConfig's default: on where it is faster (hwnas.train.layout)
        extra["channels_last"] = args.channels_last
    metrics = train_arch(ref.spec, args.dataset, Path(args.out), epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, optimizer=args.optimizer, seed=args.seed, device=args.device,
                         data_dir=args.data_dir, download=args.download, limit=args.limit,
                         val_fraction=args.val_fraction, resume=args.resume, adapt=not args.no_adapt,
                         min_final_map=args.min_final_map,
                         progress=not args.quiet, augment=not args.no_augment, **extra)
    print_result(args, metrics, f"test top-1 {metrics['top1']:.2f}%  top-5 {metrics['top5']:.2f}%  "
                                f"({metrics['epochs']} epochs, {metrics['wall_time_s']:.0f} s) -> {args.out}")


def _run_inputs(args: argparse.Namespace):
    """Spec and geometry for eval/export: from a run directory, or from ARCH plus explicit geometry flags."""
    from hwnas.archref import load_arch
    from hwnas.workflows.run_dir import RunGeometry, adapt_spec, read_run

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
    from hwnas.workflows.evaluate import evaluate_arch

    spec, geometry = _run_inputs(args)
    metrics = evaluate_arch(spec, geometry, Path(args.checkpoint), data_dir=args.data_dir, device=args.device,
                            limit=args.limit)
    print_result(args, metrics, f"test top-1 {metrics['top1']:.2f}%  top-5 {metrics['top5']:.2f}%")


def cmd_export(args: argparse.Namespace) -> None:
    from hwnas.workflows.export import export_arch

    spec, geometry = _run_inputs(args)
    if args.int8 and args.format != "onnx":
        raise ValueError("--int8 quantizes the ONNX export: use --format onnx")
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    report = export_arch(spec, geometry, checkpoint, Path(args.out), args.format, fold_bn=not args.no_fold_bn)
    text = (f"wrote {report.path} ({report.format}, {report.folded_bn} BatchNorms folded), max |diff| vs PyTorch "
            f"{report.max_abs_diff:.2e}; arch {report.arch_path}, weights {report.weights_path}")
    data = dict(report.__dict__)
    if args.int8:
        from hwnas.workflows.quantize import export_int8

        q = export_int8(spec, geometry, checkpoint, Path(report.path), calib_images=args.calib_images,
                        rounds=args.rounds, data_dir=args.data_dir)
        data["int8"] = q
        top1 = (f"; test top-1 fp32 {q['fp32_top1']:.2f}% int8 {q['int8_top1']:.2f}%"
                if q["int8_top1"] is not None else "")
        text += (f"\nwrote {q['int8']}: {q['int8_ms']:.3f} ms vs fp32 {q['fp32_ms']:.3f} ms "
                 f"({q['speedup']:.2f}x, batch 1, {q['threads']} thread){top1}")
    print_result(args, data, text)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an architecture from scratch")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist | cifar10 | cifar100 | imagefolder:PATH")
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=float, help="peak learning rate (default: 0.1 x batch/256 for SGD, 2e-3 for AdamW)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--ema-decay", type=float, help="keep an EMA of the weights with this decay (e.g. 0.999)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="training data held out for validation")
    p.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (CUDA only; ignored with a note on CPU)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format for weights and batches (default: on the CPU, where training steps ran "
                        "1.6-2.7x faster; off on CUDA, not measured there); --no-channels-last keeps NCHW")
    p.add_argument("--no-augment", action="store_true",
                   help="train without the dataset's default random crop + flip (short schedules fit faster)")
    p.add_argument("--limit", type=positive_int, help="use only N images per split (quick runs)")
    p.add_argument("--out", default="runs/train", help="run directory (checkpoints, metrics, arch.json)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-adapt", action="store_true", help="keep ImageNet strides on small inputs")
    final_map_flag(p)
    common_flags(p)
    p.set_defaults(func=cmd_train)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="test accuracy of a trained network")
    p.add_argument("arch", nargs="?", help="ARCH (optional when the checkpoint sits in its run directory)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", help="dataset, when ARCH is given explicitly")
    p.add_argument("--limit", type=positive_int)
    p.add_argument("--no-adapt", action="store_true")
    geometry_flags(p)
    common_flags(p)
    p.set_defaults(func=cmd_eval)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export to ONNX or TorchScript and check it against PyTorch")
    p.add_argument("arch", nargs="?", help="ARCH (optional when the checkpoint sits in its run directory)")
    p.add_argument("--checkpoint", help="trained weights (omit to export a freshly initialised network)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument("--no-fold-bn", action="store_true", help="keep BatchNorm as its own op in the exported graph")
    p.add_argument("--out", required=True, help="output file, e.g. model.onnx")
    p.add_argument("--no-adapt", action="store_true")
    p.add_argument("--int8", action="store_true",
                   help="also write OUT.int8.onnx (static int8, ONNX Runtime), with fp32 vs int8 latency and top-1")
    p.add_argument("--calib-images", type=positive_int, default=300, help="training images for int8 calibration")
    p.add_argument("--dataset", help="dataset for int8 calibration/evaluation (default: the run directory's)")
    p.add_argument("--data-dir")
    p.add_argument("--rounds", type=positive_int, default=50, help="timed rounds for the fp32/int8 comparison")
    geometry_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``eval`` and ``export`` to the ``hwnas`` parser."""
    _add_train(sub)
    _add_eval(sub)
    _add_export(sub)
