"""``hwnas zoo list | show``: the reference architectures of :mod:`hwnas.zoo` and their published figures."""

from __future__ import annotations

import argparse
from typing import Any

from hwnas.cli.common import print_result


def cmd_zoo_list(args: argparse.Namespace) -> None:
    from hwnas import zoo

    rows = [{"name": n, "input_size": zoo.get(n).input_size, "source": zoo.get(n).source} for n in zoo.names()]
    print_result(args, rows, "\n".join(f"{r['name']:24s} {r['input_size']:4d}px  {r['source']}" for r in rows))


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
    print_result(args, d, text)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``zoo list`` and ``zoo show`` to the ``hwnas`` parser."""
    zoo = sub.add_parser("zoo", help="reference architectures").add_subparsers(dest="zoo_cmd", required=True)
    p = zoo.add_parser("list", help="list the reference networks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_zoo_list)
    p = zoo.add_parser("show", help="arch text, params and MACs of one network vs its published figures")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_zoo_show)
