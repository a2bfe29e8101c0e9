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
# # Every method side by side
#
# The book's methods on one pair and one protocol: what each gives, what it costs, and what
# the papers report for it on CIFAR-100. Every row is the method's default in this book (the
# official code's form, at the profile's scale); the chapters hold the ablations, and the best
# variant each of them found is listed after the main table.

# %% tags=["parameters"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every method
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import pandas as pd

from kdsrc import experiment, plots, results
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
methods = {"student alone": "vanilla", "KD": "kd", "FitNets": "fitnets", "AT": "at", "FSP": "fsp",
           "AB": "ab", "SRRL": "srrl", "DHKD": "dhkd", "CE + BinaryKL, one head": "ce_binary_kl"}
# the single-head runs also measured their two gradients (instrumentation, not part of the method)
measured = {"ce_binary_kl": dict(measure_gradients=True)}
runs = {name: experiment.run_seeds(make_config(method, profile, **measured.get(method, {})), seeds)
        for name, method in methods.items()}
teacher = experiment.run(make_config("kd", profile).teacher_config())

# %% [markdown]
# ## Accuracy, cost and size
#
# Last- and best-epoch test accuracy (mean ± std over seeds); the paired gain over the student
# alone (the difference between runs of the same seed, mean ± std); the time of a training
# epoch relative to the student alone and the peak memory the training adds, both from the
# controlled benchmark (`python -m kdsrc bench --costs`: every method in a fresh process on
# an otherwise idle machine); the first stage of FSP and AB, with its own epoch-time ratio;
# and the trainable parameters each method adds to the student (connectors and auxiliary
# heads, all dropped after training). The teacher is the same for every method:

# %%
# NBVAL_CHECK_OUTPUT
print(f"teacher {teacher['config']['model']}: {teacher['last_test_acc']:.2f} % test accuracy")
summary = results.method_summary(runs, experiment.method_costs(profile), methods)

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
# (hidden in the book) the regression test's view of the summary: every column but the measured costs
summary[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "first-stage epochs", "extra parameters"]]

# %%
summary.drop(columns=["last_mean", "last_std"])

# %% [markdown]
# Accuracy against training cost (mean and ± std over seeds; the cost of a first stage is
# not included):

# %%
plots.accuracy_vs_cost(summary, x="epoch time × alone");

# %% [markdown]
# Three methods stand out at this scale, and all three work at or next to the logits: SRRL
# (whose softmax regression compares logits through the teacher's classifier), KD and DHKD
# each gain between 3.3 and 4 points over the student alone, within about one seed spread of
# each other. KD and DHKD cost what the student alone costs, because the teacher's logits are
# cached (DHKD adds a 650-parameter head that is dropped after training); SRRL needs the
# teacher's last feature map on every batch, at about 1.8 times the epoch. FitNets comes next,
# at the teacher's cost too. Attention transfer gains under a point and FSP nothing
# measurable, and AB's official recipe is far below the student alone after 10 epochs
# (chapter 6 explains why).
# The single-head CE + BinaryKL, the combination DHKD was designed to avoid, trains normally
# here, a little below DHKD (chapter 9).

# %% [markdown]
# ## The best variant each chapter found
#
# The defaults above follow the official code; the chapters' ablations found settings that
# do better on this pair (DHKD's official refinements did not, and are listed for that). Chosen
# by looking at the test set, so read these as what the ablations showed, not as tuned results.
# FitNets with the hint at the last stage is the best result of the book.

# %%
best = {"FitNets, stage-3 hint (ch. 7)": make_config("fitnets", profile, hint_layer=3),
        "AB, RepDistiller's recipe (ch. 6)": make_config("ab", profile, ce_weight=1.0, kd_weight=0.0),
        "SRRL, softmax regression only (ch. 8)": make_config("srrl", profile, fm_weight=0.0),
        "DHKD, nonlinear head + GA (ch. 9)": make_config("dhkd", profile, aux_head="nonlinear", grad_align=True)}
best_runs = {"student alone": runs["student alone"], **{name: experiment.run_seeds(cfg, seeds) for name, cfg in best.items()}}

# %%
# NBVAL_CHECK_OUTPUT
best_frame, best_table = results.compare(best_runs)
best_table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% [markdown]
# ## What the papers report
#
# The gain over the student alone in the cited CIFAR-100 tables, summarised over each table's
# teacher-student pairs (mean, smallest and largest, number of pairs). These are the papers'
# numbers, with their sources, never ours; the chapters show them pair by pair.

# %%
cited = pd.concat([results.reference(name) for name in ("kd", "ild", "srrl", "dhkd")])
results.cited_gain_summary(cited[cited.dataset == "cifar100"], list(methods.values())[1:])

# %% [markdown]
# The papers' tables and ours agree on the ordering more than on the sizes. In CRD's
# same-architecture table, KD gains more on average than FitNets, AT, FSP or AB, as in our
# runs; the SimKD authors' re-run puts SRRL ahead of KD, FitNets and AT on its three pairs,
# and SRRL is ahead of KD in ours too, by less than the seed spread. AB is the exception that
# proves the protocol matters: CRD trains it with RepDistiller's recipe (cross-entropy kept),
# which is the variant listed above, not the official one of our main table. No DHKD number
# from the paper could be read (chapter 9).
