"""``search(...)``: one call from a dataset, a space, a latency table and budgets to ``result.json``.

It builds the space at the dataset's geometry, loads and checks the latency table, turns the budgets into hard
constraints and checks at once that the space can meet them (naming the smallest achievable value if not),
splits the data 80/20, then runs the method. Method settings are dataclasses with commented defaults
(:class:`~hwnas.search.methods.fbnet.FBNetConfig`, ...; each method's ``config_class``); ``overrides`` sets any
field by dotted name (``{"epochs": 3, "evolution.generations": 5}``), as ``hwnas search --set KEY=VALUE`` does.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hwnas import distributed
from hwnas.search.budgets import Budgets, check_feasible, make_budgets
from hwnas.search.context import SearchContext, search_loaders
from hwnas.search.parts.engine import resumed_metrics_lines
from hwnas.search.parts.oneshot import SUPERNET_INFO
from hwnas.search.registry import get_method, method_names
from hwnas.search.result import SearchResult, write_result

log = logging.getLogger(__name__)


def method_config(method: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The config dataclass of ``method`` with ``overrides`` applied (:meth:`SearchMethod.config`)."""
    return get_method(method).config(overrides)


def load_table(lut: str | Path | None, space: Any) -> Any:
    if lut is None:
        return None
    from hwnas.cost.latency.table import LatencyTable

    table = LatencyTable.load(Path(lut))
    g = space.geometry
    try:
        table.check_space(space)
    except ValueError as e:
        raise ValueError(f"{e}. For this search: `hwnas lut build --space {space.name} --input-size {g.input_size} "
                         f"--in-channels {g.in_channels} --num-classes {g.num_classes} --width-mult "
                         f"{g.width_mult:g} --out FILE`") from None
    return table


def _supernet_settings(directory: Path) -> dict[str, Any]:
    import json

    path = Path(directory) / SUPERNET_INFO
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --from-supernet takes the --out of a finished spos, random or "
                                "hardcore search")
    return json.loads(path.read_text())


def search(method: str, space: str, dataset: str = "fashion-mnist", *, out: str | Path, lut: str | Path | None = None,
           budgets: Budgets | None = None, overrides: Mapping[str, Any] | None = None, batch_size: int = 128,
           width_mult: float = 1.0, seed: int = 0, device: str = "cpu", data_dir: str | None = None,
           download: bool = False, limit: int | None = None, resume: bool = False, progress: bool = True,
           from_supernet: str | Path | None = None, tensorboard: bool = True,
           channels_last: bool | None = None) -> SearchResult:
    """Run one search and write ``out/result.json``; returns the result. ``channels_last`` sets the memory format
    of the supernet and its batches (None: channels_last where it is faster, :mod:`hwnas.train.layout`)."""
    from hwnas.space import get_space
    from hwnas.train import MetricsLogger

    budgets = budgets or Budgets()
    the_method = get_method(method)
    cfg = the_method.config(overrides)
    if from_supernet is not None:
        if not the_method.reuses_supernet:
            reusing = [m for m in method_names() if get_method(m).reuses_supernet]
            raise ValueError(f"--from-supernet works for {', '.join(reusing)}; {method} trains its "
                             "architecture together with its weights")
        trained = _supernet_settings(Path(from_supernet))
    loaders = search_loaders(dataset, batch_size, seed, device, data_dir=data_dir, download=download, limit=limit,
                             progress=progress)
    info = loaders.info
    the_space = get_space(space, info.input_size, info.in_channels, info.num_classes, width_mult)
    if from_supernet is not None:
        _check_same_space(Path(from_supernet), trained, the_space)
    table = load_table(lut, the_space)
    hard = make_budgets(budgets, the_space, table)
    # Before any training: an impossible budget fails in seconds, judged on the widths the method can reach
    # (a memory budget only narrower widths meet would otherwise fail fbnet/hardcore after the supernet trained).
    check_feasible(the_space, hard, largest_widths=not the_method.searches_widths)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from hwnas.fileio import remove_stale_temp_files

    remove_stale_temp_files(out)  # what a writer killed between its write and its rename left behind
    keep = resumed_metrics_lines(out) if resume else 0
    with MetricsLogger(out, tensorboard=tensorboard, keep_lines=keep) as logger:
        ctx = SearchContext(the_space, loaders, hard, table, out, torch.device(device), seed, progress, resume,
                            logger, budgets=budgets, config=cfg, from_supernet=_path(from_supernet),
                            world=distributed.current(), channels_last=channels_last)
        # Weight init (and dropout) draw from torch's global RNG: seed a fork of it, so that a search is
        # repeatable from its seed (and resumable) and the caller's RNG stream is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            result = the_method.run(ctx)
    if not isinstance(result, SearchResult):
        raise TypeError(f"method {method!r} returned {type(result).__name__}, not a SearchResult (build_result)")
    result.dataset, result.limit, result.batch_size = dataset, limit, batch_size
    write_result(out, result)
    return result


def _check_same_space(directory: Path, trained: Mapping[str, Any], space: Any) -> None:
    from hwnas.cost.lut_keys import space_digest

    g = space.geometry
    here = {"space": space.name, "input_size": g.input_size, "in_channels": g.in_channels,
            "num_classes": g.num_classes, "width_mult": g.width_mult, "space_digest": space_digest(space)}
    for key, value in here.items():
        if trained.get(key) != value:
            raise ValueError(f"{directory} holds a supernet with {key}={trained.get(key)!r}, but this search has "
                             f"{key}={value!r}: search with the space, width and dataset it was trained on")


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
