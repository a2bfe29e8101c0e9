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
PAIRS ?= all
METHODS ?= all
SEEDS ?= 3

.PHONY: book test env data notebooks pair regression-notebooks bench reproduce clean

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

## test: set up, then the whole suite (unit tests + nbval regression of the notebooks)
test: env data
	$(BIN)/python -m pytest

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

## notebooks: execute every chapter with papermill into the staging tree (sources stay clean), then
## the pages of book/ that are notebooks (book/reproduce.py: it reports the chapters' stored runs)
notebooks: env
	@mkdir -p $(STAGE)/notebooks $(STAGE)/book $(BUILD)/src/book
	@set -e; for nb in $(NAMES); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$nb.ipynb notebooks/$$nb.py; \
	  echo "papermill $$nb (profile $(PROFILE))"; \
	  papermill --no-progress-bar -k python3 -p profile $(PROFILE) \
	    $(BUILD)/src/$$nb.ipynb $(STAGE)/notebooks/$$nb.ipynb; \
	done
	@set -e; for page in $(basename $(wildcard book/*.py)); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$page.ipynb $$page.py; \
	  echo "papermill $$page (profile $(PROFILE))"; \
	  papermill --no-progress-bar -k python3 -p profile $(PROFILE) \
	    $(BUILD)/src/$$page.ipynb $(STAGE)/$$page.ipynb; \
	done

## pair: regenerate the paired .ipynb files from the .py sources (the .py files are the truth)
pair: env
	jupytext --quiet --update --to ipynb $(NOTEBOOKS)

## regression-notebooks: re-record the nbval references (smoke: trains anew; cpu: stored runs only)
regression-notebooks: env
	@mkdir -p tests/notebooks/smoke tests/notebooks/cpu $(BUILD)/src
	@set -e; for nb in $(NAMES); do \
	  jupytext --quiet --to ipynb -o $(BUILD)/src/$$nb.ipynb notebooks/$$nb.py; \
	  papermill --no-progress-bar -k python3 -f tests/notebooks/smoke.yaml -p fresh_results True \
	    $(BUILD)/src/$$nb.ipynb tests/notebooks/smoke/$$nb.ipynb; \
	  papermill --no-progress-bar -k python3 -p profile cpu -p stored_only True \
	    $(BUILD)/src/$$nb.ipynb tests/notebooks/cpu/$$nb.ipynb; \
	done

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
