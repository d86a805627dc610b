"""The library entry points that ``hwnas train | eval | export`` and ``hwnas run`` call, one module each.

- :mod:`~hwnas.workflows.run_dir`: a training run directory (``arch.json``, ``run.json``, checkpoints): write it,
  read it back, load the trained network;
- :mod:`~hwnas.workflows.train`: train one architecture from scratch on one dataset;
- :mod:`~hwnas.workflows.evaluate`: its test accuracy;
- :mod:`~hwnas.workflows.export`: ONNX / TorchScript export, checked against PyTorch;
- :mod:`~hwnas.workflows.quantize`: static int8 ONNX, timed and evaluated beside the fp32 export.

Nothing is imported here, so that importing one workflow does not import the others.
"""
