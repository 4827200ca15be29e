# Two commands do all set-up on a fresh machine:
#   make demo   runs preflight against a real local stack (sandbox) and writes the reports into out/
#   make test   runs the whole test suite (ruff, mypy, pytest against real servers)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps node-deps demo test lint typecheck pytest bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,sandbox]'
	@# An editable install is not byte-compiled (a wheel install is), and with PYTHONDONTWRITEBYTECODE set every
	@# `preflight` process would compile ~100 modules again (~0.15 s of each start).
	$(BIN)/python -m compileall -q filot_preflight
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

# The real npm dotenv (tests/test_reader_conformance.py) and BullMQ 6.x/5.x (tests/test_gpu_worker_bullmq_node.py),
# pinned by tests/node/package-lock.json.
NODE_STAMP := tests/node/node_modules/.installed
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node-deps: system-deps $(NODE_STAMP)

demo: setup system-deps
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

lint: setup
	$(BIN)/ruff check filot_preflight tests bench

typecheck: setup
	$(BIN)/mypy filot_preflight

pytest: setup system-deps node-deps
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: setup system-deps
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

docs: setup
	$(BIN)/python docs/gen_cli.py

clean:
	rm -rf $(VENV) out .sandbox .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
