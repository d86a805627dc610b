# hwnas: `make demo` and `make test` work on a fresh machine; everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HWNAS := $(VENV)/bin/hwnas
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: env data demo test test-all bench clean

# The virtual environment. torch is pinned to the CPU wheel our machines carry; an unpinned torch pulls GBs of CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

# Fashion-MNIST: use an installed copy if there is one, else the Debian package (as root), else download it.
data: $(STAMP)
	@$(HWNAS) data where fashion-mnist >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist); } \
	  || $(HWNAS) data fetch fashion-mnist
	@$(HWNAS) data where fashion-mnist

# The main job end to end on the default dataset (see README: what the demo does).
demo: $(STAMP) data
	$(HWNAS) run --preset quick --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q

# Everything, including the slow end-to-end checks behind the `slow` marker.
test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

bench: $(STAMP)
	$(PY) benchmarks/data_pipeline.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
