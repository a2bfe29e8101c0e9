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
# # Baselines: the teacher and the student alone
#
# Knowledge distillation (KD) is only worth its cost if the distilled student beats the same
# student trained on its own. So every chapter of this book starts from two baselines, trained
# with exactly the same data, schedule and code as the distilled runs:
#
# * the **teacher**, a larger network trained once on the whole training set, whose outputs the
#   later chapters transfer;
# * the **student alone**, the small network trained with plain cross-entropy on the labels.
#
# This chapter shows the data, trains (or loads) both baselines and measures what they cost.
# Nothing here is distillation yet; the gap between the two rows of the table below is the room
# that distillation has to work in.
#
# ```{admonition} How to re-run this chapter
# Every number below comes from a stored run under `results/runs/<profile>/`. Executing the
# notebook loads those runs; change a parameter (e.g. `papermill 01_baselines.ipynb out.ipynb
# -p profile smoke`) and the affected runs train anew. See {doc}`../book/reproduce`.
# ```

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # student seeds 0 .. seeds-1
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
from kdsrc import experiment, plots, prose, results
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
student_cfg = make_config("vanilla", profile)
teacher_cfg = make_config("kd", profile).teacher_config()
data = experiment.dataset_for(student_cfg)

# %% [markdown]
# ## The data
#
# The book's default dataset is Fashion-MNIST {cite}`xiao2017fashion`: 28×28 grey-scale photos
# of ten kinds of clothing, 60 000 for training and 10 000 for testing. It is as easy to load as
# MNIST but much less saturated, so a small network leaves visible room for a teacher to help.
# The whole dataset sits in memory as a `uint8` tensor; normalisation and the training
# augmentation (a random crop after zero padding, and a horizontal flip) run batched on tensors.

# %%
print(f"dataset: {data.name}, {data.num_classes} classes, images {tuple(data.train.images.shape[1:])}")
print(f"student training images: {len(data.train)} (class-balanced subset), test images: {len(data.test)}")
plots.sample_grid(data.test);

# %% [markdown]
# ## Training the two baselines
#
# Both networks are CIFAR-style ResNets as RepDistiller defines them {cite}`he2016deep,tian2020contrastive`:
# a 3×3 stem, three stages of residual blocks, global average pooling and a linear classifier.
# The teacher trains once (seed 0) on the full training set; the student alone trains on the
# profile's training subset with several seeds, so that its spread can be compared with the
# gains of the later chapters.

# %%
teacher = experiment.run(teacher_cfg)
students = experiment.run_seeds(student_cfg, seeds)
baselines = results.to_frame([teacher] + students)
baselines["role"] = ["teacher"] + ["student alone"] * len(students)

# %% [markdown]
# Test accuracy (%) at the last epoch, the number RepDistiller and the CRD paper report, and at
# the best epoch, as mdistiller reports it; mean ± sample standard deviation over seeds.

# %% tags=["nbval-check-output"]
accuracy = results.summarise(baselines, by=["role", "model", "params"])
accuracy[["role", "model", "params", "n", "last acc (%)", "best acc (%)"]]

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
# ## Learning curves
#
# Test accuracy after every epoch: the line is the mean over seeds, the band spans the seeds.

# %%
plots.learning_curves({"teacher": [teacher], "student alone": students});

# %% [markdown]
# ## What the baselines cost
#
# Training seconds per epoch (the teacher's epochs see more images), the process's peak
# resident memory, and parameters. These depend on the machine; the stored runs record
# which one ({doc}`../book/reproduce`).

# %%
cost = baselines.groupby(["role", "model"], sort=False).agg(
    params=("params", "first"), epochs=("epochs", "first"), sec_per_epoch=("sec_per_epoch", "mean"),
    peak_mem_mb=("peak_mem_mb", "max")).round(1)
results.show(cost)
