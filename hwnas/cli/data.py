"""``hwnas data where | fetch``: find datasets, or download them with checksums."""

from __future__ import annotations

import argparse


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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``data where`` and ``data fetch`` to the ``hwnas`` parser."""
    data = sub.add_parser("data", help="find or fetch datasets").add_subparsers(dest="data_cmd", required=True)
    p = data.add_parser("where", help="print where a dataset was found")
    p.add_argument("name")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_where)
    p = data.add_parser("fetch", help="find a dataset, downloading it (with checksums) if needed")
    p.add_argument("name")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_fetch)
