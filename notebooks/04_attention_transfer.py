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
# # Attention transfer: where the teacher looks
#
# Zagoruyko and Komodakis {cite}`zagoruyko2017attention` transfer less than FitNets does: not a
# whole feature map, only *where* it is active. For a stage output $F$ with $C$ channels, the
# activation-based **attention map** is the channel mean of $|F|^p$, a single $H \times W$
# image, flattened and normalised to unit length per example:
#
# $$
# Q = \frac{\operatorname{vec}\big(\tfrac{1}{C}\sum_c |F_c|^p\big)}{\big\|\operatorname{vec}\big(\tfrac{1}{C}\sum_c |F_c|^p\big)\big\|_2},
# \qquad
# \mathcal{L}_{\text{AT}} = \frac{\beta}{2}\sum_{j} \big\| Q_S^{j} - Q_T^{j} \big\|_2 .
# $$
#
# Because only a map per stage is matched, teacher and student may have different channel
# counts, and no connector is needed; maps of different size are average-pooled to the
# smaller one. **Paper and official code differ** in the distance: the official code (and
# RepDistiller) uses the *mean squared* difference of the normalised maps, with $\beta = 1000$
# on the sum over the stages, which is what the paper's "β divided by the number of elements in
# the attention map and batch size" amounts to. We implement the official form
# (`kdsrc.losses.at_loss`); the paper's norm is `form="paper"`. Defaults: $p = 2$, the three
# stage outputs, cross-entropy weight 1 (`kdsrc.distillers.at`).

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
at_cfg = make_config("at", profile)
data = experiment.dataset_for(at_cfg)

# %% [markdown]
# ## What is transferred
#
# Attention maps of the trained teacher and of the student trained alone, for the first test
# image, at the three stages. AT pulls the student's maps towards the teacher's.

# %%
teacher = experiment.run(at_cfg.teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
image = data.test.images[:1]
networks = {"teacher": experiment.load_weights(at_cfg.teacher_config()),
            "student alone": experiment.load_weights(make_config("vanilla", profile))}
plots.attention_maps({name: experiment.predict_features(net, image, data) for name, net in networks.items()},
                     image[0]);

# %% [markdown]
# ## Results

# %%
distilled = experiment.run_seeds(make_config("kd", profile), seeds)
transferred = experiment.run_seeds(at_cfg, seeds)
plots.loss_curves({"AT": transferred}, terms=("ce", "at"));

# %%
# NBVAL_CHECK_OUTPUT
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled,
                               "student + AT": transferred})
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% [markdown]
# What it costs: training seconds per epoch (mean over seeds). AT adds no parameters, but it
# needs the teacher's stage outputs on every batch.

# %%
results.cost(frame)

# %% [markdown]
# ## The papers' numbers
#
# Cited data. The CRD paper {cite}`tian2020contrastive` (CIFAR-100 top-1, last epoch):

# %%
cited = pd.concat([results.reference("kd"), results.reference("ild")])
results.cited_gains(cited[cited.paper.str.contains("CRD")], "at")

# %% [markdown]
# The AT paper's own Table 1 (CIFAR-10 test **error**, %, median of 5 runs), read from the paper:

# %%
at_paper = cited[cited.paper.str.contains("Zagoruyko")].rename(columns={"teacher": "teacher net", "student": "student net"})
at_paper.pivot_table(index=["teacher net", "student net"], columns="method", values="value", sort=False)[
    ["student", "at", "kd", "at_kd", "teacher"]].reset_index()
