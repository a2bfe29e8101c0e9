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
# # Baselines: the teacher, the student alone, and how long to train them
#
# Knowledge distillation (KD) is only worth its cost if the distilled student beats the same
# student trained on its own. So every chapter of this book starts from two baselines, trained
# with exactly the same data, schedule and code as the distilled runs:
#
# * the **teacher**, a larger network trained once on the teacher's training images, whose
#   outputs the later chapters transfer;
# * the **student alone**, the small network trained with plain cross-entropy on the labels of
#   the student's training images, the *transfer set*.
#
# Two questions come before any comparison, and this chapter answers both with measurements:
# has the teacher finished learning, and how many epochs does a student need before training
# longer stops changing the result? A method compared against an undertrained student alone
# can look better for the wrong reason.
#
# ```{admonition} How to re-run this chapter
# Every number below comes from a stored run under `results/runs/<profile>/`. Executing the
# notebook loads those runs; change a parameter (e.g. `papermill 01_baselines.ipynb out.ipynb
# -p profile smoke`) and the affected runs train anew. {doc}`../book/reproduce` lists every
# profile, and {doc}`../book/report` where every run of this chapter comes from.
# ```

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # student seeds 0 .. seeds-1
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import pandas as pd

from kdsrc import experiment, plots, prose, results, studies
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
student_cfg = make_config("vanilla", profile)
teacher_cfg = make_config("kd", profile).teacher_config()
data, teacher_data = experiment.dataset_for(student_cfg), experiment.dataset_for(teacher_cfg)

# %% [markdown]
# ## The data and its four parts
#
# The book's default dataset is Fashion-MNIST {cite}`xiao2017fashion`: 28×28 grey-scale photos
# of ten kinds of clothing, 60 000 for training and 10 000 for testing. It is as easy to load as
# MNIST but much less saturated, so a small network leaves visible room for a teacher to help.
# The whole dataset sits in memory as a `uint8` tensor; normalisation and the training
# augmentation (a random crop after zero padding, and a horizontal flip) run batched on tensors.
#
# The images are used in four parts, and each has one job:

# %% tags=["nbval-check-output"]
splits = pd.DataFrame([
    {"part": "teacher's training images", "images": len(teacher_data.train),
     "used for": "training the teacher"},
    {"part": "validation images", "images": len(data.val) if data.val else 0,
     "used for": "every choice: training length, temperature, weights, ε"},
    {"part": "transfer set", "images": len(data.train),
     "used for": "training every student (a class-balanced subset of the teacher's training images)"},
    {"part": "test images", "images": len(data.test), "used for": "reported only, never used to choose"}])
results.show(splits)

# %%
plots.sample_grid(data.test);

# %% [markdown]
# The validation images are held out of the training images before anything else is drawn, so
# neither the teacher nor any student ever trains on them; the test images are only read to
# report. The transfer set is the same for every method and every seed (it depends on
# `subset_seed` only): a paired comparison then sets two methods on the very same images, and
# what a seed changes is the student's initialisation, the order of the batches and their
# augmentation.
#
# **Why a transfer set of a few thousand images.** Distillation helps most where labels are
# scarce relative to what the student must learn: the teacher's probabilities say, for every
# image, how the wrong classes rank, which a one-hot label cannot. Hinton et al.
# {cite}`hinton2015distilling` showed it with a speech model trained on three percent of its data:
# on the hard labels it overfitted badly, on the soft targets of a model trained on all the data it
# recovered most of that model's accuracy. A small transfer set puts our student in that regime,
# and keeps a run short enough for seeds and sweeps on a CPU. Chapter 10 adds the other end: the
# student alone and KD on the whole training set.

# %% [markdown]
# ## The teacher, trained to its plateau
#
# The teacher is a CIFAR-style ResNet as RepDistiller defines them
# {cite}`he2016deep,repdistiller`: a 3×3 stem, three stages of residual blocks, global average
# pooling and a linear classifier. Its learning rate is divided by ten twice, so that it ends on a
# flat stretch: the last fifth of its epochs should add almost nothing. Its accuracy after every
# epoch (the dotted lines are the learning-rate decays, the shaded band the last fifth):

# %%
teacher = experiment.run(teacher_cfg)
plots.plateau_curve(teacher);

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
plateau = results.plateau_gain(teacher)
prose.glue(teacher_val=teacher["last_val_acc"], teacher_test=teacher["last_test_acc"], teacher_plateau=plateau,
           teacher_epochs=len(teacher["history"]), teacher_hours=teacher["seconds_per_epoch"] * len(teacher["history"]) / 3600,
           plateau_bar=results.PLATEAU_BAR, plateau_verdict="less" if abs(plateau) < results.PLATEAU_BAR else "more",
           teacher_images_ratio=len(teacher_data.train) / len(data.train))

# %% [markdown]
# After {glue:text}`teacher_epochs` epochs the teacher reaches {glue:text}`teacher_val:.2f` % on
# the validation images and {glue:text}`teacher_test:.2f` % on the test images. Its last fifth
# changed the validation accuracy by {glue:text}`teacher_plateau:+.2f` points, {glue:text}`plateau_verdict`
# than the {glue:text}`plateau_bar:.1f`-point bar we set for a plateau. It trained for {glue:text}`teacher_hours:.1f`
# hours on two CPU cores, once for the whole book.

# %% [markdown]
# ## How long to train a student
#
# The student alone and KD, each at lengths that double (seeds 0 to 2, every other setting the
# profile's): the profile's length is the shortest one at which doubling it moves neither
# method's final **validation** accuracy by as much as its seed spread (the larger sample standard
# deviation of the two lengths). Test accuracy is drawn beside it, and not used.

# %%
convergence = results.to_frame([experiment.run(cfg) for cfg in studies.convergence(profile)])
plots.convergence(convergence, chosen=student_cfg.epochs);

# %% tags=["nbval-check-output"]
table = results.convergence_table(convergence)
results.show(table.round(2))

# %% tags=["remove-cell"]
# (hidden in the book) the profile's length is the one at which the student alone has settled;
# the text below says how far KD still moves there
table_at = table.set_index(["method", "epochs"])
chosen = results.settled_epochs(table, methods=["vanilla"])
assert chosen == student_cfg.epochs, f"the student alone settles at {chosen} epochs, the profile trains {student_cfg.epochs}"
longest = int(table.epochs.max())
kd_settled = results.settled_epochs(table, methods=["kd"])
assert not table_at.loc[("kd", chosen), "settled"], "the text says KD still moves at the profile's length"
gain = lambda epochs: table_at.loc[("kd", epochs), "val_mean"] - table_at.loc[("vanilla", epochs), "val_mean"]
prose.glue(chosen_epochs=chosen, doubled_epochs=2 * chosen, longest_epochs=longest,
           alone_change=table_at.loc[("vanilla", chosen), "change at 2E"],
           alone_spread=table_at.loc[("vanilla", chosen), "seed spread"],
           kd_change=table_at.loc[("kd", chosen), "change at 2E"], kd_spread=table_at.loc[("kd", chosen), "seed spread"],
           kd_settled_text="settles at no length we ran" if kd_settled is None else f"settles at {kd_settled} epochs",
           gain_at_chosen=gain(chosen), gain_at_doubled=gain(2 * chosen))

# %% [markdown]
# Doubling {glue:text}`chosen_epochs` epochs moves the student alone by
# {glue:text}`alone_change:+.2f` points, less than its seed spread of {glue:text}`alone_spread:.2f`:
# the student alone has settled. KD has not: the same doubling still adds
# {glue:text}`kd_change:+.2f` points against a spread of {glue:text}`kd_spread:.2f`, and by this
# rule KD {glue:text}`kd_settled_text` (the longest was {glue:text}`longest_epochs`). The
# profile trains every student for {glue:text}`chosen_epochs` epochs all the same: telling
# whether KD settles at {glue:text}`longest_epochs` would take runs twice as long again, and
# training the book at {glue:text}`doubled_epochs` epochs would double the cost of every one of
# its runs, already the largest part of its budget. What this costs is measured here: KD's gain
# over the student alone on validation is {glue:text}`gain_at_chosen:+.2f` points at
# {glue:text}`chosen_epochs` epochs and {glue:text}`gain_at_doubled:+.2f` at
# {glue:text}`doubled_epochs`. The methods that learn from the teacher's outputs are measured
# before their own plateau, and their gains in this book may fall short of longer training's by
# about that difference.

# %% [markdown]
# ## The two baselines
#
# Test accuracy (%) at the last epoch, the number RepDistiller and the CRD paper report, and at
# the best epoch, as mdistiller reports it; validation accuracy at the last epoch; mean ± sample
# standard deviation over seeds.

# %% tags=["nbval-check-output"]
students = experiment.run_seeds(student_cfg, seeds)
baselines = results.to_frame([teacher] + students)
baselines["role"] = ["teacher"] + ["student alone"] * len(students)
accuracy = results.summarise(baselines, by=["role", "model", "params"])
results.show(accuracy[["role", "model", "params", "n", "last acc (%)", "best acc (%)"]])

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
last = baselines.groupby("role", sort=False).last_acc
prose.glue(teacher_acc=last.mean()["teacher"], alone_acc=last.mean()["student alone"],
           alone_std=last.std()["student alone"], gap=last.mean()["teacher"] - last.mean()["student alone"])

# %% [markdown]
# The teacher ends at {glue:text}`teacher_acc:.2f` % and the student alone at
# {glue:text}`alone_acc:.2f` %: the room for distillation is {glue:text}`gap:.2f` points. The
# student's seeds spread by {glue:text}`alone_std:.2f` points (sample standard deviation), the
# yardstick for the gains of the later chapters.

# %% [markdown]
# ## What the baselines cost
#
# Training seconds per epoch (the teacher's epochs see {glue:text}`teacher_images_ratio:.0f` times
# as many images), the process's
# peak resident memory, and parameters. These depend on the machine; the stored runs record
# which one ({doc}`../book/report`).

# %%
cost = baselines.groupby(["role", "model"], sort=False).agg(
    params=("params", "first"), epochs=("epochs", "first"), sec_per_epoch=("sec_per_epoch", "mean"),
    peak_mem_mb=("peak_mem_mb", "max")).round(1)
results.show(cost)

# %% [markdown]
# ## What this chapter shows
#
# The teacher has stopped learning, and the students train long enough that training longer
# would not change a comparison by more than the seeds already do. Every later chapter trains its
# students for this length, on this transfer set, and holds its gains against the spread measured
# here.
