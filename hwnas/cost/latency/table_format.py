"""The latency table file: its JSON layout, what a valid one holds, and reading and writing it (never pickle).

A table file is one JSON object::

    {"format": "hwnas-latency-table", "schema_version": 1, "units": "ms", "complete": true,
     "provenance": {...}, "calibration": null | {...}, "entries": {...}, "families": {...}}

* ``provenance``: where and how every number was measured (:data:`REQUIRED_PROVENANCE`: device and CPU model,
  backend and version, threads, batch size, dtype, input size and channels, classes, the space, timing settings);
* ``entries``: op key (:mod:`hwnas.cost.lut_keys`) -> ``{"median_ms", "iqr_ms", "rounds"}``;
* ``families``: width family -> ``[[width, key], ...]`` by increasing width (:mod:`hwnas.cost.latency.lookup`);
* ``calibration``: ``null`` or one of the kinds of :mod:`hwnas.cost.latency.calibration_kinds`;
* ``complete``: ``false`` while ``hwnas lut build`` is still filling it in.

A file that is not a table, is truncated or has the wrong schema is a ``ValueError`` naming the file; a field of
the wrong kind names the field. Writes are atomic (a reader never sees half a file).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hwnas.cost.lut_keys import parse_key
from hwnas.fileio import write_text_atomic

FORMAT = "hwnas-latency-table"
SCHEMA_VERSION = 1
UNITS = "ms"
REQUIRED_PROVENANCE = ("space", "input_size", "in_channels", "num_classes", "backend", "backend_version", "threads",
                       "batch_size", "dtype", "timing", "device")
CHECKABLE = ("space", "space_digest", "width_mult", "input_size", "in_channels", "num_classes", "backend",
             "backend_version", "threads", "batch_size", "dtype")
"""Provenance fields :func:`check_expected` compares."""


def finite(value: Any) -> bool:
    """A real number (not a bool) that is neither infinite nor NaN."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_provenance(prov: Any, where: str) -> None:
    if not isinstance(prov, dict):
        raise ValueError(f"{where}: 'provenance' must be an object")
    missing = [f for f in REQUIRED_PROVENANCE if f not in prov]
    if missing:
        raise ValueError(f"{where}: provenance lacks {', '.join(missing)}")
    for field in ("timing", "device"):
        if not isinstance(prov[field], dict):
            raise ValueError(f"{where}: provenance {field!r} must be an object")
    for field in ("input_size", "in_channels", "num_classes", "threads", "batch_size"):
        value = prov[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: provenance {field!r} must be a positive integer, got {value!r}")


def check_entries(entries: Any, where: str) -> None:
    if not isinstance(entries, dict):
        raise ValueError(f"{where}: 'entries' must be an object of op key -> timing")
    for key, entry in entries.items():
        parse_key(key)
        if not isinstance(entry, dict) or not all(finite(entry.get(f)) and entry[f] >= 0
                                                  for f in ("median_ms", "iqr_ms")):
            raise ValueError(f"{where}: entry {key!r} needs non-negative finite 'median_ms' and 'iqr_ms'")


def check_families(families: Any, entries: dict, complete: bool, where: str) -> None:
    if not isinstance(families, dict):
        raise ValueError(f"{where}: 'families' must be an object")
    for family, points in families.items():
        ok = isinstance(points, list) and len(points) >= 2 and all(
            isinstance(p, list) and len(p) == 2 and finite(p[0]) and isinstance(p[1], str) for p in points)
        if not ok or [p[0] for p in points] != sorted({p[0] for p in points}):
            raise ValueError(f"{where}: family {family!r} must list 2+ [width, key] pairs by increasing width")
        missing = [p[1] for p in points if p[1] not in entries]
        if complete and missing:
            raise ValueError(f"{where}: family {family!r} refers to op {missing[0]!r}, which has no entry")


def check_expected(provenance: dict[str, Any], where: str, **expected: Any) -> None:
    """``ValueError`` naming the first provenance field (of :data:`CHECKABLE`) whose value differs from the
    expected one (``None``: anything goes)."""
    for field, want in expected.items():
        if field not in CHECKABLE:
            raise ValueError(f"unknown provenance field {field!r}; checkable: {', '.join(CHECKABLE)}")
        have = provenance.get(field)
        if want is not None and have != want:
            raise ValueError(f"{where} was built for {field}={have!r}, but {field}={want!r} was asked "
                             f"for; build a table for these settings with `hwnas lut build`")


def check_document(data: Any, where: str) -> None:
    """The header (format, schema version, units, ``complete``) and the top-level structure of a table file; the
    fields themselves are checked when the table is made from them."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{where} is not an hwnas latency table (format {FORMAT!r} expected)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{where} has schema version {data.get('schema_version')!r}; this hwnas reads "
                         f"version {SCHEMA_VERSION} (rebuild it with `hwnas lut build`)")
    if data.get("units") != UNITS:
        raise ValueError(f"{where} is in units {data.get('units')!r}; hwnas tables are in {UNITS!r}")
    if not isinstance(data.get("complete"), bool):
        raise ValueError(f"{where}: 'complete' must be true or false")
    families, calibration = data.get("families", {}), data.get("calibration")
    shapes = {"provenance": isinstance(data.get("provenance"), dict),
              "entries": isinstance(data.get("entries"), dict)
              and all(isinstance(v, dict) for v in data["entries"].values()),
              "families": isinstance(families, dict) and all(isinstance(v, list) for v in families.values()),
              "calibration": calibration is None or isinstance(calibration, dict)}
    bad = [k for k, ok in shapes.items() if not ok]
    if bad:
        raise ValueError(f"{where} is malformed: {', '.join(repr(k) for k in bad)} do not have the table's "
                         "structure (rebuild it with `hwnas lut build`)")


def document(provenance: dict[str, Any], entries: dict[str, Any], families: dict[str, list],
             calibration: dict[str, Any] | None, complete: bool) -> dict[str, Any]:
    """The JSON object of a table, keys in file order."""
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "units": UNITS, "complete": complete,
            "provenance": provenance, "calibration": calibration, "entries": entries, "families": families}


def dumps(data: dict[str, Any]) -> str:
    """JSON with one line per entry and per family: a thousand-op table stays readable and diffable."""
    parts = []
    for key, value in data.items():
        if key in ("entries", "families") and value:
            inner = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            parts.append(f" {json.dumps(key)}: {{\n{inner}\n }}")
        else:
            parts.append(f" {json.dumps(key)}: " + json.dumps(value, indent=1).replace("\n", "\n "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def read(path: Path) -> Any:
    """The parsed JSON of a table file; ``FileNotFoundError``/``ValueError`` naming it when it cannot be read."""
    if not path.is_file():
        raise FileNotFoundError(f"latency table {path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"latency table {path} is corrupt or truncated (not valid JSON: {e})") from None


def write(path: Path, data: dict[str, Any]) -> None:
    """Write a table's JSON object atomically."""
    write_text_atomic(path, dumps(data))
