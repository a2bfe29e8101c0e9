# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where every number comes from
#
# Every number of ours in this book is read from a stored run. This page is the book's answer to
# "which run, trained how, where?". It is generated when the book builds: while `make book`
# executes each page, every stored run the page reads is noted in that page's read log, and this
# page reads the logs back. For every page it lists how many runs it read, their seeds, the
# training revision they were trained at (the number that changes whenever training itself
# changes, so that runs of different code are never mixed up), how many code versions trained
# them and whether any had uncommitted changes, the hardware and PyTorch version, the training
# time (the wall time of the sessions that trained the runs, summed), and the command that trains
# every one of them again, in a temporary folder, leaving the stored runs alone.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # the profile whose runs the report lists (the book's: cpu)
read_logs = None  # the folder of the pages' read logs (default: where `make book` writes them)

# %% tags=["hide-input"]
from kdsrc import report, results

reads = report.page_reads(read_logs, profile)
provenance = report.provenance_table(reads)
results.show(provenance[["page", "runs", "seeds", "training revision", "code versions", "training hours"]])

# %% [markdown]
# A run that several pages read (the teacher, the student alone) is counted on each of them and
# once in the last row. Where the runs were trained, with which PyTorch, and the command that
# trains a page's runs again (run from the repository's root, after `make book` has created the
# environment: `.venv/bin/papermill`; a reader who wants only one configuration can train it with
# `python -m kdsrc train` and the settings the run's record holds):

# %% tags=["hide-input"]
results.show(provenance[["page", "hardware", "PyTorch", "retrain"]])
#
# Every run, page by page (open the cell to see the list):

# %% tags=["hide-input", "hide-output"]
results.show(report.run_table(reads))

# %% [markdown]
# Each run's full record, with its configuration, its per-epoch curves, the exact library
# versions and the numerics it was trained with, is the JSON file under `results/runs/` named by
# the method, the network, the seed and the run id above.
