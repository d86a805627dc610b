"""Latency on your own device: ONNX bundles out, runner results back in.

The device that matters (a phone-class board, an edge CPU) often cannot run PyTorch. So the ops of a table
(``kind: "ops"``) or sampled whole networks (``kind: "nets"``, for calibration there) are exported here, on a
machine with hwnas, as static-shape ONNX files (the exporter and opset of the ``onnxruntime`` backend) in a
directory with a ``manifest.json`` and a copy of :mod:`hwnas.cost.latency.runner`; the runner times them on the device
with only onnxruntime and numpy and writes ``results.json``; :func:`import_table` turns op results into a table
whose provenance names the remote device (``"source": "imported"``), and :func:`imported_networks` hands network
results to :func:`hwnas.cost.latency.calibrate.calibrate_table`.

Manifest (``hwnas-onnx-bundle`` version 1): ``kind``, ``bundle_id`` (results must carry the same), ``batch_size``,
``timing`` (warm-up, rounds, calls per sample, chunk: the source table's, so the device measures the same way),
``items`` (``file``, ``input_shape`` with the batch, and ``key`` for ops or ``arch`` for networks), ``table`` (the
source table's geometry and space, which an imported table keeps), ``families`` (for width interpolation) and,
for networks, ``sampling`` (space, samples, seed).
"""

from __future__ import annotations

import datetime
import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hwnas import __version__
from hwnas.arch import decode, encode
from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency import runner
from hwnas.cost.latency.backends import ONNX_OPSET, OnnxRuntimeBackend, backend_class, onnx_bytes
from hwnas.cost.latency.overhead import parse_io_key
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.lut_keys import parse_key
from hwnas.fileio import write_bytes_atomic, write_text_atomic

TABLE_FIELDS = ("space", "space_digest", "width_mult", "archs", "input_size", "in_channels", "num_classes",
                "batch_size", "dtype", "width_grid")
"""Provenance of the source table that an imported table keeps (what the keys mean, not where they were timed)."""


def _prepare_dir(out: str | Path, overwrite: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a directory")
    if (out / runner.MANIFEST).exists() and not overwrite:
        raise ValueError(f"{out} already holds a bundle; pass --overwrite or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(runner.__file__), out / "runner.py")  # the device needs nothing else from hwnas
    return out


def _manifest(table: LatencyTable, kind: str, items: list[dict], **extra: Any) -> dict[str, Any]:
    from hwnas.cost.latency.build import DEFAULT_CHUNK

    p = table.provenance
    timing = {"warmup": p["timing"].get("warmup"), "rounds": p["timing"].get("rounds"),
              "number": p["timing"].get("number", 1), "threads": p["threads"], "chunk": DEFAULT_CHUNK}
    return {"format": runner.MANIFEST_FORMAT, "version": runner.VERSION, "kind": kind,
            "bundle_id": uuid.uuid4().hex, "batch_size": p["batch_size"], "timing": timing,
            "table": {f: p.get(f) for f in TABLE_FIELDS}, "source_table": str(table.path) if table.path else None,
            "source_device": p["device"], "hwnas": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **extra, "items": items}


def _write(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    write_text_atomic(out / runner.MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


def export_ops(table: LatencyTable, out: str | Path, overwrite: bool = False, progress: bool = False) -> dict:
    """Every op of ``table`` as ``op_NNNN.onnx`` in ``out``, with the manifest; returns the manifest."""
    from tqdm import tqdm

    from hwnas.cost.latency.measure import op_module

    if not backend_class(table.provenance["backend"]).device_runner:
        raise ValueError(f"{table.where} was timed with {table.provenance['backend']!r}; the runner times ONNX "
                         "models with onnxruntime, so export a table built with --backend onnxruntime")
    out, batch, items = _prepare_dir(out, overwrite), table.provenance["batch_size"], []
    for i, key in enumerate(tqdm(table.entries, unit="op", desc="export", disable=not progress)):
        op = parse_key(key)
        shape = (batch, *op.in_shape)
        name = f"op_{i:04d}.onnx"
        write_bytes_atomic(out / name, onnx_bytes(op_module(op), shape))
        items.append({"file": name, "key": key, "input_shape": list(shape)})
    return _write(out, _manifest(table, "ops", items, families=table.families))


def export_nets(table: LatencyTable, specs: Sequence[ArchSpec], out: str | Path, sampling: dict[str, Any],
                overwrite: bool = False) -> dict:
    """Whole networks as ``net_NNN.onnx`` (built at the table's geometry) for calibration on the device, and the
    null model of every op shape of the table as ``null_NNN.onnx`` (for the ``overhead`` calibration)."""
    from hwnas.cost.latency.overhead import null_model, table_io_keys
    from hwnas.nn import build_model

    p = table.provenance
    for spec in specs:
        table.predict(spec, calibrated=False)  # every op must be in the table, or the fit is useless: fail now
    out, items = _prepare_dir(out, overwrite), []
    shape = (p["batch_size"], p["in_channels"], p["input_size"], p["input_size"])
    for i, spec in enumerate(specs):
        name = f"net_{i:03d}.onnx"
        write_bytes_atomic(out / name, onnx_bytes(build_model(spec, p["num_classes"], p["in_channels"]), shape))
        items.append({"file": name, "arch": encode(spec), "input_shape": list(shape)})
    for i, key in enumerate(table_io_keys(table.entries)):
        name = f"null_{i:03d}.onnx"
        write_bytes_atomic(out / name, null_model(key, p["batch_size"]))
        items.append({"file": name, "null": key, "input_shape": [p["batch_size"], *parse_io_key(key)[0]]})
    return _write(out, _manifest(table, "nets", items, sampling=sampling))


# ---------------------------------------------------------------------------------------------------- import
def load_results(manifest_dir: str | Path, results: str | Path | None = None,
                 kind: str | None = None) -> tuple[dict, dict]:
    """(manifest, results) of a bundle, checked to belong together; ``results`` defaults to DIR/results.json."""
    manifest = runner.load_manifest(manifest_dir)
    path = Path(results) if results is not None else Path(manifest_dir) / runner.RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"runner results {path} do not exist (run `python runner.py DIR` on the device)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"runner results {path} are corrupt or truncated (not valid JSON: {e})") from None
    if not isinstance(data, dict) or data.get("format") != runner.RESULTS_FORMAT:
        raise ValueError(f"{path} is not a runner results file (format {runner.RESULTS_FORMAT!r} expected)")
    if data.get("bundle_id") != manifest.get("bundle_id"):
        raise ValueError(f"{path} comes from another bundle than {Path(manifest_dir) / runner.MANIFEST} "
                         "(bundle_id differs)")
    if kind is not None and manifest.get("kind") != kind:
        raise ValueError(f"{Path(manifest_dir) / runner.MANIFEST} holds {manifest.get('kind')!r}, not {kind!r}: "
                         f"use `hwnas lut export-{kind}`")
    missing = [i["file"] for i in manifest["items"] if i["file"] not in data.get("results", {})]
    if missing:
        raise ValueError(f"{path} has no result for {len(missing)} model(s), e.g. {missing[0]}")
    return manifest, data


def _imported_provenance(manifest: dict, data: dict, manifest_dir: Path, results: Path) -> dict[str, Any]:
    s = data["settings"]
    return {**manifest["table"], "backend": OnnxRuntimeBackend.name, "backend_version": data["onnxruntime"],
            "threads": s["threads"], "backend_options": {**data.get("session", {}), "opset": ONNX_OPSET},
            "timing": {"warmup": s["warmup"], "rounds": s["rounds"], "number": s["number"],
                       "order": "interleaved", "statistic": "median", "spread": "iqr"},
            "device": data["device"],
            "software": {"hwnas": __version__, "onnxruntime": data["onnxruntime"], "numpy": data.get("numpy")},
            "source": "imported",
            "imported": {"manifest": str(manifest_dir), "results": str(results), "measured": data.get("created"),
                         "bundle_id": manifest["bundle_id"]},
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def import_table(manifest_dir: str | Path, results: str | Path | None = None,
                 out: str | Path | None = None) -> LatencyTable:
    """The latency table an ``ops`` bundle's runner results make (saved to ``out`` if given)."""
    manifest, data = load_results(manifest_dir, results, kind="ops")
    results_path = Path(results) if results is not None else Path(manifest_dir) / runner.RESULTS
    entries = {item["key"]: data["results"][item["file"]] for item in manifest["items"]}
    prov = _imported_provenance(manifest, data, Path(manifest_dir), results_path)
    table = LatencyTable(prov, entries, manifest.get("families") or {}, None, True)
    if out is not None:
        table.save(out)
    return table


def imported_networks(manifest_dir: str | Path, results: str | Path | None = None,
                      table: LatencyTable | None = None):
    """A :class:`~hwnas.cost.latency.measured_nets.Measured` of a ``nets`` bundle's runner results, and its sampling
    record.

    With ``table``: the networks must have been exported at its geometry and batch size.
    """
    from hwnas.cost.latency.measured_nets import Measured

    manifest, data = load_results(manifest_dir, results, kind="nets")
    if table is not None:
        fields = ("input_size", "in_channels", "num_classes", "batch_size")
        table.check(**{f: manifest["table"].get(f) for f in fields})
    nets = [item for item in manifest["items"] if "arch" in item]
    timed = [data["results"][item["file"]] for item in nets]
    nulls = {item["null"]: data["results"][item["file"]]["median_ms"] for item in manifest["items"] if "null" in item}
    timing = {k: data["settings"].get(k) for k in ("warmup", "rounds", "number", "threads", "batch_size")}
    measured = Measured([decode(item["arch"]) for item in nets], [t["median_ms"] for t in timed],
                        [t["iqr_ms"] for t in timed], "imported", data["device"], timing, nulls or None)
    return measured, manifest.get("sampling") or {}
