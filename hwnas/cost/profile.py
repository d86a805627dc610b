"""Per-layer profile of a network: what each stem / block / head costs, counted, predicted and measured.

Like the op-to-op profiles of the SPOS deployment tools: for every layer its MACs, params, output shape and
activation memory (exact counts, :mod:`hwnas.cost.counting`), its predicted latency from a table
(:meth:`hwnas.cost.latency.table.LatencyTable.op_latencies`, which sum to the table's prediction) and, with
``measure``, its measured latency: each layer as a standalone module at its input shape, all layers and the whole network timed
together in interleaved rounds. The sum of the layers is more than the whole network (each standalone layer pays
its own call overhead); the shares say where the time goes. The run report draws its architecture from this.

The MicroNet Challenge score (Google's MicroNet Challenge, NeurIPS 2019) normalises params and math operations by a
reference network: ``score = params / P_ref + ops / OPS_ref``, where a multiply-accumulate is two operations (one
multiply, one add) and a value stored or computed at ``bits`` < 32 counts ``bits / 32`` of one. The references:
ImageNet, MobileNetV2 1.4x (6.9M params, 1170M ops); CIFAR-100, WideResNet-28-10 (36.5M params, 10.49B ops).
``spos`` is the normalisation of the SPOS reference implementation's tables (the OneShot model: 3.4M params,
328M FLOPs counted as MACs, so OneShot scores 2.0 and FBNet-B about 2.2).
"""

from __future__ import annotations

from typing import Any

from hwnas.cost.models import MIB, MICRONET_REFERENCES, micronet_score  # noqa: F401  (re-exported)

def per_layer(spec, geometry: dict[str, int], table=None) -> list[dict[str, Any]]:
    """Each stem / block / head: its text, output shape, MACs, params, activation memory, predicted ms, share."""
    from hwnas.cost.counting import per_layer_costs

    rows = per_layer_costs(spec, geometry["input_size"], geometry["num_classes"], geometry["in_channels"])
    latencies, offset = table.op_latencies(spec) if table is not None else ([], 0.0)
    if latencies and len(latencies) != len(rows):  # never expected: both walk stem, resolved layers, head
        raise ValueError(f"{len(latencies)} timed ops for {len(rows)} layers")
    total = sum(ms for _, ms in latencies) + offset if latencies else None
    out = []
    for i, row in enumerate(rows):
        ms = latencies[i][1] if latencies else None
        out.append({"label": row["label"], "type": row["type"], "op": latencies[i][0].split("@")[0] if latencies
                    else row["type"], "out_shape": list(row["out_shape"]), "macs": row["macs"],
                    "params": row["params"], "activation_mb": row["peak_bytes"] / MIB, "predicted_ms": ms,
                    "share_pct": None if ms is None or not total else 100 * ms / total})
    return out


def measure_layers(spec, geometry: dict[str, int], backend: str = "onnxruntime", threads: int = 1,
                   batch_size: int = 1, warmup: int = 10, rounds: int = 50) -> tuple[list[float], float]:
    """Measured ms of every layer alone (stem, blocks, head) and of the whole network, timed together."""
    from hwnas.cost.lut_keys import spec_ops
    from hwnas.cost.latency.measure import op_module, time_models
    from hwnas.nn import build_model

    g = geometry
    ops = spec_ops(spec, g["input_size"], g["in_channels"], g["num_classes"])
    modules = [op_module(op).eval() for op in ops]
    whole = build_model(spec, g["num_classes"], g["in_channels"]).eval()
    shapes = [tuple(op.in_shape) for op in ops] + [(g["in_channels"], g["input_size"], g["input_size"])]
    timings = time_models([*modules, whole], backend, threads, batch_size, warmup, rounds, input_shapes=shapes)
    return [t.median_ms for t in timings[:-1]], timings[-1].median_ms


def profile(spec, geometry: dict[str, int], table=None, measure: bool = False, rounds: int | None = None,
            backend: str = "onnxruntime", threads: int = 1, batch_size: int = 1,
            micronet_track: str = "imagenet", bits: int = 32) -> dict[str, Any]:
    """The per-layer profile and the totals (``table``'s backend and settings are used for ``measure``)."""
    from hwnas.cost.counting import count_macs, count_params, peak_activation_bytes

    g = geometry
    layers = per_layer(spec, g, table)
    params = count_params(spec, num_classes=g["num_classes"], in_channels=g["in_channels"])
    macs = count_macs(spec, g["input_size"], num_classes=g["num_classes"], in_channels=g["in_channels"])
    out: dict[str, Any] = {
        "params": params, "macs": macs,
        "peak_activation_mb": peak_activation_bytes(spec, g["input_size"], in_channels=g["in_channels"]) / MIB,
        "micronet": {"track": micronet_track, "bits": bits, "score": micronet_score(params, macs, micronet_track,
                                                                                    bits)},
        "predicted_ms": table.predict(spec) if table is not None else None, "measured_ms": None, "layers": layers}
    if measure:
        if table is not None:
            prov = table.provenance
            backend, threads, batch_size = prov["backend"], prov["threads"], prov["batch_size"]
            rounds = rounds or prov["timing"].get("rounds", 50)
        times, whole = measure_layers(spec, g, backend, threads, batch_size, rounds=rounds or 50)
        total = sum(times)
        for row, ms in zip(layers, times):
            row["measured_ms"], row["measured_share_pct"] = ms, 100 * ms / total
        out.update(measured_ms=whole, measured_layers_sum_ms=total, backend=backend, threads=threads,
                   batch_size=batch_size)
    return out
