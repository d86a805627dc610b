import pytest

from hwnas.train import TrainConfig


def test_defaults_valid_and_round_trip() -> None:
    cfg = TrainConfig(ema_decay=0.999, grad_clip=1.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("epochs", True),
        ("epochs", 2.5),
        ("optimizer", "adam"),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("momentum", 1.0),
        ("weight_decay", -1e-4),
        ("warmup_epochs", 50),
        ("min_lr", 1.0),
        ("label_smoothing", 1.0),
        ("ema_decay", 1.0),
        ("ema_decay", 0.0),
        ("kd_alpha", 1.5),
        ("kd_temperature", 0.0),
        ("amp", "yes"),
        ("amp_dtype", "fp8"),
        ("grad_clip", 0.0),
        ("nonfinite_policy", "ignore"),
        ("max_nonfinite", 0),
        ("checkpoint_every_steps", -1),
        ("seed", -3),
        ("log_every_steps", -1),
        ("progress", 1),
    ],
)
def test_invalid_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_nesterov_needs_momentum() -> None:
    with pytest.raises(ValueError, match="nesterov"):
        TrainConfig(momentum=0.0)
    TrainConfig(momentum=0.0, nesterov=False)


def test_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="bogus"):
        TrainConfig.from_dict({"bogus": 1})
