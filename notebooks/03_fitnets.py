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

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every method
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
from kdsrc import examples, experiment, losses, plots, prose, results
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
fitnets_cfg = make_config("fitnets", profile)

# %% [markdown]
# ## The hint loss
#
# The loss as `kdsrc.losses` computes it, on the regressor's output and the hint, then both of
# its forms on two fixed feature maps of $8$ channels of $4$ by $4$ (`kdsrc.examples`: the
# same float64 numbers on every machine). They differ by a constant factor, half the number of
# elements per example ($8 \cdot 4 \cdot 4 / 2 = 64$): the same minimum, and a gradient that the
# hint weight rescales.

# %%
prose.source(losses.hint_loss)

# %% tags=["nbval-check-output"]
regressed, hint = examples.feature_map(4, 8, 4, seed=0), examples.feature_map(4, 8, 4, seed=1)
official, paper = losses.hint_loss(regressed, hint), losses.hint_loss(regressed, hint, form="paper")
print(f"hint_loss official = {official.item():.6g}, paper = {paper.item():.6g}, "
      f"ratio = {(paper / official).item():.6g}")
print(f"hint_loss of the hint itself = {losses.hint_loss(hint, hint).item():.6g}")

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

# %% tags=["nbval-check-output"]
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled,
                               "student + FitNets": fitnets})
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
wide = frame.pivot(index="seed", columns="run", values="last_acc")
fitnets_gains = wide["student + FitNets"] - wide["student alone"]
kd_gains = wide["student + KD"] - wide["student alone"]
prose.glue(fitnets_acc=wide["student + FitNets"].mean(), fitnets_gain=fitnets_gains.mean(),
           fitnets_gain_std=fitnets_gains.std(), kd_gain=kd_gains.mean(), kd_gain_std=kd_gains.std(),
           fitnets_vs_kd="below" if fitnets_gains.mean() < kd_gains.mean() else "above",
           seeds_below_kd=int((fitnets_gains < kd_gains).sum()), seeds_run=len(fitnets_gains))

# %% [markdown]
# FitNets ends at {glue:text}`fitnets_acc:.2f` %, a paired gain of {glue:text}`fitnets_gain:+.2f`
# ± {glue:text}`fitnets_gain_std:.2f` points over the student alone: {glue:text}`fitnets_vs_kd`
# KD's {glue:text}`kd_gain:+.2f` ± {glue:text}`kd_gain_std:.2f`, and below KD in
# {glue:text}`seeds_below_kd:d` of the {glue:text}`seeds_run:d` seeds.

# %% [markdown]
# What it costs: training seconds per epoch (mean over seeds); the regressor's size is printed above.
# Unlike KD, FitNets needs the teacher's hidden features, so its logits cache cannot help: the
# teacher runs on every batch. In the stored runs a FitNets epoch took
# {glue:text}`fitnets_cost_ratio:.2f` times an epoch of the student alone, a KD epoch
# {glue:text}`kd_cost_ratio:.2f` times.

# %%
cost = results.cost(frame)
prose.glue(fitnets_cost_ratio=cost.loc["student + FitNets", "ratio to alone"],
           kd_cost_ratio=cost.loc["student + KD", "ratio to alone"])
results.show(cost)

# %% [markdown]
# ## The papers' numbers
#
# Cited data from `results/reference/`. The CRD paper {cite}`tian2020contrastive` (CIFAR-100,
# last epoch) ran the single-stage official form; its FitNet gains over the student alone
# range from {glue:text}`crd_fitnets_gain_min:+.2f` to {glue:text}`crd_fitnets_gain_max:+.2f`
# points: in {glue:text}`crd_fitnets_below:d` of its {glue:text}`crd_pairs:d` pairs FitNets ends
# *below* the student alone, and in {glue:text}`crd_fitnets_over_kd:d` it beats KD. The FitNets
# paper's own CIFAR numbers used a different (maxout) teacher and a deeper, thinner student
# trained in two stages.

# %%
crd_cited = results.crd_reference()
crd = results.cited_gains(crd_cited, "fitnets")
results.show_cited(crd)

# %%
cited = results.reference("ild")
romero = cited[cited.paper.str.contains("Romero")]
romero[["paper", "table", "dataset", "teacher", "student", "method", "value", "verified"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text above and below
crd_kd = results.cited_gains(crd_cited, "kd")
romero_acc = romero.pivot_table(index="dataset", columns="method", values="value")
prose.glue(crd_fitnets_gain_min=crd["fitnets gain"].min(), crd_fitnets_gain_max=crd["fitnets gain"].max(),
           crd_fitnets_below=int((crd["fitnets gain"] < 0).sum()), crd_pairs=len(crd),
           crd_fitnets_over_kd=int(crd.set_index(["table", "teacher", "student"])["fitnets gain"].gt(
               crd_kd.set_index(["table", "teacher", "student"])["kd gain"]).sum()),
           romero_c10_fitnets=romero_acc.at["cifar10", "fitnets"], romero_c10_teacher=romero_acc.at["cifar10", "teacher"],
           romero_c100_fitnets=romero_acc.at["cifar100", "fitnets"], romero_c100_teacher=romero_acc.at["cifar100", "teacher"],
           romero_vs_teacher="above" if (romero_acc["fitnets"] > romero_acc["teacher"]).all() else "not above")

# %% [markdown]
# There, with a student thinner but deeper than its teacher, the FitNet ends
# {glue:text}`romero_vs_teacher` the teacher on both datasets: on CIFAR-10 the FitNet reaches
# {glue:text}`romero_c10_fitnets:.2f` % and the teacher {glue:text}`romero_c10_teacher:.2f` %, on
# CIFAR-100 the FitNet {glue:text}`romero_c100_fitnets:.2f` % and the teacher
# {glue:text}`romero_c100_teacher:.2f` %.
