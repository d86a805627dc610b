"""Latency on a device: backends that time, latency tables that predict, and calibration that corrects them.

* :mod:`~hwnas.cost.latency.backends` (one class per way of timing, each declaring what it can do) and
  :mod:`~hwnas.cost.latency.measure` (:func:`~hwnas.cost.latency.measure.time_models`, the one timing function);
* :mod:`~hwnas.cost.latency.table` (:class:`~hwnas.cost.latency.table.LatencyTable`, the table a search reads)
  and :mod:`~hwnas.cost.latency.build` (timing every op of a space or of given networks into one);
* :mod:`~hwnas.cost.latency.calibrate` with :mod:`~hwnas.cost.latency.overhead`,
  :mod:`~hwnas.cost.latency.graph_features` and :mod:`~hwnas.cost.latency.ridge`: correcting a table with
  measured whole networks; :mod:`~hwnas.cost.latency.validate`: checking it on other ones;
* :mod:`~hwnas.cost.latency.bundle` and :mod:`~hwnas.cost.latency.runner`: measuring on another device.

This package imports nothing at import time: ``python -m hwnas.cost.latency.runner`` on a device without torch
passes through it and must not pull in the rest of hwnas.
"""
