# iim developer commands. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export NO_ALBUMENTATIONS_UPDATE ?= 1
export WANDB_MODE ?= disabled

.DEFAULT_GOAL := help
.PHONY: help install train test test-slow test-all lint format bench gpu-check dist clean clean-logs

help: ## Show this list of targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv/ with iim installed editable plus its dev tools (pins from constraints.txt)

$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt -e ".[dev,serve]"
	touch $(STAMP)

train: install ## Run iim-train (the built-in demo by default; pass ARGS="+experiment=..." for more)
	$(BIN)/iim-train $(ARGS)

test: install ## Run the default (fast) test suite, one worker per core (pytest-xdist)
	$(BIN)/python -m pytest -n auto

test-slow: install ## Run only the slow tests
	$(BIN)/python -m pytest -m slow

test-all: install ## Run every test, slow ones included
	$(BIN)/python -m pytest -m "slow or not slow"

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests benchmarks scripts conf setup.py
	$(BIN)/ruff format --check src tests benchmarks scripts setup.py

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks scripts setup.py
	$(BIN)/ruff format src tests benchmarks scripts setup.py

bench: install ## Run every benchmark (prints each figure beside its baseline)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

gpu-check: install ## GPU throughput, memory, bf16 vs fp32 loss, iim-predict/iim-eval speed (ARGS="--cpu --quick" on a CPU)
	PYTHON=$(BIN)/python scripts/gpu_check.sh $(ARGS)

dist: install ## Build the wheel and sdist into dist/
	$(BIN)/python -m build --no-isolation

clean: ## Remove build artefacts and caches (keeps .venv)
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

clean-logs: ## Remove training outputs (logs/, outputs/, multirun/)
	rm -rf logs outputs multirun lightning_logs
