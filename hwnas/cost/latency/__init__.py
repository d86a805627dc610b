"""Latency on a device: backends that time, latency tables that predict, and calibration that corrects them.

* :mod:`~hwnas.cost.latency.backends` (one class per way of timing, each declaring what it can do, registered by
  name) and :mod:`~hwnas.cost.latency.measure` (:func:`~hwnas.cost.latency.measure.time_models`, the one timing
  function);
* :mod:`~hwnas.cost.latency.table` (:class:`~hwnas.cost.latency.table.LatencyTable`, the table a search reads),
  the public face of :mod:`~hwnas.cost.latency.table_format` (the file), :mod:`~hwnas.cost.latency.lookup` (an
  op's time, interpolated in width), :mod:`~hwnas.cost.latency.calibration_kinds` (one class per stored
  correction) and :mod:`~hwnas.cost.latency.bound_space` (the per-space cache of the expected latency);
  :mod:`~hwnas.cost.latency.build` times every op of a space or of given networks into one;
* calibration on measured whole networks: :mod:`~hwnas.cost.latency.sampled_nets` (which networks),
  :mod:`~hwnas.cost.latency.measured_nets` (timing them here), :mod:`~hwnas.cost.latency.calibration_fit` (the
  fits, with :mod:`~hwnas.cost.latency.overhead`, :mod:`~hwnas.cost.latency.graph_features` and
  :mod:`~hwnas.cost.latency.ridge`), :mod:`~hwnas.cost.latency.calibrate` (choosing the kind, storing the fit);
  :mod:`~hwnas.cost.latency.validate`: checking a table on other networks;
* :mod:`~hwnas.cost.latency.bundle` and :mod:`~hwnas.cost.latency.runner`: measuring on another device.

This package imports nothing at import time: ``python -m hwnas.cost.latency.runner`` on a device without torch
passes through it and must not pull in the rest of hwnas.
"""
