# Byline: `make run` serves the sample articles; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist): 0 runs the suite in this one process, which CI does. On a
# machine with cores to spare, `make test TEST_WORKERS=4` runs files side by side (each
# worker has its own databases: tests/conftest.py). On two cores it gains ~20% and makes
# the real-process timing tests flaky (docs/PERFORMANCE.md, "Test suite").
TEST_WORKERS ?= 0

.PHONY: install run test chromium lint fmt bench bench-writes contract clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Byline needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/byline migrate
	$(BIN)/byline import examples/
	$(BIN)/byline serve --host $(HOST) --port $(PORT)

test: install chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# tests/dashboard drive Debian's chromium through Playwright (which never downloads a
# browser): installed with apt-get when missing and allowed, else a clear message.
chromium:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
	  { echo "The dashboard tests need Debian's chromium: run 'sudo apt-get install chromium'."; exit 1; }

lint: install
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations
	$(BIN)/mypy app
	$(BIN)/hadolint Dockerfile

fmt: install
	$(BIN)/ruff check --fix app tests bench migrations
	$(BIN)/ruff format app tests bench migrations

# Every part runs even when an earlier one misses a target; the exit status says if any did.
bench: install
	@status=0; \
	$(BIN)/python -m bench.run $(BENCH_ARGS) || status=1; \
	$(BIN)/python -m bench.writes || status=1; \
	$(BIN)/python -m bench.webhooks || status=1; \
	$(BIN)/python -m bench.stats || status=1; \
	exit $$status

bench-writes: install
	$(BIN)/python -m bench.writes

contract: install
	$(BIN)/python -m tests.contract.snapshot --write

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
