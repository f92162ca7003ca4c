# Two entry points: `make demo` (main job on the default model) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.awrs-installed

.PHONY: install demo lint test test-native test-python bench clean

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.pyx)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build of torch first: a bare `torch` requirement would pull a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,plot,lint]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/awrs generate "Describe a fictional person as JSON." \
		--json-schema examples/person.schema.json --particles 4 --max-tokens 96 --seed 0

lint: install
	$(VENV)/bin/ruff check awrs bench tests
	$(VENV)/bin/ruff format --check awrs bench tests
	$(VENV)/bin/mypy

test: install test-native test-python

test-native: install
	$(VENV)/bin/pytest -q -p no:cacheprovider

test-python: install
	AWRS_NO_EXTENSIONS=1 $(VENV)/bin/pytest -q -p no:cacheprovider

bench: install
	$(VENV)/bin/awrs bench all --limit 5

clean:
	rm -rf build *.egg-info awrs/kernels/*.so csrc/*.c
