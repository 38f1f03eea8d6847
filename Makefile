# meterops — the two commands a new user needs are `make demo` and `make test`.
# Both create the virtual environment and install everything on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
comma := ,
PURE_DOCTESTS := src/meterops/errors.py src/meterops/nomenclature.py src/meterops/timeutil.py \
	src/meterops/kit src/meterops/vee src/meterops/ingest/formats \
	src/meterops/assets/lifecycle.py src/meterops/assets/registers.py \
	src/meterops/assets/programs.py src/meterops/fleet/parse.py \
	src/meterops/simulator src/meterops/headend/protocol.py \
	src/meterops/reads/_lake.py src/meterops/reads/store.py src/meterops/reads/_current.py \
	src/meterops/reads/batches.py \
	src/meterops/auth/passwords.py src/meterops/auth/throttle.py src/meterops/auth/tokens.py \
	src/meterops/meter_shop/accuracy.py src/meterops/meter_shop/testfiles.py \
	src/meterops/meter_shop/sampling.py src/meterops/workorders/lifecycle.py \
	src/meterops/workorders/types.py src/meterops/dispatch/problem.py src/meterops/scale \
	src/meterops/diagnostics/detect src/meterops/diagnostics/rules.py \
	src/meterops/diagnostics/cohorts.py src/meterops/diagnostics/scoring.py \
	src/meterops/commands/policy.py src/meterops/outages/inference.py \
	src/meterops/field/checklist.py src/meterops/field/photos.py src/meterops/auth/totp.py src/meterops/web/ui/charts.py src/meterops/web/ui/cohort_chart.py \
	src/meterops/determinants/calendar.py src/meterops/determinants/engine.py \
	src/meterops/determinants/frames.py src/meterops/determinants/runner.py \
	src/meterops/determinants/compare.py src/meterops/billing/weather.py \
	src/meterops/billing/normalize.py src/meterops/billing/usage.py src/meterops/billing/checks.py

.PHONY: venv demo serve test pytest lint format bench bench-quick clean help

help:
	@echo "make demo    build a simulated utility and start the web app on 127.0.0.1"
	@echo "make test    lint (ruff, mypy, import contracts) and run the whole test suite"
	@echo "make bench   measure throughput and quality figures (QUICK=1 for a smoke run)"
	@echo "make lint    ruff, mypy and import-linter only"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/meterops demo

serve: venv
	$(BIN)/meterops serve

lint: venv
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

pytest: venv
	$(BIN)/pytest tests $(PURE_DOCTESTS) --doctest-modules $(PYTEST_ARGS)

test: lint pytest

bench: venv
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick) $(subst $(comma), ,$(AREAS))

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
