# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   install, then run the demo
#   make test   install, then run the formatter check, the linter, the type checker and the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python bench/make_jobs.py --demo jobs/generated
	$(BIN)/bulkpatch validate jobs/generated/reschedule-next-week.csv
	rm -f jobs/generated/reschedule-next-week.csv.journal
	$(BIN)/bulkpatch run jobs/generated/reschedule-next-week.csv --sandbox --max-rate 8 --log-format console
	$(BIN)/bulkpatch status jobs/generated/reschedule-next-week.csv.journal
	$(BIN)/bulkpatch export jobs/generated/reschedule-next-week.csv.journal -o jobs/generated/results.csv
	head -4 jobs/generated/results.csv

lint: $(STAMP)
	$(BIN)/ruff format --check bulkpatch tests bench
	$(BIN)/ruff check bulkpatch tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
