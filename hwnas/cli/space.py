"""``hwnas space list | show | sample``: the search spaces of :mod:`hwnas.space`."""

from __future__ import annotations

import argparse
from typing import Any

from hwnas.cli.common import positive_float, positive_int, print_result


def _space(args: argparse.Namespace):
    from hwnas.space import get_space

    return get_space(args.space, input_size=args.input_size, in_channels=args.in_channels,
                     num_classes=args.num_classes, width_mult=args.width_mult)


def cmd_space_list(args: argparse.Namespace) -> None:
    from hwnas.space import get_space, space_names

    rows = [{"name": n, "description": get_space(n).description} for n in space_names()]
    print_result(args, rows, "\n".join(f"{r['name']:10s} {r['description']}" for r in rows)
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
    print_result(args, d, text)


def cmd_space_sample(args: argparse.Namespace) -> None:
    import random

    from hwnas.arch import encode

    space = _space(args)
    choice = space.sample(random.Random(args.seed))
    arch = encode(space.to_spec(choice))
    print_result(args, {"space": space.name, "seed": args.seed, "input_size": args.input_size, "arch": arch,
                        "choice": choice}, arch)


def _space_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", help="fbnet | hardcore | tfnas | spos, or a YAML space file")
    p.add_argument("--input-size", type=positive_int, default=224,
                   help="input resolution; below 64 px the space uses its small-input strides (default 224)")
    p.add_argument("--in-channels", type=positive_int, default=3, help="input channels (default 3)")
    p.add_argument("--num-classes", type=positive_int, default=1000, help="classifier width (default 1000)")
    p.add_argument("--width-mult", type=positive_float, default=1.0, help="channel width multiplier (default 1.0)")
    p.add_argument("--json", action="store_true")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``space list``, ``space show`` and ``space sample`` to the ``hwnas`` parser."""
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
