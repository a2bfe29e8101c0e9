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
# # FitNets: hints from a hidden layer
#
# Vanilla KD transfers only what the teacher *outputs*. Romero et al. {cite}`romero2015fitnets`
# asked the student to also reproduce what the teacher computes *inside*: the output of one of
# its middle layers, the **hint**. The student's matching layer, the **guided layer**, usually
# has fewer channels (and may have another resolution), so a small trainable **regressor** maps
# it onto the hint's shape, and the student minimises
#
# $$
# \mathcal{L}_{\text{hint}} = \tfrac{1}{2}\,\big\| u_h(x) - r\big(v_g(x)\big) \big\|^2 ,
# $$
#
# with $u_h$ the teacher up to the hint layer, $v_g$ the student up to the guided layer and $r$
# the regressor (a convolution followed by the hint layer's own non-linearity).
#
# **Paper and official code differ.** The paper trains in two stages: first the student up to
# the guided layer and the regressor on the hint loss alone, then the whole student with KD.
# The CRD benchmark's code (RepDistiller), whose numbers every later paper cites as "FitNet",
# trains in a single stage: `CE + 100 · MSE(regressor(student stage 2), teacher stage 2)` for the
# whole schedule, with a regressor of conv + BN + ReLU (`kdsrc.distillers.connectors.conv_regressor`).
# We implement the official single-stage form (`kdsrc.distillers.fitnets`); the loss keeps the
# paper's ½‖·‖² as `hint_loss(..., form="paper")`, and the paper's two-stage schedule is an
# option: `init_epochs=N` first trains the student up to its guided layer and the regressor on
# the hint loss alone for N epochs, and `hint_weight=0, kd_weight=..., temperature=...` makes the
# second stage KD, e.g. `make_config("fitnets", init_epochs=2, hint_weight=0, ce_weight=0.1,
# kd_weight=0.9)`. The guided layer can also differ from the hint layer (`guided_layer`), as in
# the paper, where the student is deeper than the teacher; {doc}`07_ild_in_practice` uses it.
# The book's stored runs use the official form.

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
fitnets_cfg = make_config("fitnets", profile)

# %% [markdown]
# ## What the student has to match
#
# With the defaults the hint is the teacher's stage-2 output and the guided layer is the
# student's stage-2 output; the regressor's size and cost are part of the method.

# %%
teacher = experiment.run(fitnets_cfg.teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
distilled = experiment.run_seeds(make_config("kd", profile), seeds)
fitnets = experiment.run_seeds(fitnets_cfg, seeds)
print(f"hint layer: stage {fitnets_cfg.method_params['hint_layer']}, "
      f"hint weight {fitnets_cfg.method_params['hint_weight']}, "
      f"regressor parameters: {fitnets[0]['extra_parameters']} (student: {fitnets[0]['parameters']})")

# %% [markdown]
# The two terms of the FitNets loss during training (as weighted in the loss), mean over seeds:

# %%
plots.loss_curves({"FitNets": fitnets}, terms=("ce", "hint"));

# %% [markdown]
# ## Results
#
# Last- and best-epoch test accuracy, mean ± std over seeds, beside the student alone and
# vanilla KD from the previous chapter (the same stored runs).

# %%
# NBVAL_CHECK_OUTPUT
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled,
                               "student + FitNets": fitnets})
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% [markdown]
# What it costs: training seconds per epoch (mean over seeds); the regressor's size is printed above.
# Unlike KD, FitNets needs the teacher's hidden features, so its logits cache cannot help: the
# teacher runs on every batch.

# %%
results.cost(frame)

# %% [markdown]
# ## The papers' numbers
#
# Cited data from `results/reference/`. The CRD paper {cite}`tian2020contrastive` (CIFAR-100,
# last epoch) ran the single-stage official form; its FitNet rows are often *below* the
# student alone. The FitNets paper's own CIFAR numbers used a different (maxout) teacher and a
# deeper, thinner student trained in two stages.

# %%
cited = pd.concat([results.reference("kd"), results.reference("ild")])
results.cited_gains(cited[cited.paper.str.contains("CRD")], "fitnets")

# %%
cited[cited.paper.str.contains("Romero")][["paper", "table", "dataset", "teacher", "student", "method", "value", "verified"]]
