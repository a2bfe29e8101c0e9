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
# its 10 main epochs: it adds {glue:text}`first_stage_share:.0f` % to the main training's
# epochs, somewhat more than RepDistiller's {glue:text}`paper_first_stage_share:.1f` % (30 of 240)
# ({doc}`../book/reproduce`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every method
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
from kdsrc import engine, examples, experiment, losses, plots, prose, results, teachers
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
fsp_cfg = make_config("fsp", profile)
data = experiment.dataset_for(fsp_cfg)

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text above
paper_cfg = make_config("fsp", "paper")
prose.glue(first_stage_share=100 * fsp_cfg.method_params["init_epochs"] / fsp_cfg.epochs,
           paper_first_stage_share=100 * paper_cfg.method_params["init_epochs"] / paper_cfg.epochs)

# %% [markdown]
# ## The loss
#
# The FSP matrix and the loss as `kdsrc.losses` computes them, then the loss on one fixed pair of
# maps for the student and one for the teacher (`kdsrc.examples`: the same float64 numbers on
# every machine): a first map of $8$ channels of $8$ by $8$, pooled to the $4$ by $4$ of a last
# map of $16$ channels, so each matrix is $8$ by $16$. The paper's form is the official one
# times the number of matrix elements ($8 \cdot 16 = 128$); max pooling changes the matrices
# themselves. A teacher with other channel counts is refused.

# %%
display(prose.source(losses.fsp_matrix))
prose.source(losses.fsp_loss)

# %% tags=["nbval-check-output"]
student_pair = (examples.feature_map(4, 8, 8, seed=0), examples.feature_map(4, 16, 4, seed=1))
teacher_pair = (examples.feature_map(4, 8, 8, seed=2), examples.feature_map(4, 16, 4, seed=3))
print("FSP matrix:", tuple(losses.fsp_matrix(*student_pair).shape))
for form in ("official", "paper"):
    for pool in ("avg", "max"):
        print(f"fsp_loss form={form}, pool={pool}: {losses.fsp_loss([student_pair], [teacher_pair], form=form, pool=pool).item():.6g}")
try:
    losses.fsp_loss([student_pair], [(teacher_pair[0], examples.feature_map(4, 32, 4, seed=3))])
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## What is transferred
#
# The teacher's FSP matrices for its three stages, averaged over 256 test images, beside those
# of the student trained alone. Rows are the channels of the stage's input, columns those of
# its output. The two networks have the same widths, so the matrices have the same shape, but
# an independently trained student orders and uses its channels differently: its matrices
# share little with the teacher's. The first stage of FSP pulls the student's matrices towards
# the teacher's.

# %%
teacher = experiment.run(fsp_cfg.teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
images = data.test.images[:256]
networks = teachers.baseline_networks(fsp_cfg)
plots.fsp_matrices({name: engine.predict_features(net, images, data) for name, net in networks.items()});

# %% [markdown]
# ## Results

# %%
distilled = experiment.run_seeds(make_config("kd", profile), seeds)
fsp = experiment.run_seeds(fsp_cfg, seeds)
print(f"first stage: {fsp_cfg.method_params['init_epochs']} epochs on the FSP loss, "
      f"then {fsp_cfg.epochs} epochs of cross-entropy")

# %% [markdown]
# The FSP loss during the first stage, per epoch and seed. Its mean over seeds falls from
# {glue:text}`stage_loss_first:.3f` in the first epoch to {glue:text}`stage_loss_last:.3f` in
# epoch {glue:text}`stage_epochs:d`, {glue:text}`stage_loss_drop:.0f` % lower:

# %% tags=["nbval-check-output"]
results.first_stage_table(fsp).round(3)

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text above
stage_loss = results.first_stage_table(fsp).loc["fsp"].mean(axis=1)
prose.glue(stage_loss_first=stage_loss.iloc[0], stage_loss_last=stage_loss.iloc[-1], stage_epochs=int(stage_loss.index[-1]),
           stage_loss_drop=100 * (1 - stage_loss.iloc[-1] / stage_loss.iloc[0]))

# %% tags=["nbval-check-output"]
groups = {"teacher": [teacher], "student alone": alone, "student + KD": distilled, "student + FSP": fsp}
frame, table = results.compare(groups)
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
wide = frame.pivot(index="seed", columns="run", values="last_acc")
fsp_gains = wide["student + FSP"] - wide["student alone"]
prose.glue(fsp_gain=fsp_gains.mean(), fsp_gain_std=fsp_gains.std(), fsp_seeds_up=int((fsp_gains > 0).sum()),
           seeds_run=len(fsp_gains), fsp_gain_vs_spread="well inside" if abs(fsp_gains.mean()) < fsp_gains.std() / 2
           else "inside" if abs(fsp_gains.mean()) < fsp_gains.std() else "outside")

# %% [markdown]
# At our scale FSP leaves the student where it was: the paired gain,
# {glue:text}`fsp_gain:+.2f` ± {glue:text}`fsp_gain_std:.2f` points (positive in
# {glue:text}`fsp_seeds_up:d` of the {glue:text}`seeds_run:d` seeds), is
# {glue:text}`fsp_gain_vs_spread` its spread between seeds. The first stage brings the
# student's matrices closer to the teacher's (the loss falls), but what it transfers, the
# channel-to-channel correlations of each stage, is then free to drift during the ten
# cross-entropy epochs that follow, and nothing in the second stage refers to the teacher any
# more. The CRD paper's FSP gains on CIFAR-100 (below) are small too: between
# {glue:text}`crd_fsp_gain_min:+.2f` and {glue:text}`crd_fsp_gain_max:+.2f` points over its
# {glue:text}`crd_fsp_pairs:d` pairs with equal channel counts.
#
# What it costs. The main stage of FSP is plain cross-entropy, no dearer than the student
# alone; the price is the first stage, whose epochs run the teacher on every batch. Seconds per
# epoch (mean over seeds) of the main training, then of the first stage; in the stored runs a
# main-stage epoch took {glue:text}`fsp_cost_ratio:.2f` times an epoch of the student alone, a
# first-stage epoch {glue:text}`fsp_first_stage_ratio:.2f` times:

# %%
cost = results.cost(frame, groups=groups, first_stage=True)
prose.glue(fsp_cost_ratio=cost.loc["student + FSP", "ratio to alone"],
           fsp_first_stage_ratio=results.first_stage_seconds(fsp) / cost.loc["student alone", "sec_per_epoch"])
results.show(cost)

# %% [markdown]
# ## The papers' numbers
#
# Cited data. The CRD paper {cite}`tian2020contrastive` (CIFAR-100 top-1, last epoch); FSP is
# missing where the channel counts differ (wrn_40_2 → wrn_40_1, and every pair of Table 2):

# %%
crd = results.cited_gains(results.crd_reference(), "fsp")
prose.glue(crd_fsp_gain_min=crd["fsp gain"].min(), crd_fsp_gain_max=crd["fsp gain"].max(),
           crd_fsp_pairs=int(crd["fsp gain"].notna().sum()))
results.show_cited(crd)

# %% [markdown]
# The FSP paper's own tables (its ResNets, trained for fewer epochs than the CRD recipe), as
# read from screenshots of its Tables 3 and 4 in a blog post: secondary, since the paper's PDF
# was not at hand. Its FitNet row is FitNets followed by a KD stage:

# %%
cited = results.reference("ild")
yim = cited[cited.paper.str.contains("Yim")]
results.show_cited(yim[["paper", "table", "dataset", "teacher", "student", "method", "value", "verified", "source"]])

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
yim_acc = yim.pivot_table(index="dataset", columns="method", values="value")
yim_gain = yim_acc["fsp"] - yim_acc["student"]
prose.glue(yim_c10_gain=yim_gain["cifar10"], yim_c100_gain=yim_gain["cifar100"],
           yim_fsp_vs_fitnets="above" if (yim_acc["fsp"] > yim_acc["fitnets"]).all() else "not above",
           yim_c100_vs_crd="larger than every" if yim_gain["cifar100"] > crd["fsp gain"].max() else "within the range of")

# %% [markdown]
# There FSP gains {glue:text}`yim_c10_gain:+.2f` points over the student on CIFAR-10 and
# {glue:text}`yim_c100_gain:+.2f` on CIFAR-100, {glue:text}`yim_fsp_vs_fitnets` FitNets on both;
# the CIFAR-100 gain is {glue:text}`yim_c100_vs_crd` FSP gain of the CRD paper, whose students
# train for longer.
