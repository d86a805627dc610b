"""Build a latency table: enumerate the ops, time them in interleaved chunks, save as it goes, resume.

What is timed (FBNet, Wu et al. 2019, Sec. 3.2: "we measure the latency of each operator ... in a lookup table"):
for a space, every distinct op it can produce (:func:`hwnas.cost.lut_keys.space_ops`: the fixed stem, prefix,
suffix and head, and every candidate of every slot at every grid width); for a list of networks, the ops of those
networks only. Ops are timed in chunks of ``chunk`` with :func:`hwnas.cost.latency.measure.time_models` (interleaved
rounds inside a chunk); after each chunk the table so far is written atomically with ``"complete": false``. A
rerun with the same settings loads it and times only the ops it lacks; different settings are an error naming
the field (``overwrite=True`` starts afresh).

With ``passes=P > 1`` the whole build runs P times, one after the other (each pass resumable in its own
``NAME.passN.json``), and every op gets the median of its P medians: a shared machine has slow spells of a few
seconds, longer than one chunk takes, which interleaving within a chunk cannot spread; across passes minutes
apart a spell hits one pass of an op, and the median of three drops it.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas import __version__
from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency.backends import DTYPE, Backend, device_info, get_backend
from hwnas.cost.latency.measure import DEFAULT_ROUNDS, DEFAULT_WARMUP, op_module, time_models
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.lut_keys import OpSpec, dedupe, families, space_digest, space_ops, spec_ops
from hwnas.space.base import SearchSpace

DEFAULT_CHUNK = 64
DEFAULT_WIDTH_GRID = 10  # SPOS has 10 channel scales: all timed; TF-NAS mids (up to 1345 values) interpolated
SETTINGS = ("space", "space_digest", "width_mult", "archs", "input_size", "in_channels", "num_classes", "backend",
            "backend_version", "backend_options", "threads", "batch_size", "dtype", "timing", "width_grid")
"""Provenance fields that must agree for a rerun to resume a partial table (plus the CPU model)."""

ChunkCallback = Callable[[int, int], None]
"""Called after each saved chunk with (ops done, ops in total)."""


@dataclass(frozen=True)
class BuildResult:
    table: LatencyTable
    ops: int  # ops in the table
    timed: int  # timed by this call
    reused: int  # taken from a partial table left by an earlier call
    seconds: float


def make_provenance(engine: Backend, *, space: SearchSpace | None, archs: Sequence[str] | None, input_size: int,
                    in_channels: int, num_classes: int, batch_size: int, warmup: int, rounds: int, number: int,
                    width_grid: int | None) -> dict[str, Any]:
    """Everything that decides what the numbers mean, and where they were measured."""
    import torch

    return {
        "space": space.name if space else None,
        "space_digest": space_digest(space) if space else None,
        "width_mult": space.geometry.width_mult if space else None,
        "archs": list(archs) if archs else None,
        "input_size": input_size, "in_channels": in_channels, "num_classes": num_classes,
        **engine.info(),
        "batch_size": batch_size, "dtype": DTYPE,
        "timing": {"warmup": warmup, "rounds": rounds, "number": number, "order": "interleaved",
                   "statistic": "median", "spread": "iqr"},
        "width_grid": width_grid if space else None,
        "device": device_info(),
        "software": {"hwnas": __version__, "torch": torch.__version__},
        "source": "measured",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def check_same_settings(old: dict[str, Any], new: dict[str, Any], path: Path) -> None:
    """A partial table may only be resumed with the settings it was started with."""
    pairs = [(f, old.get(f), new.get(f)) for f in SETTINGS]
    pairs.append(("device.cpu_model", old.get("device", {}).get("cpu_model"), new["device"]["cpu_model"]))
    for field, was, now in pairs:
        if was != now:
            raise ValueError(f"{path} was built with {field}={was!r}, not {field}={now!r}: rerun with the same "
                             "settings to resume it, or pass --overwrite (or another --out) to start a new table")


def _start(out: Path, provenance: dict[str, Any], overwrite: bool) -> LatencyTable | None:
    """The table already in ``out`` (partial or complete, with the same settings), or None to start afresh."""
    if overwrite or not out.exists():
        return None
    existing = LatencyTable.load(out)
    check_same_settings(existing.provenance, provenance, out)
    provenance["created"] = existing.provenance.get("created", provenance["created"])
    return existing


def _pass_path(out: Path, i: int) -> Path:
    return out.with_name(f"{out.stem}.pass{i}{out.suffix}")


def build_passes(ops: Sequence[OpSpec], fams: dict[str, list], provenance: dict[str, Any], out: str | Path,
                 passes: int, overwrite: bool = False, **options: Any) -> BuildResult:
    """:func:`build_table` ``passes`` times into pass files, then per op the median of the passes' medians."""
    import statistics

    out, started = Path(out), time.perf_counter()
    provenance["timing"]["passes"] = passes
    existing = _start(out, provenance, overwrite)
    if existing is not None and existing.complete:  # finished earlier, with the same settings
        return BuildResult(existing, len(existing.entries), 0, len(existing.entries), time.perf_counter() - started)
    parts = [build_table(ops, fams, provenance, _pass_path(out, i + 1), overwrite=overwrite, **options)
             for i in range(passes)]
    entries = {}
    for key in parts[0].table.entries:
        runs = [part.table.entries[key] for part in parts]
        entries[key] = {"median_ms": round(statistics.median(r["median_ms"] for r in runs), 6),
                        "iqr_ms": round(statistics.median(r["iqr_ms"] for r in runs), 6),
                        "rounds": sum(r["rounds"] for r in runs),
                        "pass_ms": [r["median_ms"] for r in runs]}  # the spread between passes, kept for review
    table = LatencyTable(provenance, entries, fams, existing.calibration if existing else None, True, out)
    table.save()
    for i in range(passes):
        _pass_path(out, i + 1).unlink(missing_ok=True)
    return BuildResult(table, len(entries), sum(p.timed for p in parts), sum(p.reused for p in parts) // passes,
                       time.perf_counter() - started)


def build_table(ops: Sequence[OpSpec], fams: dict[str, list], provenance: dict[str, Any], out: str | Path, *,
                backend: str | Backend = "onnxruntime", chunk: int = DEFAULT_CHUNK, progress: bool = True,
                on_chunk: ChunkCallback | None = None, overwrite: bool = False, passes: int = 1) -> BuildResult:
    """Time every op of ``ops`` not yet in ``out`` and write the table there (see the module docstring)."""
    from tqdm import tqdm

    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise ValueError(f"passes must be a positive integer, got {passes!r}")
    if passes > 1:
        return build_passes(ops, fams, provenance, out, passes, overwrite, backend=backend, chunk=chunk,
                            progress=progress, on_chunk=on_chunk)
    out, started = Path(out), time.perf_counter()
    engine = get_backend(backend, provenance["threads"])
    timing = provenance["timing"]
    existing = _start(out, provenance, overwrite)
    done = existing.entries if existing else {}
    calibration = existing.calibration if existing else None  # same settings: a fitted correction still holds
    keys = [op.key for op in ops]
    entries = {k: done[k] for k in keys if k in done}
    reused, todo = len(entries), [op for op in ops if op.key not in entries]

    def save(complete: bool) -> LatencyTable:
        ordered = {k: entries[k] for k in keys if k in entries}  # the enumeration order, whatever the timing order
        table = LatencyTable(provenance, ordered, fams, calibration, complete, out)
        table.save()
        return table

    with tqdm(total=len(keys), initial=reused, unit="op", desc=f"lut ({provenance['backend']})",
              disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            timings = time_models([op_module(op) for op in part], engine, engine.threads, provenance["batch_size"],
                                  timing["warmup"], timing["rounds"], number=timing["number"],
                                  input_shapes=[op.in_shape for op in part])
            for op, t in zip(part, timings):
                # 1 ns resolution: more digits would only be float noise from the subtraction in the IQR.
                entries[op.key] = {"median_ms": round(t.median_ms, 6), "iqr_ms": round(t.iqr_ms, 6),
                                   "rounds": len(t.samples_ms)}
            save(complete=len(entries) == len(keys))
            bar.update(len(part))
            if on_chunk is not None:
                on_chunk(len(entries), len(keys))
    table = save(complete=True)
    return BuildResult(table, len(keys), len(todo), reused, time.perf_counter() - started)


def _settings(backend: str | Backend, threads: int, warmup: int, rounds: int, number: int) -> Backend:
    for name, value, minimum in (("warmup", warmup, 0), ("rounds", rounds, 1), ("number", number, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return get_backend(backend, threads)


def build_space_table(space: SearchSpace, out: str | Path, backend: str | Backend = "onnxruntime", threads: int = 1,
                      batch_size: int = 1, width_grid: int | None = DEFAULT_WIDTH_GRID,
                      warmup: int = DEFAULT_WARMUP, rounds: int = DEFAULT_ROUNDS, number: int = 1,
                      **options: Any) -> BuildResult:
    """A table of every op ``space`` can produce at its geometry (``options``: see :func:`build_table`)."""
    engine = _settings(backend, threads, warmup, rounds, number)
    ops, fams = space_ops(space, width_grid)
    g = space.geometry
    prov = make_provenance(engine, space=space, archs=None, input_size=g.input_size, in_channels=g.in_channels,
                           num_classes=g.num_classes, batch_size=batch_size, warmup=warmup, rounds=rounds,
                           number=number, width_grid=width_grid)
    return build_table(ops, fams, prov, out, backend=engine, **options)


def build_arch_table(archs: Sequence[tuple[str, ArchSpec]], out: str | Path, input_size: int, in_channels: int = 3,
                     num_classes: int = 1000, backend: str | Backend = "onnxruntime", threads: int = 1,
                     batch_size: int = 1, warmup: int = DEFAULT_WARMUP, rounds: int = DEFAULT_ROUNDS,
                     number: int = 1, space: SearchSpace | None = None, **options: Any) -> BuildResult:
    """A table of just the ops of the given ``(name, spec)`` networks (``space``: recorded if given)."""
    if not archs:
        raise ValueError("give at least one network to build a table for")
    if space is not None and (input_size, in_channels, num_classes) != (
            space.geometry.input_size, space.geometry.in_channels, space.geometry.num_classes):
        raise ValueError(f"the networks are timed at {input_size} px, {in_channels} channels, {num_classes} classes "
                         f"but space {space.name!r} is at {space.geometry.input_size} px, "
                         f"{space.geometry.in_channels} channels, {space.geometry.num_classes} classes")
    engine = _settings(backend, threads, warmup, rounds, number)
    ops = [op for _, spec in archs for op in spec_ops(spec, input_size, in_channels, num_classes)]
    prov = make_provenance(engine, space=space, archs=[name for name, _ in archs], input_size=input_size,
                           in_channels=in_channels, num_classes=num_classes, batch_size=batch_size, warmup=warmup,
                           rounds=rounds, number=number, width_grid=None)
    return build_table(dedupe(ops), families(ops), prov, out, backend=engine, **options)
