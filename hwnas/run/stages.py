"""Cached, resumable stages of ``hwnas run``.

Every stage writes ``OUT/stages/NAME.json`` when, and only when, it has finished: its *key* (a digest of the
settings it depends on and of the keys of the stages before it) and its outputs. A rerun skips every stage whose
record holds the same key, and reruns the others; a stage that was killed has no record and starts again, but
each one resumes its own work from its checkpoints (a partial latency table, the search state, ``last.pt``), so
nothing finished is computed twice. Changing a setting redoes the stage it belongs to and everything after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hwnas.fileio import write_text_atomic

log = logging.getLogger(__name__)


def digest(data: Any) -> str:
    """A short stable digest of JSON-able ``data``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Stages:
    """Runs named stages under ``out/stages``; ``announce`` prints one line per stage (``[2/7] search ...``)."""

    def __init__(self, out: Path, names: list[str], announce: Callable[[str], None] = print) -> None:
        self.dir = Path(out) / "stages"
        self.names = names
        self.announce = announce
        self.records: dict[str, dict[str, Any]] = {}

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def cached(self, name: str, key: str) -> dict[str, Any] | None:
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("stage record %s is unreadable: redoing the stage", path)
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def run(self, name: str, inputs: Mapping[str, Any], work: Callable[[], dict[str, Any]],
            what: str = "") -> tuple[str, dict[str, Any]]:
        """``(key, outputs)`` of stage ``name``: the cached outputs if its key matches, else ``work()``'s."""
        key = digest({"stage": name, **inputs})
        step = f"[{self.names.index(name) + 1}/{len(self.names)}] {name}"
        record = self.cached(name, key)
        if record is not None:
            self.announce(f"{step}: done before ({record['seconds']:.0f} s), reusing {what}".rstrip(", "))
            self.records[name] = record
            return key, record["outputs"]
        self.announce(f"{step}: {what}" if what else step)
        started = time.perf_counter()
        outputs = work()
        record = {"stage": name, "key": key, "seconds": round(time.perf_counter() - started, 2),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "outputs": outputs}
        write_text_atomic(self._path(name), json.dumps(record, indent=2, default=str) + "\n")
        self.records[name] = record
        return key, outputs
