# kd-companion: `make book` builds the book, `make test` runs every test (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PROFILE ?= cpu
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
BUILD := _build
STAGE := $(BUILD)/book
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.py))
NAMES := $(notdir $(basename $(NOTEBOOKS)))
export PATH := $(BIN):$(PATH)

REPRODUCE := 13_reproducing_the_tables
SSE41 := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41
PAIRS ?= all
METHODS ?= all
SEEDS ?= 3

.PHONY: book test test-browser test-retraining env data browser notebooks pair regression-notebooks smoke-spread bench reproduce clean

## book: set up, execute the notebooks (from stored runs when present), build the HTML book
## (the pages under book/ that are notebooks, book/*.py, were executed there by `notebooks`: their
## sources are not copied, and nothing stale is left beside the executed copies)
book: env data notebooks
	rm -rf $(STAGE)/_build
	find $(STAGE)/book -mindepth 1 -maxdepth 1 \
	  $(foreach page,$(basename $(wildcard book/*.py)),! -name $(notdir $(page)).ipynb) -exec rm -rf {} +
	cp -r $(filter-out $(foreach page,$(basename $(wildcard book/*.py)),$(page).py $(page).ipynb),$(wildcard book/*)) \
	  $(STAGE)/book/
	cp -r _toc.yml $(STAGE)/ && $(BIN)/python .ci/book_config.py _config.yml $(STAGE)/_config.yml
	jupyter-book build -W --keep-going $(STAGE)
	@echo "book: $(abspath $(STAGE))/_build/html/index.html"

## test: set up, build the book, then the whole suite: unit tests, nbval of the chapters rebuilt from
## stored runs (exact), the chapters retrained at smoke scale (within measured bands), the prose and
## workflow checks, and the built book's pages (tests/test_built_book.py; a few in a browser)
test: env data browser book
	$(BIN)/python -m pytest

## test-browser: every page of the built book rendered in a headless Chromium with no network
test-browser: env browser book
	KDSRC_BROWSER_PAGES=all $(BIN)/python -m pytest tests/test_built_book.py -k browser

## browser: Debian's chromium for the built-book tests, when apt-get is usable and none is found
browser:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
	    && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

## test-retraining: only the tests whose numbers come from training (RETRAINING narrows them with -k);
## .ci/run repeats them as another machine would compute them, e.g.
## OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 make test-retraining
## (torch.compile's code cache is kept per ATEN_CPU_CAPABILITY: its key leaves the variable out, and
## code generated for AVX-512 does not compile for the plain kernels)
RETRAINING ?=
test-retraining: env data
	TORCHINDUCTOR_CACHE_DIR=$(abspath $(BUILD))/inductor-$(or $(ATEN_CPU_CAPABILITY),native) \
	  $(BIN)/python -m pytest tests/test_smoke_chapters.py tests/unit/test_fast_path.py $(if $(RETRAINING),-k "$(RETRAINING)")

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PINS)
	$(BIN)/pip install --quiet -e ".[book,test]"
	touch $@

## data: Fashion-MNIST from Debian's dataset-fashion-mnist when apt-get is usable and no copy is found
data:
	@if [ -z "$$KDSRC_DATA" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
	    && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	fi

## notebooks: execute every chapter with papermill into the staging tree (sources stay clean; the cell
## papermill injects is hidden, .ci/book_pages.py), then
## the pages of book/ that are notebooks (book/reproduce.py: it reports the chapters' stored runs)
notebooks: env
	@mkdir -p $(STAGE)/notebooks $(STAGE)/book $(BUILD)/src/book
	@set -e; for nb in $(NAMES); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$nb.ipynb notebooks/$$nb.py; \
	  echo "papermill $$nb (profile $(PROFILE))"; \
	  rm -f $(STAGE)/reads/$$nb.txt; KDSRC_READ_LOG=$(abspath $(STAGE))/reads/$$nb.txt \
	  papermill --no-progress-bar -k python3 -p profile $(PROFILE) \
	    $(BUILD)/src/$$nb.ipynb $(STAGE)/notebooks/$$nb.ipynb; \
	  $(BIN)/python .ci/book_pages.py $(STAGE)/notebooks/$$nb.ipynb; \
	done
	@set -e; for page in $(basename $(wildcard book/*.py)); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$page.ipynb $$page.py; \
	  echo "papermill $$page (profile $(PROFILE))"; \
	  papermill --no-progress-bar -k python3 -p profile $(PROFILE) \
	    $(BUILD)/src/$$page.ipynb $(STAGE)/$$page.ipynb; \
	  $(BIN)/python .ci/book_pages.py $(STAGE)/$$page.ipynb; \
	done

## pair: regenerate the paired .ipynb files from the .py sources (the .py files are the truth)
pair: env
	jupytext --quiet --update --to ipynb $(NOTEBOOKS) $(wildcard book/*.py)

## regression-notebooks: re-record the references after an intended change of results: the cpu
## chapters' nbval copies (stored runs only, exact) and the smoke runs (trained anew, compared within
## measured bands by tests/test_smoke_chapters.py)
regression-notebooks: env
	@mkdir -p tests/notebooks/cpu $(BUILD)/src/book
	@set -e; for nb in $(NAMES); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$nb.ipynb notebooks/$$nb.py; \
	  papermill --no-progress-bar -k python3 -p profile cpu -p stored_only True \
	    $(BUILD)/src/$$nb.ipynb tests/notebooks/cpu/$$nb.ipynb; \
	done
	@set -e; for page in $(basename $(wildcard book/*.py)); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$page.ipynb $$page.py; \
	  papermill --no-progress-bar -k python3 -p profile cpu -p stored_only True \
	    $(BUILD)/src/$$page.ipynb tests/notebooks/cpu/$$(basename $$page).ipynb; \
	done
	KDSRC_RECORD_SMOKE=$(abspath tests/notebooks/smoke_runs.json) $(BIN)/python -m pytest -q tests/test_smoke_chapters.py

## smoke-spread: measure how far the smoke runs move between machine settings (about an hour on 2
## cores): the chapters at smoke scale under each setting (the plain kernels, several times slower,
## for Part I and II's first chapters), recorded under tests/notebooks/smoke_spread/, then the largest
## differences, which tests/test_smoke_chapters.py's bands are chosen from
SPREAD := tests/notebooks/smoke_spread
smoke-spread: env data
	@mkdir -p $(SPREAD)
	KDSRC_RECORD_SMOKE=$(abspath $(SPREAD))/native.json $(BIN)/python -m pytest -q tests/test_smoke_chapters.py
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 KDSRC_RECORD_SMOKE=$(abspath $(SPREAD))/avx2.json \
	  $(BIN)/python -m pytest -q tests/test_smoke_chapters.py
	OMP_NUM_THREADS=1 $(SSE41) KDSRC_RECORD_SMOKE=$(abspath $(SPREAD))/sse41-1-thread.json \
	  $(BIN)/python -m pytest -q tests/test_smoke_chapters.py -k "01_ or 02_ or 03_ or 04_ or 05_ or 06_"
	$(BIN)/python tests/smoke_spread.py $(SPREAD)/*.json > tests/notebooks/smoke_spread.json

## reproduce: train the CRD paper's CIFAR-100 tables (paper profile, a GPU) by executing chapter 13 with
## papermill, e.g. make reproduce DATA_ROOT=/data/cifar PAIRS=table1 METHODS=vanilla,kd SEEDS=3
ifneq ($(filter reproduce,$(MAKECMDGOALS)),)
ifeq ($(DATA_ROOT),)
$(error reproduce: set DATA_ROOT to a torchvision root holding cifar-100-python/, e.g. make reproduce DATA_ROOT=/data/cifar)
endif
ifeq ($(wildcard $(DATA_ROOT)/cifar-100-python/train),)
$(error reproduce: DATA_ROOT=$(DATA_ROOT) holds no cifar-100-python/train (a torchvision root is needed))
endif
endif
reproduce: env
	@mkdir -p $(STAGE)/notebooks $(BUILD)/src
	jupytext --quiet --to ipynb -o $(BUILD)/src/$(REPRODUCE).ipynb notebooks/$(REPRODUCE).py
	papermill --no-progress-bar -k python3 -p train True -p data_root "$(abspath $(DATA_ROOT))" \
	  -p pairs "$(PAIRS)" -p methods "$(METHODS)" -p seeds $(SEEDS) \
	  $(BUILD)/src/$(REPRODUCE).ipynb $(STAGE)/notebooks/$(REPRODUCE).ipynb
	@echo "reproduce: $(abspath $(STAGE))/notebooks/$(REPRODUCE).ipynb (make book renders it with the stored runs)"

## bench: images/s of KD in our loop and in a RepDistiller-style loop, side by side
bench: env data
	$(BIN)/python -m kdsrc bench

clean:
	rm -rf $(BUILD)
