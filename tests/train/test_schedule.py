import math

import pytest

from hwnas.train import TrainConfig, lr_at_step, schedule_steps

KW = dict(base_lr=1.0, min_lr=0.1, warmup_steps=10, total_steps=110)


def test_warmup_start_and_end() -> None:
    assert lr_at_step(0, **KW) == pytest.approx(0.1)  # (0 + 1) / 10: the very first step already moves
    assert lr_at_step(4, **KW) == pytest.approx(0.5)
    assert lr_at_step(9, **KW) == pytest.approx(1.0)  # last warm-up step reaches the peak
    assert lr_at_step(10, **KW) == pytest.approx(1.0)  # cosine starts at the peak


def test_cosine_midpoint_and_end() -> None:
    assert lr_at_step(60, **KW) == pytest.approx(0.55)  # halfway through decay: (base + min) / 2
    assert lr_at_step(35, **KW) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
    assert lr_at_step(110, **KW) == pytest.approx(0.1)
    assert lr_at_step(500, **KW) == pytest.approx(0.1)  # clamps past the end
    values = [lr_at_step(s, **KW) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # monotone decay


def test_no_warmup_and_all_warmup() -> None:
    assert lr_at_step(0, base_lr=0.5, min_lr=0.0, warmup_steps=0, total_steps=4) == pytest.approx(0.5)
    assert lr_at_step(3, base_lr=0.5, min_lr=0.0, warmup_steps=4, total_steps=4) == pytest.approx(0.5)
    assert lr_at_step(9, base_lr=0.5, min_lr=0.0, warmup_steps=4, total_steps=4) == pytest.approx(0.5)


def test_stateless_resume_gives_same_values() -> None:
    first = [lr_at_step(s, **KW) for s in range(110)]
    assert first == [lr_at_step(s, **KW) for s in range(110)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(step=-1), "step"),
        (dict(step=0, total_steps=0), "total_steps"),
        (dict(step=0, warmup_steps=200), "warmup_steps"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        lr_at_step(**{**KW, **kwargs})


def test_schedule_steps_from_config() -> None:
    assert schedule_steps(TrainConfig(epochs=4, warmup_epochs=0.5), 10) == (5, 40)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        schedule_steps(TrainConfig(), 0)
