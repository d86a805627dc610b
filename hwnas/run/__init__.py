"""``hwnas run``: one command from data to a deployable network measured on the target (see pipeline)."""

from hwnas.run.preset import RunConfig, dump_config, load_config
from hwnas.run.pipeline import STAGES, run

__all__ = ["RunConfig", "STAGES", "dump_config", "load_config", "run"]
