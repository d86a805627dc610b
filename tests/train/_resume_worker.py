"""Subprocess entry point for the SIGKILL resume test: one training run, optionally gated or resumed.

Usage: python _resume_worker.py OUT_DIR [--resume] [--gate-step N]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from _train_testlib import GatedSource, SyntheticSource, make_tiny_net
from hwnas.train import TrainConfig, train

BATCHES_PER_EPOCH = 12
CONFIG = TrainConfig(
    epochs=3,
    optimizer="sgd",  # momentum buffers must survive the resume
    lr=0.05,
    momentum=0.9,
    nesterov=True,
    weight_decay=1e-4,
    warmup_epochs=0.5,
    min_lr=1e-4,
    label_smoothing=0.1,
    ema_decay=0.9,
    grad_clip=5.0,
    checkpoint_every_steps=4,
    log_every_steps=1,
    progress=False,
    tensorboard=True,
    seed=123,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--gate-step", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)  # same thread count in every process: CPU kernels are then bit-reproducible
    if args.gate_step is None:
        train_src = SyntheticSource(BATCHES_PER_EPOCH, seed=1)
    else:
        marker = args.out_dir / "at_gate"
        train_src = GatedSource(BATCHES_PER_EPOCH, seed=1, gate_step=args.gate_step, marker=marker)
    val_src = SyntheticSource(3, seed=2)
    model = make_tiny_net(seed=7)
    train(model, train_src, val_src, CONFIG, args.out_dir, device="cpu", resume=args.resume)
    torch.save(model.state_dict(), args.out_dir / "final_model.pt")


if __name__ == "__main__":
    main()
