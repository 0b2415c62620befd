# BoundLab: `make test` and `make reports` set the environment up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FIDELITY ?= standard
WORKERS ?= 2
CALIBRATION_SEEDS ?= 1000
# The default results store: `make reports` and `make readme` reuse every finished unit (and the calibration
# table) from earlier runs, so a second run with nothing changed only decides and draws.
STORE ?= .boundlab/results.db

.PHONY: setup test reports readme notebooks bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(PY) -m ruff check .

test: setup lint
	$(PY) -m pytest -n $(WORKERS) --dist loadfile -q

reports: setup
	$(VENV)/bin/boundlab report --fidelity $(FIDELITY) --executor processes --workers $(WORKERS) --calibration-seeds $(CALIBRATION_SEEDS) --store $(STORE) -o reports

readme: setup
	$(PY) -m boundlab.readme --store $(STORE) --calibration-seeds $(CALIBRATION_SEEDS)

notebooks: setup
	$(PY) -m pytest -q tests/test_notebooks.py

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf .boundlab reports/*.pdf reports/*.png .pytest_cache .ruff_cache dask-worker-space
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
