"""The training recipes of ``search_quality.py`` and the check that a cheap one ranks networks like the long one.

docs/DESIGN.md: short recipes mis-rank networks (2 epochs favour shallow, wide networks that lose after 50), so a
search's verdict is taken with at least 10 epochs on the full training split with the augmentation of the final
training, **or** a cheaper recipe shown to rank like it: Kendall tau >= 0.8 between the two recipes' test top-1
over at least 12 networks of the space (issue 19, item 4). This module holds:

* the recipes (``RECIPES``; ``QUICK_RECIPES`` for the smoke run): ``long`` (10 epochs, full split: 54,000
  training images after the held-out tenth, augmentation on) and the cheap candidates ``e3`` (3 epochs, full
  split), ``e5`` (5 epochs, full split) and ``e5_24k`` (5 epochs on a seeded 24,000-image subset); all ``hwnas.workflows.train.train_arch`` at
  batch 128, SGD with Nesterov momentum, lr 0.05 (0.1 x 128 / 256), cosine, label smoothing 0.1, random-crop
  and flip augmentation, one tenth of the training images held out (``val_top1``, what the finalist stage
  scores), test top-1 on the whole test split;
* :func:`train_cached`, every training of the benchmark (recipe phase, finalist rounds, final trainings): one
  JSON per (recipe, network, seed) in ``OUT/trainings/RECIPE/DIGEST_sSEED.json``, written atomically when it
  finishes; the training itself resumes from its last checkpoint (``resume=True``) when a run was killed; while
  it runs, ``DIGEST_sSEED.lock`` names the process, so that queues started side by side
  (``search_quality.py train``) share the work instead of training one network twice;
* :func:`recipe_networks`: the 12 networks of the check, 4 per benchmark budget, each moved to 96 % of its budget
  on the table's prediction (:func:`hwnas.search.filling.move_to`): the space's member closest to MobileNetV2
  (its depth scaled, :func:`hwnas.search.finalists.reference_member`), a deep-and-thin one (every layer, the
  lightest op, layers dropped only when it must shrink), a shallow-and-wide one (the heaviest op in as few layers
  as the budget allows) and a uniform draw (its ops kept, its depth scaled);
* :func:`agreement`, :func:`shown_to_rank` and :func:`recipe_report`: Kendall tau (tau-b) and Spearman rho
  (``scipy.stats``) between the long recipe and each cheap one, and which cheap one (if any) ranks like it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

DATASET = "fashion-mnist"
SIZE, CHANNELS, CLASSES = 28, 1, 10
LONG = "long"
TAU_MIN = 0.8  # the bar: a cheap recipe whose tau with the long one reaches it may stand in for it
MIN_NETWORKS = 12  # ... measured on at least this many networks
RECIPE_SEED = 0  # the recipe check trains every network once, with this seed
KINDS = ("reference", "deep_thin", "shallow_wide", "uniform")
AIM = 0.96  # where a recipe network sits in its budget (hwnas.search.filling.AIM)

COMMON = {"batch_size": 128, "val_fraction": 0.1, "augment": True}  # every recipe, finalist rounds included
RECIPES: dict[str, dict[str, Any]] = {
    LONG: {"epochs": 10, "limit": None},  # 540k images: ~18 min of one core at ~500 images/s
    "e3": {"epochs": 3, "limit": None},  # 162k images: ~5.4 min
    "e5_24k": {"epochs": 5, "limit": 24000},  # 108k images: ~3.6 min
    # Added when e3 fell to tau 0.71 on 8 networks, ranking deep-and-thin networks low: half the long recipe's
    # epochs on the same images, the next cheaper candidate (270k images).
    "e5": {"epochs": 5, "limit": None},
}
QUICK_RECIPES: dict[str, dict[str, Any]] = {
    LONG: {"epochs": 2, "limit": 600}, "e1": {"epochs": 1, "limit": 600}, "e1_300": {"epochs": 1, "limit": 300}}


# ------------------------------------------------------------------------------------------------ files
def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text()) if Path(path).is_file() else None


def write_json(path: Path, data: Any) -> None:
    from hwnas.fileio import write_json_atomic

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def check_settings(out: Path, settings: Mapping[str, Any]) -> None:
    """The run's frozen settings in ``OUT/settings.json``: a cache made with others is an error, not a mix."""
    path = out / "settings.json"
    saved, now = read_json(path), json.loads(json.dumps(dict(settings)))
    if saved is None:
        write_json(path, now)
    elif saved != now:
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        raise SystemExit(f"{out} holds a run with other settings ({', '.join(diff)}); use another --out")


def digest(arch: str) -> str:
    """A short name for a network's files (its canonical text's sha256, as ``arch_digest``)."""
    return hashlib.sha256(arch.encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------------------------ training
def full_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    return {**COMMON, **recipe}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


@contextmanager
def claimed(lock: Path) -> Iterator[bool]:
    """Whether this process holds ``lock`` (created with O_EXCL, holding its pid) for the block; a lock left by a
    process that is gone (a killed queue) is taken over. Removed when the block ends."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text() or "0")
            except (FileNotFoundError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and process_alive(pid):
                yield False
                return
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        try:
            yield True
        finally:
            lock.unlink(missing_ok=True)
        return
    yield False  # another process took the stale lock first


def train_cached(out: Path, arch: str, seed: int, name: str, recipe: Mapping[str, Any],
                 announce: Callable[[str], None] = print, share: bool = False) -> dict[str, Any] | None:
    """One training of ``arch`` (a canonical arch text) with ``recipe`` and ``seed``, cached (module docstring):
    ``{arch, seed, recipe_name, recipe, test_top1, val_top1, steps, images_per_s, wall_s, cpu_s}``. With
    ``share``, a training another live process is running is left to it (None)."""
    recipe = full_recipe(recipe)
    path = out / "trainings" / name / f"{digest(arch)}_s{seed}.json"
    done = read_json(path)
    if done is not None:
        if done["recipe"] != json.loads(json.dumps(recipe)):
            raise SystemExit(f"{path} was trained with recipe {done['recipe']}, not {recipe}: use another --out")
        return done
    with claimed(path.with_suffix(".lock")) as mine:
        if not mine:
            if share:
                announce(f"[train {name} {digest(arch)} seed {seed}: another process is training it]")
                return None
            raise SystemExit(f"{path.with_suffix('.lock')}: another process is training this network")
        done = read_json(path)  # finished while this process waited for the lock
        if done is not None:
            return done
        return _train(path, arch, seed, name, recipe, announce)


def _train(path: Path, arch: str, seed: int, name: str, recipe: Mapping[str, Any],
           announce: Callable[[str], None]) -> dict[str, Any]:
    from hwnas.arch import decode
    from hwnas.workflows.train import train_arch

    wall, cpu = time.perf_counter(), time.process_time()
    metrics = train_arch(decode(arch), DATASET, path.with_suffix(""), seed=seed, **recipe, adapt=False,
                         progress=False, tensorboard=False, resume=True)
    row = {"arch": arch, "seed": seed, "recipe_name": name, "recipe": recipe, "test_top1": float(metrics["top1"]),
           "val_top1": float(metrics["val_top1"]), "steps": metrics["steps"],
           "images_per_s": metrics.get("images_per_s"), "wall_s": time.perf_counter() - wall,
           "cpu_s": time.process_time() - cpu}
    write_json(path, row)
    announce(f"[train {name} {digest(arch)} seed {seed}: test top-1 {row['test_top1']:.2f} %, val "
             f"{row['val_top1']:.2f} %, {row['wall_s']:.0f} s]")
    return row


def cached_training(out: Path, arch: str, seed: int, name: str) -> dict[str, Any] | None:
    return read_json(out / "trainings" / name / f"{digest(arch)}_s{seed}.json")


def spent(out: Path) -> dict[str, dict[str, float]]:
    """Per recipe name: the finished trainings and their CPU and wall-clock seconds (what the run cost)."""
    totals: dict[str, dict[str, float]] = {}
    for path in sorted((out / "trainings").glob("*/*.json")):
        row = read_json(path)
        t = totals.setdefault(row["recipe_name"], {"trainings": 0, "cpu_s": 0.0, "wall_s": 0.0})
        t["trainings"] += 1
        t["cpu_s"] += row["cpu_s"]
        t["wall_s"] += row["wall_s"]
    return totals


# ------------------------------------------------------------------------------------------------ networks
def op_extremes(space: Any, predict: Callable[[Mapping[str, Any]], float]) -> tuple[dict, dict]:
    """Per searchable layer, its lightest and its heaviest op other than skip, by the table's prediction."""
    from hwnas.space.labels import is_width_label

    base, thin, wide = space.lightest(), {}, {}
    for dim in space.dims():
        ops = [v for v in dim.values if v != "skip"]
        if is_width_label(dim.label) or not ops:
            continue
        cost = {v: predict({**base, dim.label: v}) for v in ops}
        thin[dim.label], wide[dim.label] = min(ops, key=cost.get), max(ops, key=cost.get)
    return thin, wide


def kind_starts(space: Any, predict: Callable[[Mapping[str, Any]], float],
                rng: random.Random) -> dict[str, tuple[dict, dict]]:
    """Per kind of recipe network: the member it starts from and the preference that moves it to a budget."""
    from hwnas import zoo
    from hwnas.search.finalists import reference_member, reference_scores

    thin, wide = op_extremes(space, predict)
    member = reference_member(space, zoo.get("mobilenetv2_100").spec)
    uniform = space.sample(rng)
    deep = {**space.lightest(), **thin}
    deep_scores = {k: {v: 0.0 if v == thin[k] else -4.0 if v == "skip" else -1.0 for v in d.values}
                   for k, d in ((d.label, d) for d in space.dims()) if k in thin}
    wide_scores = {k: {v: 0.0 if v in ("skip", wide[k]) else -1.0 for v in d.values}
                   for k, d in ((d.label, d) for d in space.dims()) if k in wide}
    return {"reference": (member, reference_scores(space, member)), "deep_thin": (deep, deep_scores),
            "shallow_wide": (space.lightest(), wide_scores), "uniform": (uniform, reference_scores(space, uniform))}


def recipe_networks(space: Any, predict: Callable[[Mapping[str, Any]], float], budgets_ms: Sequence[float],
                    seed: int = 0) -> list[dict[str, Any]]:
    """The networks of the recipe check: each kind (:data:`KINDS`) moved to ``AIM`` x each budget."""
    from hwnas.arch import encode
    from hwnas.cost.counting import count_macs, count_params
    from hwnas.search.filling import move_to

    rng, nets, seen = random.Random(seed), [], set()
    for level, budget in enumerate(budgets_ms):
        for kind, (start, scores) in kind_starts(space, predict, rng).items():
            choice = move_to(space, start, predict, AIM * budget, scores)
            spec = space.to_spec(choice)
            arch = encode(spec)
            if arch in seen:
                continue
            seen.add(arch)
            nets.append({"id": f"{kind}_b{level}", "kind": kind, "level": level, "budget_ms": budget,
                         "choice": choice, "arch": arch, "predicted_ms": predict(choice),
                         "layers": sum(v != "skip" for v in choice.values()),
                         "macs": count_macs(spec, SIZE, CLASSES, CHANNELS),
                         "params": count_params(spec, CLASSES, CHANNELS)})
    return nets


# ------------------------------------------------------------------------------------------------ agreement
def agreement(long: Mapping[str, float], cheap: Mapping[str, float]) -> dict[str, float]:
    """Kendall tau (tau-b) and Spearman rho of ``cheap``'s top-1 against ``long``'s, over the networks (keys)
    both have; ``nan`` below 3 networks."""
    from scipy import stats

    ids = sorted(set(long) & set(cheap))
    if len(ids) < 3:
        return {"tau": float("nan"), "rho": float("nan"), "n": len(ids)}
    a, b = [long[i] for i in ids], [cheap[i] for i in ids]
    return {"tau": float(stats.kendalltau(a, b).statistic), "rho": float(stats.spearmanr(a, b).statistic),
            "n": len(ids)}


def shown_to_rank(stats: Mapping[str, float], min_networks: int = MIN_NETWORKS, tau_min: float = TAU_MIN) -> bool:
    """Whether a cheap recipe ranks like the long one: tau >= ``tau_min`` on >= ``min_networks`` networks."""
    return stats["n"] >= min_networks and stats["tau"] >= tau_min  # nan compares False


def recipe_results(out: Path, selection: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, dict]:
    """``{recipe: {network id: test top-1}}`` of the finished trainings of the recipe check."""
    results: dict[str, dict[str, float]] = {}
    for name in names:
        for net in selection:
            row = cached_training(out, net["arch"], RECIPE_SEED, name)
            if row is not None:
                results.setdefault(name, {})[net["id"]] = row["test_top1"]
    return results


def agreements(results: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {name: agreement(results.get(LONG, {}), res) for name, res in results.items() if name != LONG}


def final_recipe_check(out: Path, name: str, recipes: Mapping[str, Any], min_networks: int = MIN_NETWORKS) -> str:
    """``name`` if it may be the final recipe (the long one, or a cheap one the recipe check showed to rank like
    it); else ``SystemExit`` saying what is missing."""
    if name not in recipes:
        raise SystemExit(f"unknown recipe {name!r}; valid: {', '.join(recipes)}")
    if name == LONG:
        return name
    selection = read_json(out / "recipe" / "selection.json") or []
    stats = agreement(*(recipe_results(out, selection, [LONG, name]).get(n, {}) for n in (LONG, name)))
    if not shown_to_rank(stats, min_networks):
        raise SystemExit(f"recipe {name!r} is not shown to rank like {LONG!r} (tau {stats['tau']:.2f} on "
                         f"{stats['n']} networks; needs >= {TAU_MIN} on >= {min_networks}): run the recipe phase "
                         f"or keep --final-recipe {LONG}")
    return name


def recipe_report(out: Path, recipes: Mapping[str, Any], min_networks: int = MIN_NETWORKS) -> str:
    """The recipe check as markdown: every network's top-1 per recipe, then tau and rho per cheap recipe."""
    selection = read_json(out / "recipe" / "selection.json")
    if selection is None:
        return "Recipe check: not run yet (the recipe phase)."
    names = list(recipes)
    results = recipe_results(out, selection, names)
    lines = ["| network | kind | predicted ms | layers | MACs | " + " | ".join(
        f"{n} ({recipes[n]['epochs']} ep, {recipes[n]['limit'] or 'all'} img)" for n in names) + " |",
        "|---|---|--:|--:|--:|" + "--:|" * len(names)]
    for net in selection:
        cells = [f"{results[n][net['id']]:.2f}" if net["id"] in results.get(n, {}) else "-" for n in names]
        lines.append(f"| {net['id']} | {net['kind']} | {net['predicted_ms']:.3f} | {net['layers']} | "
                     f"{net['macs'] / 1e6:.2f}M | " + " | ".join(cells) + " |")
    lines.append("")
    for name, stats in agreements(results).items():
        verdict = (f"ranks like {LONG} (tau >= {TAU_MIN} on >= {min_networks} networks)"
                   if shown_to_rank(stats, min_networks) else "NOT shown to rank like it")
        lines.append(f"{name} against {LONG}: Kendall tau {stats['tau']:.2f}, Spearman rho {stats['rho']:.2f} over "
                     f"{stats['n']} networks: {verdict}")
    return "\n".join(lines)
