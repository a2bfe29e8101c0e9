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
# # Intermediate-layer distillation in practice
#
# The four previous chapters each taught one way of distilling from inside the teacher. The
# literature on intermediate-layer distillation keeps naming the same three practical
# challenges, and this chapter measures each of them on our runs:
#
# 1. **Layer selection.** Which of the teacher's layers should guide which of the student's?
#    The methods' defaults are conventions (FitNets: the middle stage; AT: every stage), not laws.
# 2. **Computational overhead.** Every method but KD with a cached teacher needs the teacher's
#    hidden features on every batch, and some add trainable connectors or a whole first stage.
# 3. **Architecture compatibility.** Feature maps are only comparable when their shapes can be
#    made to agree: which methods need a connector, which resize, which refuse.
#
# The chapter closes with one table of every method so far.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every method
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import pandas as pd

from kdsrc import bench, book, experiment, plots, prose, results
from kdsrc.compatibility import compatibility
from kdsrc.config import make_config

pd.set_option("display.max_colwidth", 200)  # the compatibility table's messages in full
experiment.use(fresh=fresh_results, stored_only=stored_only)
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)

# %% [markdown]
# ## Layer selection
#
# FitNets with the hint (and the guided layer) at the output of stage 1, 2 (the default) or 3,
# and attention transfer on all three stages (the default) or on the last stage only. Every
# other setting is the method's default; stage 0 is the stem.

# %%
fitnets_by_layer = {f"FitNets, stage {layer}": experiment.run_seeds(make_config("fitnets", profile, hint_layer=layer), seeds)
                    for layer in (1, 2, 3)}
at_by_layers = {"AT, stages 1, 2, 3": experiment.run_seeds(make_config("at", profile, layers=(1, 2, 3)), seeds),
                "AT, stage 3": experiment.run_seeds(make_config("at", profile, layers=(3,)), seeds)}

# %% tags=["nbval-check-output"]
frame, table = results.compare({"student alone": alone, **fitnets_by_layer, **at_by_layers})
table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %%
plots.sweep(frame[frame.run != "student alone"], x="run", baseline=frame[frame.run == "student alone"].last_acc.mean(),
            label_rotation=30, connect=False);


# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
def paired(frame, run, base="student alone"):
    """Mean and std over seeds of ``run``'s last-epoch accuracy minus ``base``'s, seed by seed."""
    wide = frame.pivot(index="seed", columns="run", values="last_acc")
    return (wide[run] - wide[base]).mean(), (wide[run] - wide[base]).std()


means = frame.groupby("run", sort=False).last_acc.mean()
hints = {layer: paired(frame, f"FitNets, stage {layer}") for layer in (1, 2, 3)}
prose.glue(**{f"fitnets{layer}_gain": mean for layer, (mean, _) in hints.items()},
           fitnets3_acc=means["FitNets, stage 3"],
           at_all_gain=paired(frame, "AT, stages 1, 2, 3")[0], at_all_std=paired(frame, "AT, stages 1, 2, 3")[1],
           at_last_gain=paired(frame, "AT, stage 3")[0], at_last_std=paired(frame, "AT, stage 3")[1])

# %% [markdown]
# What the ablation shows at the cpu scale (the tables above hold the numbers):
#
# - **FitNets gets better the deeper the hint.** Its paired gain over the student alone is
#   {glue:text}`fitnets1_gain:+.2f`, {glue:text}`fitnets2_gain:+.2f` and {glue:text}`fitnets3_gain:+.2f`
#   points with the hint at stage 1, 2 and 3. The stage-3 hint ({glue:text}`fitnets3_acc:.2f` %)
#   is the best distillation result in the book so far, {glue:text}`fitnets3_over_kd:.2f` points
#   above vanilla KD (below); the stage-1 hint helps least. The stage-3
#   output is the map the classifier reads after pooling, so matching it transfers everything
#   the teacher's logits carry and its spatial layout besides. The paper chose a *middle* hint
#   because a deep hint over-constrains a student that is much thinner and deeper than its
#   teacher; our student has the teacher's widths and only fewer blocks, and it is
#   under-trained, so the strongest signal wins. RepDistiller's default (stage 2) is a
#   convention, not an optimum.
# - **Attention transfer wants every stage.** Matching the last stage alone does no better
#   than the student alone ({glue:text}`at_last_gain:+.2f` ± {glue:text}`at_last_std:.2f` points,
#   against {glue:text}`at_all_gain:+.2f` ± {glue:text}`at_all_std:.2f` on all three stages); the
#   early, high-resolution maps carry most of what AT gives here.
#
# One pair, one dataset and ten epochs: a different pair can order the layers differently,
# which is the point of the challenge. Treat the layer as a hyperparameter and tune it on a
# validation split (`val_size`), not on the test set.

# %% [markdown]
# ## Computational overhead
#
# Two measurements. First, the training seconds per epoch of the stored runs (mean over seeds),
# as each method trained in this book; they were trained in different sessions, some while
# other jobs shared the two cores (the student-alone runs among them), so their ratios carry
# some noise. Second, a controlled benchmark, `python -m kdsrc bench costs`, that trains every
# method in a fresh process on the same data, the methods in turns for three rounds on an
# otherwise idle machine, and reports images per second (the median over the rounds of the best
# epoch after a warm-up; an epoch ratio is the median of the ratios within a round, with its
# range over the rounds), the peak memory the training
# adds to what the process held before it (data and models loaded) and the trainable
# parameters each method adds to the student. A method that reads cached teacher logits is
# benchmarked with a cache of the right size, and a two-stage method's first stage is measured
# separately.

# %%
methods = {"student alone": alone,
           "KD": experiment.run_seeds(make_config("kd", profile), seeds),
           **{name: experiment.run_seeds(make_config(method, profile), seeds)
              for name, method in (("FitNets", "fitnets"), ("AT", "at"), ("FSP", "fsp"), ("AB", "ab"))}}
all_frame = results.compare(methods)[0]
results.show(results.cost(all_frame, groups=methods, first_stage=True))

# %%
bench_costs = results.method_costs_frame(bench.method_costs(profile)).set_index("method")
label = book.method_names()
chapter_methods = ["vanilla", "kd", "fitnets", "at", "fsp", "ab"]
results.show(bench_costs.loc[chapter_methods].rename(index=label).rename_axis("method").reset_index())

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
ratio, first = bench_costs["epoch time × alone"], bench_costs["first-stage epoch × alone"]
regressor = bench_costs.at["fitnets", "extra parameters"]
prose.glue(fitnets_x=ratio["fitnets"], at_x=ratio["at"], kd_x=ratio["kd"], fsp_x=ratio["fsp"], ab_x=ratio["ab"],
           fsp_first_x=first["fsp"], ab_first_x=first["ab"], regressor_params=regressor,
           regressor_share=100 * regressor / alone[0]["parameters"])

# %% [markdown]
# Read together: FitNets and AT pay for the teacher's forward pass on every batch
# ({glue:text}`fitnets_x:.2f` and {glue:text}`at_x:.2f` times a student epoch here, with a
# resnet14 teacher and a resnet8 student), plus, for FitNets, a regressor of
# {glue:text}`regressor_params:,d` parameters, {glue:text}`regressor_share:.1f` % of the student's
# size. KD, with its teacher logits cached, costs about what the student alone costs
# ({glue:text}`kd_x:.2f` times). FSP and AB train their main stage about as cheaply as the
# student alone ({glue:text}`fsp_x:.2f` and {glue:text}`ab_x:.2f` times) but pay a first stage
# whose epochs cost about as much as a FitNets epoch ({glue:text}`fsp_first_x:.2f` and
# {glue:text}`ab_first_x:.2f` times, against {glue:text}`fitnets_x:.2f`). A difference smaller
# than the range over rounds in the table is the machine's noise, not the methods'. Memory grows with
# the teacher's activations held during the step (the benchmark's figures are resident-memory
# peaks on a CPU, so they include the allocator's slack: compare them with each other, not as
# exact byte counts).

# %% [markdown]
# ## Architecture compatibility
#
# What each method does when the teacher's stages differ from the student's. The student is
# the book's resnet8 (stage widths 16, 16, 32, 64); the teachers are resnet14 (the same widths,
# our default), wrn_16_2 (16, 32, 64, 128) and resnet8x4 (32, 64, 128, 256). All keep the
# student's spatial sizes stage by stage, so the last rows pair *different* stages with
# FitNets (its guided and hint layers are free), which changes the resolution. Each cell is
# the number of trainable parameters the method adds (its connector), 0 where it needs none,
# or the one-line error it gives. This builds the distillers only; nothing trains.

# %% tags=["nbval-check-output"]
compat = compatibility("resnet8", ["resnet14", "wrn_16_2", "resnet8x4"], data=experiment.dataset_for(make_config("vanilla", profile)))
compat

# %% [markdown]
# AT needs no connector with any teacher: an attention map has one channel whatever the
# stage's width. FSP needs none either but refuses every pair whose widths differ, because the
# matrices must have the same shape; it has no way to map one network's channels onto
# another's. AB and FitNets bridge a width difference with a trained connector whose size grows
# with the product of the two widths. A resolution difference is handled only by FitNets'
# regressor (a strided or transposed convolution for a factor of two); a student map smaller
# than half the teacher's is refused. AT would average-pool the larger map, so it also accepts
# a resolution mismatch, at the price of blurring the larger map's attention.

# %% [markdown]
# ## All methods so far
#
# Last- and best-epoch accuracy (mean ± std over seeds), the paired gain over the student alone
# (same seed), the time of a training epoch relative to the student alone (from the controlled
# benchmark above; the first stage of FSP and AB comes on top, with its own ratio), and the
# trainable parameters each method adds to the student.

# %% tags=["remove-cell", "nbval-check-output"]
# (hidden in the book) the regression test's view of the summary: every column but the timings
names = {label[method]: method for method in chapter_methods}
summary = results.method_summary(methods, bench.method_costs(profile), names)
summary[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "first-stage epochs", "extra parameters"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
all_means = all_frame.groupby("run", sort=False).last_acc.mean()
prose.glue(kd_gain=paired(all_frame, "KD")[0], fitnets_gain=paired(all_frame, "FitNets")[0],
           fsp_gain=paired(all_frame, "FSP")[0], fsp_std=paired(all_frame, "FSP")[1],
           ab_gain=paired(all_frame, "AB")[0],
           fitnets3_over_kd=means["FitNets, stage 3"] - all_means["KD"])

# %% [markdown]
# At the cpu scale, logit-level KD gives the most for the least ({glue:text}`kd_gain:+.2f`
# points at {glue:text}`kd_x:.2f` times the student's epoch), and FitNets with the default
# (stage 2) hint comes second ({glue:text}`fitnets_gain:+.2f` points) at a higher cost; FSP and AB
# do not beat the student alone (FSP: {glue:text}`fsp_gain:+.2f` ± {glue:text}`fsp_std:.2f` points;
# AB: {glue:text}`ab_gain:+.2f`, its official recipe here; the AB chapter shows that
# RepDistiller's variant does not help either). The layer-selection ablation changes that
# ranking: FitNets with the stage-3 hint is the best of all.

# %%
results.show(summary[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "epoch time × alone",
                      "first-stage epochs", "first-stage epoch × alone", "extra parameters"]])
