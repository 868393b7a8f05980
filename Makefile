# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   install, then run the demo
#   make test   install, then run the formatter check, the linter, the type checker and the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint clean bench bench-peers examples

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/walkthrough.py

lint: $(STAMP)
	$(BIN)/ruff format --check bulkpatch tests bench demo docs
	$(BIN)/ruff check bulkpatch tests bench demo docs
	$(BIN)/mypy

# Two workers: CI has two cores, and the suite spends half its time waiting on sandboxes and
# subprocesses. Every test has its own tmp_path, state directory and 127.0.0.1 port.
test: lint
	$(BIN)/pytest -n 2

# By hand (about 40 seconds): run every command the README shows, against sandboxes on
# 127.0.0.1, and write their real output between the README's docs/make_examples.py markers.
examples: $(STAMP)
	$(BIN)/python docs/make_examples.py

# Bench only, by hand (about 85 minutes): the targets of issue 14, validation of a million
# rows, then the limit found without --max-rate, every scenario three times; each script
# writes its figures into docs/benchmarks.md and the README's Performance section.
bench: $(STAMP)
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/limit_bench.py

# Bench only, by hand: the peers bulkpatch is compared with live in their own venv.
.venv-bench/.installed: bench/peers/requirements.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -r bench/peers/requirements.txt
	touch .venv-bench/.installed

bench-peers: $(STAMP) .venv-bench/.installed
	$(BIN)/python bench/peers/compare.py

clean:
	rm -rf $(VENV) .venv-bench .mypy_cache .pytest_cache .ruff_cache
