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
# # FSP: how the teacher gets from one layer to the next
#
# FitNets and attention transfer ask the student to reproduce the teacher's features at some
# layer. Yim et al. {cite}`yim2017gift` argue that what makes a trained network good is less
# *what* a layer holds than *how* the network transforms it on the way to the next layer: the
# "flow of the solution procedure". They summarise that flow between two layers by a Gram-like
# matrix, the **FSP matrix**. For a first map $F^1$ with $m$ channels and a last map $F^2$ with
# $n$ channels of the same spatial size $h \times w$,
#
# $$
# G_{ij}(x) = \frac{1}{h\,w}\sum_{s=1}^{h}\sum_{t=1}^{w} F^1_{s,t,i}(x)\,F^2_{s,t,j}(x),
# \qquad
# \mathcal{L}_{\text{FSP}} = \frac{1}{N}\sum_x \sum_{k} \lambda_k\,\big\|G_k^{T}(x) - G_k^{S}(x)\big\|_2^2 ,
# $$
#
# an $m \times n$ matrix per example and per layer pair $k$ (the input and the output of each
# residual stage). The student matches the teacher's matrices, not its features: the two
# networks may differ in depth, but **they must have the same channel counts at every tap**,
# because the matrices must have the same shape. No connector is used, so FSP refuses pairs
# such as wrn_40_2 → wrn_40_1, as in the CRD paper's tables {cite}`tian2020contrastive`.
#
# **Two stages.** The paper first trains the student's feature layers on the FSP loss alone,
# then trains the whole student on the task (cross-entropy). RepDistiller does the same with a
# first stage of 30 epochs at the base learning rate (no decay) before its 240-epoch main
# training. **Paper and official code differ** in two details: the official code takes the
# *mean* squared difference of the matrices (the paper sums over elements and weighs pairs
# equally), and it average-pools the larger map where sizes differ (the paper max-pools). We
# implement the official form (`kdsrc.losses.fsp_loss`, `kdsrc.distillers.fsp`); the paper's
# are `form="paper"` and `pool="max"`. The cpu profile keeps the first stage at 2 epochs before
# its 10 main epochs, about RepDistiller's share (30 of 240), so the first stage adds 20 % to
# the main training's epochs ({doc}`../book/reproduce`).

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
fsp_cfg = make_config("fsp", profile)
data = experiment.dataset_for(fsp_cfg)

# %% [markdown]
# ## What is transferred
#
# The teacher's FSP matrices for its three stages, averaged over 256 test images, beside those
# of the student trained alone. Rows are the channels of the stage's input, columns those of
# its output. The two networks have the same widths, so the matrices have the same shape, but
# an independently trained student orders and uses its channels differently: its matrices
# share little with the teacher's. The first stage of FSP makes the student's matrices
# reproduce the teacher's.

# %%
teacher = experiment.run(fsp_cfg.teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
images = data.test.images[:256]
networks = {"teacher": experiment.load_weights(fsp_cfg.teacher_config()),
            "student alone": experiment.load_weights(make_config("vanilla", profile))}
plots.fsp_matrices({name: experiment.predict_features(net, images, data) for name, net in networks.items()});

# %% [markdown]
# ## Results

# %%
distilled = experiment.run_seeds(make_config("kd", profile), seeds)
fsp = experiment.run_seeds(fsp_cfg, seeds)
print(f"first stage: {fsp_cfg.method_params['init_epochs']} epochs on the FSP loss, "
      f"then {fsp_cfg.epochs} epochs of cross-entropy")

# %% [markdown]
# The FSP loss during the first stage, per epoch and seed (it falls quickly: the matrices are
# low-dimensional summaries, easy to match):

# %%
# NBVAL_CHECK_OUTPUT
results.first_stage_table(fsp).round(3)

# %%
# NBVAL_CHECK_OUTPUT
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled,
                               "student + FSP": fsp})
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% [markdown]
# At our scale FSP leaves the student where it was: the paired gain is well inside the spread
# between seeds. The first stage makes the student's matrices much closer to the teacher's
# (the loss falls), but what it transfers, the channel-to-channel correlations of each stage,
# is then free to drift during the ten cross-entropy epochs that follow, and nothing in the
# second stage refers to the teacher any more. The CRD paper's FSP gains on CIFAR-100 (below)
# are of the same size: between −0.4 and +1.1 points.
#
# What it costs. The main stage of FSP is plain cross-entropy, as cheap as the student alone;
# the price is the first stage, whose epochs run the teacher on every batch. Seconds per epoch
# (mean over seeds) of the main training, then of the first stage:

# %%
cost = results.cost(frame)
cost["first stage s/epoch"] = pd.Series({"student + FSP": results.first_stage_seconds(fsp)})
cost.round(2)

# %% [markdown]
# ## The papers' numbers
#
# Cited data. The CRD paper {cite}`tian2020contrastive` (CIFAR-100 top-1, last epoch); FSP is
# missing where the channel counts differ (wrn_40_2 → wrn_40_1, and every pair of Table 2):

# %%
cited = pd.concat([results.reference("kd"), results.reference("ild")])
results.cited_gains(cited[cited.paper.str.contains("CRD")], "fsp")

# %% [markdown]
# The FSP paper's own tables (its ResNets, trained for fewer epochs than the CRD recipe):

# %%
cited[cited.paper.str.contains("Yim")][["paper", "table", "dataset", "teacher", "student", "method", "value", "verified"]]
