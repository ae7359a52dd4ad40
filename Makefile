# The lab's commands. Each target sets itself up in $(VENV) first.
#   make reproduce   set up, fetch the embedded models, build the miniatures' kits, run every notebook, write the report
#   make test        set up, run the test suite (what CI runs)
#   make test-browser  the notebooks in JupyterLab in headless Chromium (CI runs it after make test)
#   make lab         set up, start JupyterLab with the labkit kernel
#   make notebooks   sync each notebook's text source notebooks/NN_*.py into its .ipynb
# On a GPU node pick a CUDA build of torch, e.g.
#   make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"
PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
PROFILE    ?= default
OUT        ?= runs/$(PROFILE)
JOBS       ?= 1
TEST_JOBS  ?= 2
BIN         = $(VENV)/bin
STAMP       = $(VENV)/.labkit-installed

.PHONY: setup test test-browser reproduce lab notebooks bench clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, with a spec a GPU node can override, so that the unpinned
# `torch` in pyproject never pulls a CUDA build on a CPU machine.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[dev,lab]"
	$(BIN)/python -m ipykernel install --sys-prefix --name labkit --display-name "Python (labkit)" > /dev/null
	touch $@

# pytest-xdist: TEST_JOBS workers, a test file per worker (module fixtures such as the paper dry run are built
# once); 8.7 min on the 2-core machine against 12 without it (benchmarks/RESULTS.md).
# ruff first (lint, and the formatter's check; pyproject.toml configures both): seconds, and it names the line.
test: $(STAMP)
	$(BIN)/ruff check labkit tests benchmarks notebooks
	$(BIN)/ruff format --check labkit tests benchmarks notebooks
	$(BIN)/python -m pytest -q --timeout 900 -n $(TEST_JOBS) --dist loadfile tests

# Browser tests (tests/browser/): JupyterLab started from `make lab`'s command line, headless, driven through
# Python Playwright by the distribution's Chromium (installed here with apt-get when missing; no browser
# build is ever downloaded). Screenshots: $(BROWSER_OUT) (printed).
CHROMIUM    ?= /usr/bin/chromium
BROWSER_OUT ?= runs/browser
test-browser: $(STAMP) | $(CHROMIUM)
	LABKIT_BROWSER_TESTS=1 LABKIT_CHROMIUM=$(CHROMIUM) LABKIT_BROWSER_OUT=$(BROWSER_OUT) \
	$(BIN)/python -m pytest -q -s -p no:cacheprovider --timeout 600 tests/browser

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  echo "installing Debian's chromium (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	else \
	  echo "no browser at $(CHROMIUM): install the distribution's chromium (sudo apt-get install chromium)" \
	       "or pass CHROMIUM=/path/to/chromium"; exit 1; \
	fi

# set-up: the embedded models, then the miniatures' cached kits (03/04's task teacher, 06's teachers), each
# built once; then the notebooks, whose wall times are their own comparisons.
reproduce: $(STAMP)
	$(BIN)/labkit models fetch smollm2-135m-instruct gemma3-270m
	$(BIN)/labkit kits build --profile $(PROFILE)
	@$(BIN)/labkit reproduce --profile $(PROFILE) --out $(OUT) --jobs $(JOBS); status=$$?; \
	echo "report: $(OUT)/report.md (also report.html; one row per run in $(OUT)/results.csv)"; exit $$status

# --allow-root: Jupyter refuses to start as root without it (containers, some GPU nodes).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# The .py (jupytext percent) is each notebook's source; --update keeps the .ipynb's cell ids and outputs.
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb --update notebooks/[0-9][0-9]_*.py

# Speed/memory measurements (not tests); each prints a table and a RESULT line.
bench: $(STAMP)
	$(BIN)/python benchmarks/losses.py
	$(BIN)/python benchmarks/generation.py --quick
	$(BIN)/python benchmarks/train_throughput.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache
