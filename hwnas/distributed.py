"""Data-parallel training across the processes ``torchrun`` starts (``torch.distributed``: NCCL on GPU, gloo on CPU).

``torchrun --nproc_per_node=N -m hwnas train|search ...`` runs N copies of the command; :func:`init_from_env`
(called by the CLI) joins them into one process group. The rules every training step follows:

* **Same data, own shard.** Every rank reads the same seeded batch sources in the same order and trains on its
  slice of each *global* batch (:meth:`World.shard`): rank ``r`` of ``N`` takes rows ``[r B/N, (r+1) B/N)``.
  Randomness drawn per sample (FBNet's Gumbel masks, HardCoRe's multipath masks) is drawn for the global batch on
  every rank from the same generator, then sliced the same way. ``--batch-size`` is therefore the global batch.
* **Averaged gradients.** Each rank's loss is the mean over its shard; averaging the gradients over the ranks
  gives the gradient of the global-batch mean (equal shards), so N processes take the step one process takes on
  the whole batch. Fixed networks use :class:`torch.nn.parallel.DistributedDataParallel`; supernets, whose path
  changes every step (and whose architecture step freezes the weights), average with one coalesced all-reduce
  (:meth:`World.average_gradients`), which is what DDP's reducer does, without its requirement of one static
  set of parameters per step. A latency term computed from the architecture parameters is the same on every
  rank, so averaging counts it once.
* **Global BatchNorm.** Inside a training step (:func:`hwnas.nn.global_bn.synchronised`, given the model and
  the :class:`World`), BatchNorm uses the mean and variance of the global batch; without it each rank would
  normalise with its shard's statistics and the run would drift from the single-process one.
* **Agreement.** Architecture parameters are checked to be identical on every rank after every update
  (:meth:`World.check_replicated`), and a non-finite loss on any rank skips the step on all of them.
* **Clean exit.** Every way out of the CLI leaves the group (:func:`shutdown`, with an atexit hook behind it): a
  rank that completed first waits at a barrier for the others, then the group is destroyed, which joins its
  backend threads. A group still alive when the interpreter finalises aborts the process ("terminate called
  without an active exception"): a backend thread releasing a collective's tensors then needs the GIL, and a
  thread that asks for it at that point is forced out of the destructor it runs in.
* **One writer.** Only rank 0 writes files (:mod:`hwnas.fileio` discards writes on the other ranks), logs and
  shows progress; every rank reads checkpoints, so a job restarted by ``torchrun --max-restarts`` resumes from
  the last one on every rank (:func:`restarted`).
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import importlib
import logging
import os
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class World:
    """The process group this process belongs to; ``size == 1`` (the default) is a plain single process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, data: Any, uneven: bool = False) -> Any:
        """This rank's rows of ``data`` (a tensor, or a dict/list/tuple of them; None passes through).

        Shards are equal, and a batch that does not divide is an error, unless ``uneven``: then the first
        ``rows % size`` ranks get one row more (``torch.tensor_split``), and the caller weights its loss by its
        share. Every rank gets at least one row.
        """
        if not self.active or data is None:
            return data
        if isinstance(data, Mapping):
            return {k: self.shard(v, uneven) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return type(data)(self.shard(v, uneven) for v in data)
        if not isinstance(data, torch.Tensor):
            raise TypeError(f"cannot shard a {type(data).__name__}")
        rows = data.shape[0]
        if rows < self.size or (rows % self.size and not uneven):
            raise ValueError(f"a global batch of {rows} does not split evenly over {self.size} ranks: "
                             f"use a batch size divisible by {self.size}")
        return torch.tensor_split(data, self.size)[self.rank]

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks (NaN anywhere gives NaN: one bad shard spoils the step)."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        torch.distributed.all_reduce(t)
        return float(t) / self.size

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce ``tensor`` in place (sum over the ranks); returns it."""
        if self.active:
            torch.distributed.all_reduce(tensor)
        return tensor

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace every present gradient by its mean over the ranks, in one coalesced all-reduce.

        The ranks must agree on which parameters have a gradient (they do when they train the same path); the
        count travels with the gradients and a mismatch is an error rather than a silent misalignment.
        """
        if not self.active:
            return
        grads = [p.grad for p in params if p.grad is not None]
        device = grads[0].device if grads else self._device()
        flat = torch.cat([*(g.reshape(-1).to(torch.float32) for g in grads),
                          torch.tensor([float(len(grads))], device=device)])
        torch.distributed.all_reduce(flat)
        if int(round(float(flat[-1]))) != self.size * len(grads):
            raise RuntimeError("ranks disagree on which parameters have gradients: their sampled paths differ "
                               "(every rank must draw its architecture from the same seeded generator)")
        flat = flat[:-1] / self.size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def all_gather_objects(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (picklable builtins only: scores, indices)."""
        if not self.active:
            return [value]
        out: list[Any] = [None] * self.size
        torch.distributed.all_gather_object(out, value)
        return out

    def check_replicated(self, tensors: Iterable[torch.Tensor], what: str) -> None:
        """Raise if ``tensors`` are not bit-identical on every rank (a digest of their bytes is compared)."""
        if not self.active:
            return
        h = hashlib.sha256()
        for t in tensors:
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        digests = self.all_gather_objects(h.hexdigest())
        if len(set(digests)) != 1:
            raise RuntimeError(f"{what} differ between ranks after a synchronised update: the replicas diverged")

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def _device(self) -> torch.device:
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


_WORLD = World()


def current() -> World:
    """The process group of this process (a one-process :class:`World` unless :func:`init_from_env` joined one)."""
    return _WORLD


def is_main() -> bool:
    return _WORLD.is_main


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def restarted() -> bool:
    """True in a worker that ``torchrun --max-restarts`` started again after a failure: it must resume."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


def init_from_env(device: str = "cpu", timeout_s: float = 600.0) -> World:
    """Join the process group ``torchrun`` describes in the environment; a no-op for a single process.

    The backend is NCCL for a CUDA ``device`` (each rank on ``cuda:LOCAL_RANK``) and gloo otherwise.
    """
    global _WORLD
    if not launched_by_torchrun() or _WORLD.active:
        return _WORLD
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    timeout = datetime.timedelta(seconds=timeout_s)
    _import_group_capturing_modules()
    store, _, _ = next(torch.distributed.rendezvous("env://", rank, size, timeout=timeout))
    # torchrun keeps one store across restarts: without a prefix per attempt, a restarted group would read the
    # addresses the killed workers published and fail to connect.
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    store = torch.distributed.PrefixStore(f"hwnas/attempt{attempt}", store)
    torch.distributed.init_process_group(backend, store=store, rank=rank, world_size=size, timeout=timeout)
    _WORLD = World(rank, size, local_rank, backend)
    _register_exit_hook()
    if rank != 0:
        logging.getLogger("hwnas").setLevel(logging.WARNING)  # one rank tells the story
    log.info("joined a %d-process %s group as rank %d", size, backend, rank)
    return _WORLD


# Modules whose functions take ``group=group.WORLD`` as a default argument: Python evaluates it on import, so
# importing one after the group exists keeps the default group alive for good, and destroy_process_group() can
# no longer stop its backend threads. hwnas imports the first one indirectly: the first functional collective
# (global BatchNorm) imports torch._dynamo, which imports it.
_GROUP_CAPTURING_MODULES = ("torch.distributed.nn.functional",)


def _import_group_capturing_modules() -> None:
    """Import those modules while no group exists, so that their defaults hold None rather than our group."""
    for name in _GROUP_CAPTURING_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a torch without it cannot import it later either
            pass


_EXIT_HOOK_REGISTERED = False


def _register_exit_hook() -> None:
    """Leave the group at interpreter exit too, for exits that bypass :func:`hwnas.cli.main`'s ``finally``.

    atexit runs while other threads can still take the GIL; a group left for finalization to tear down lets a
    backend thread try to take it after that is no longer possible, and the process aborts.
    """
    global _EXIT_HOOK_REGISTERED
    if not _EXIT_HOOK_REGISTERED:
        atexit.register(shutdown)
        _EXIT_HOOK_REGISTERED = True


def shutdown(wait_for_peers: bool = False) -> None:
    """Leave the process group and stop its backend threads; safe to call twice, a no-op for one process.

    ``wait_for_peers`` (the command completed) first waits at a barrier, so that no rank closes its connections
    while another still has a collective in flight. A rank that failed must not: its peers may never get there.
    """
    global _WORLD
    world, _WORLD = _WORLD, World()
    if not world.active or not torch.distributed.is_initialized():
        return
    group = weakref.ref(torch.distributed.group.WORLD)
    if wait_for_peers:
        _barrier_before_leaving(world)
    torch.distributed.destroy_process_group()
    if group() is not None:
        log.warning("the process group is still referenced after destroy_process_group(): its backend threads "
                    "outlive it and can abort this process at exit (something holds it: a default argument of a "
                    "module imported after the group was created, or a live DistributedDataParallel wrapper)")


def _barrier_before_leaving(world: World) -> None:
    """Wait for every rank; a peer that died meanwhile is reported, not raised: this rank's work is done."""
    try:
        if world.backend == "nccl":
            torch.distributed.barrier(device_ids=[world.local_rank])
        else:
            torch.distributed.barrier()
    except RuntimeError as e:  # DistBackendError: a peer closed its connections first
        log.warning("rank %d: the final barrier failed (%s); leaving the group anyway", world.rank,
                    str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)


def device_for(device: str) -> str:
    """The device this rank trains on: ``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun."""
    if _WORLD.active and device == "cuda":
        return f"cuda:{_WORLD.local_rank}"
    return device
