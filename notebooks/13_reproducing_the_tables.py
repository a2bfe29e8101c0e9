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
# # {glue:text}`chapter_title`
#
# Every chapter so far ran at the book's scale: Fashion-MNIST on a CPU. The methods' papers
# measure on CIFAR-100 {cite}`krizhevsky2009learning`, and most later papers compare against
# the two tables of the CRD paper {cite}`tian2020contrastive`, produced with its RepDistiller
# code: Table 1 distils within an architecture family (seven pairs: wide ResNets, CIFAR
# ResNets, VGG), Table 2 across families (six pairs with MobileNetV2 and ShuffleNet students).
# This chapter is the `paper` profile's way back to those tables: which runs reproduce them,
# how to run them, what they cost, and, once runs are stored, our numbers beside the paper's.
#
# The recipe is RepDistiller's ({doc}`../book/reproduce`), as the `paper` profile sets it:
# {glue:text}`paper_epochs` epochs, batch {glue:text}`paper_batch`, learning rate
# {glue:text}`paper_lr` ({glue:text}`small_lr` for the MobileNetV2 and ShuffleNet students)
# divided by {glue:text}`paper_decay:.0f` at epochs {glue:text}`paper_milestones`, crop and
# flip. Each teacher is trained first with the same recipe, once, and shared by every student
# distilled from it; every student run has three seeds by default.
#
# ## How to run it
#
# Training needs a GPU and a copy of CIFAR-100: a torchvision root that holds
# `cifar-100-python/` (the book never downloads it). One command executes this chapter with
# training switched on, so the chapter itself reports what it trained:
#
# ```bash
# make reproduce DATA_ROOT=/data/cifar                       # both tables, every method, 3 seeds
# make reproduce DATA_ROOT=/data/cifar PAIRS=table1 METHODS=vanilla,kd SEEDS=5
# ```
#
# which is this papermill command (the executed chapter lands in `_build/book/notebooks/`):
#
# ```bash
# papermill notebooks/13_reproducing_the_tables.ipynb out.ipynb \
#     -p train True -p data_root /data/cifar -p pairs all -p methods all -p seeds 3
# ```
#
# The same plan runs from the command line, which prints one line a run:
#
# ```bash
# python -m kdsrc reproduce --data-root /data/cifar --dry-run            # the plan and what is stored
# python -m kdsrc reproduce --data-root /data/cifar --pairs table1 --seeds 3 --device cuda
# python -m kdsrc reproduce --data-root /data/cifar --pairs resnet32x4:resnet8x4 --methods vanilla,kd
# ```
#
# Every run is a cached run of the book's store (`results/runs/paper/`): a stored run is read,
# an interrupted one resumes from its last checkpoint, so the command can be stopped and
# started again at any point, and each stored run keeps its full configuration, code version,
# libraries, hardware and per-epoch history. The teachers come first; a released RepDistiller
# or mdistiller teacher checkpoint can stand in for a teacher trained here (the
# `teacher_checkpoint` field, `--set teacher_checkpoint=PATH`). Afterwards, `make book` shows
# whatever is stored; it never trains this chapter's runs.

# %% tags=["parameters", "remove-cell"]
profile = "paper"  # the runs planned and shown are always the paper profile's (`make book` passes the book's cpu)
train = False  # True: train every run of the plan that is not stored (a GPU and CIFAR-100 needed)
data_root = None  # a torchvision root holding cifar-100-python/ (needed to train)
pairs = "all"  # table1, table2, all, or teacher:student items, comma-separated
methods = "all"  # all (the student alone and every method of the book), or e.g. "vanilla,kd,at"
seeds = 3  # seeds 0 .. seeds-1 of every student run
device = None  # cpu or cuda (default: cuda when available)
fresh_results = False  # True: a new temporary results folder (nothing stored is read)
stored_only = False  # True: never train (regression tests)

# %%
import pandas as pd
from IPython.display import display

from kdsrc import book, config, distillers, experiment, plots, prose, reproduce, results

pd.set_option("display.max_colwidth", 400)  # the skip reasons in full
root = experiment.use(fresh=fresh_results, stored_only=stored_only)
runs = reproduce.plan(pairs, methods, seeds, data_root=data_root)
if train:
    reproduce.reproduce(runs, device)
plan_status = reproduce.status(runs)

# %% tags=["remove-cell"]
# (hidden in the book) the recipe the text names, read from the paper profile
recipe = config.make_config("kd", "paper")
*first, last = recipe.milestones
prose.glue(paper_epochs=recipe.epochs, paper_batch=recipe.batch_size, paper_lr=f"{recipe.lr:g}",
           small_lr=" or ".join(sorted({f"{lr:g}" for lr in config.MODEL_LR.values()})),
           paper_decay=1 / recipe.lr_decay, paper_milestones=f"{', '.join(map(str, first))} and {last}",
           paper_init=config.make_config("fsp", "paper").method_params["init_epochs"])
cached_runs = plan_status[plan_status.teacher_cache]
label = book.method_names()
prose.glue(cached_methods=", ".join(label.get(m, distillers.METHODS[m].__name__) for m in dict.fromkeys(cached_runs.method))
           or "none",
           paper_views=int(plan_status.views.max()))
# The title says what the page holds: how to reproduce the tables until a run of the plan is stored
prose.glue(chapter_title="Reproducing the CIFAR-100 tables" if (plan_status.state == "stored").any()
           else "How to reproduce the CIFAR-100 tables")

# %% [markdown]
# ## The plan
#
# The runs per table, and how many of them are stored, in progress (a checkpoint exists, so
# the next run resumes it) or missing. A teacher or a student alone that several pairs share is
# one run, counted in the first table that needs it.

# %% tags=["nbval-check-output"]
reproduce.progress(plan_status)

# %% [markdown]
# Not every method applies to every pair. The plan leaves out these combinations, each for the
# reason given (found by building each method for each pair on a 32×32 image, which the tests
# repeat):

# %% tags=["nbval-check-output"]
reproduce.skipped(pairs, methods)

# %% [markdown]
# FSP needs the same channel counts in teacher and student, so the CRD paper has no FSP
# number for those pairs either. Activation boundaries run on every pair, in the form that
# produced the CRD paper's AB numbers: the `paper` profile sets RepDistiller's AB
# (`connector="repdistiller"`, `layers="all"`, cross-entropy alone in the main stage; chapter 6
# and `kdsrc.distillers.ab`). The official code's 1×1 connectors could not resize a 16×16
# student map onto a 32×32 teacher map, as five of the Table 2 pairs need; RepDistiller's
# connectors, its FitNets regressor where the maps differ, can.
#
# Every run of the plan, in the order it trains (`python -m kdsrc reproduce --dry-run` prints
# the same list):

# %% tags=["hide-output"]
results.show(plan_status)

# %% [markdown]
# ## Our runs beside the paper
#
# For every pair and every row of the table with stored runs: the number of seeds, the test
# accuracy at the **last** epoch and at the **best** epoch (mean ± standard deviation over
# seeds), the mean epoch of the best accuracy, the training seconds per epoch, the CRD
# paper's number and the gap between our mean last-epoch accuracy and it.
#
# The two accuracies answer different questions, and papers differ in which they print. The
# CRD paper reports the accuracy at the last epoch; RepDistiller's code prints the best one only
# for information, and its author confirms that the published numbers are last-epoch ones
# ({cite}`issue_repdistiller16`). DKD {cite}`zhao2022decoupled` and its mdistiller code report the
# best epoch instead, averaged over 5 runs ({cite}`issue_mdistiller30`, and mdistiller issue #42), which is higher by
# construction because it picks the epoch by looking at the test set. So the gap is computed
# from our last epoch; compare our best-epoch column only with best-epoch papers. How many
# runs CRD averaged per number could not be verified.

# %% tags=["nbval-check-output"]
pair_list = reproduce.pairs_from(pairs)
cited = results.crd_reference()
ours = results.reproduction_table(*reproduce.stored_runs(runs), pair_list, cited)
if ours.empty:
    print("No paper-profile run of this plan is stored yet, so there is no result of ours to show. "
          "The numbers below are the CRD paper's, cited, not ours.")
else:
    display(ours)

# %% [markdown]
# The CRD paper's numbers for the plan's pairs (CIFAR-100 top-1 accuracy in percent, at the
# last epoch), cited from the RepDistiller README as collected in `results/reference/kd.csv`,
# `ild.csv` and `zoo.csv`, where each row names its source. The README never printed the
# paper's CRD+KD row; its numbers come from a later codebase's reprint and are marked
# secondary. The CRD paper ran no SRRL, DHKD or CE + BinaryKL, so those methods have no cited
# column:

# %% tags=["nbval-check-output"]
results.show(results.cited_table(cited, pair_list))

# %% [markdown]
# The methods that came after the CRD paper run only on the pairs their own sources report
# (the plan skips the others and says so above), so that each of our numbers has a published
# one beside it. Their numbers are not the CRD tables' protocol in one respect that matters:
# DKD's (mdistiller) and logit standardisation's are the best epoch's accuracy, DKD's a mean
# of 5 runs, where the CRD tables give the last epoch. Each row's note says where it comes
# from (`results/reference/logits.csv`):

# %% tags=["nbval-check-output"]
later = results.reference("logits")
planned = {(pair.teacher, pair.student) for pair in pair_list}
later = later[pd.Series([pair in planned for pair in zip(later.teacher, later.student)], index=later.index)
              & (later.metric == "top1_acc")]
later = later.rename(columns={"teacher": "teacher network", "student": "student network"})
results.show_cited(later.pivot_table(index=["paper", "table", "verified", "source", "teacher network", "student network"],
                                     columns="method", values="value", sort=False)
                   .reset_index().rename_axis(columns=None))

# %% [markdown]
# ## What it costs
#
# Epoch times come from a stored benchmark of the plan's pairs on the machine that trains
# (`results/bench/paper/pairs.json`): training images per second of each pair's teacher
# alone, student alone, and KD with the teacher on every batch, at batch 64. The seconds of
# an epoch are the benchmark's training images over that rate.

# %% tags=["nbval-check-output"]
bench = results.stored_bench("paper", "pairs", root)
if bench is None:
    print("No pairs benchmark is stored (results/bench/paper/pairs.json), so no epoch time or "
          "projected cost can be shown; measure it on the machine that will train.")
else:
    print(f"measured on {results.measured_on(bench)} ({bench['device']}), batch {bench['batch_size']}, "
          f"{bench['train_images']} training images")
    if not str(bench["device"]).startswith("cuda"):
        print("No GPU benchmark is stored: these are a CPU's rates, so every hour projected from them below is "
              "a CPU hour, not the GPU hours the paper profile is meant for (.ci/gpu-check measures them on a GPU).")
    display(results.show(results.pair_epoch_times(bench)))

# %% [markdown]
# ### Our loop against RepDistiller's
#
# Where does the time of a step go? RepDistiller's loop decodes and augments every image in
# Python, one at a time, in DataLoader worker processes (a PIL image through `RandomCrop`,
# `RandomHorizontalFlip`, `ToTensor`, `Normalize`), trains in fp32, runs the teacher on every
# batch and reads the loss and accuracy back to the host after every step. Ours keeps the
# uint8 images on the device and augments whole batches there, trains channels-last (in fp32 at
# the paper profile, as RepDistiller; bfloat16 autocast is an option), runs the teacher under
# `inference_mode` and reads the metrics
# once an epoch. `python -m kdsrc bench` times both loops on the same models and the same
# fabricated CIFAR-size images (speed does not depend on the pixels), for the CRD benchmark's
# resnet32x4 → resnet8x4 KD pair and for this book's cpu pair, and stores the result in
# `results/bench/paper/reference_loop.json`, with the machine it ran on: the ratio says how
# much faster our loop is there, and a GPU's ratio comes only from running it on a GPU.

# %% tags=["nbval-check-output"]
comparison = results.stored_bench("paper", "reference_loop", root)
if comparison is None:
    print("No comparison with RepDistiller's loop is stored (results/bench/paper/reference_loop.json); "
          "`python -m kdsrc bench` measures it.")
else:
    paper_pair = comparison["paper_pair"]
    print(f"measured on {results.measured_on(comparison)} ({comparison['device']}, {comparison['hardware']['torch_threads']} threads), "
          f"{comparison['steps']} timed steps after {comparison['warmup']} warm-up steps; RepDistiller-style "
          f"loader with {paper_pair['reference']['workers']} workers")
    display(results.reference_loop_table(comparison))
    print(f"a 240-epoch CIFAR-100 run of {paper_pair['teacher']} -> {paper_pair['student']} at these rates: "
          f"{paper_pair['projected_240_epoch_minutes'] / 60:.1f} h in our loop, "
          f"{paper_pair['projected_240_epoch_minutes_reference'] / 60:.1f} h in RepDistiller's "
          "(training only, no evaluation)")

# %% [markdown]
# The projected training hours of the plan, per table. The projection is an approximation,
# and says so:
#
# - a teacher trains its epochs at its own measured rate, a student alone at the student's;
# - **every distillation method is costed at KD's rate** (the teacher's forward pass on every
#   batch plus the student's training step); methods that add connectors or a second loss on
#   hidden features are somewhat slower, and SRRL, FitNets and AT read feature maps KD does
#   not need;
# - FSP and AB add their {glue:text}`paper_init` first-stage epochs at the same rate,
#   although that stage trains only the student's feature layers;
# - the evaluation on the 10 000 test images after every epoch is not included;
# - a teacher or a student alone that several pairs share is counted once.

# %% tags=["nbval-check-output"]
if bench is not None:
    display(results.show(results.projected_hours(bench, plan_status)))

# %% [markdown]
# ### With the teacher-logit cache
#
# The plan reads the teacher's logits from a view cache in every run whose loss sees the teacher
# only through its logits ({glue:text}`cached_methods`). Under pad-4 crops and flips an image
# has {glue:text}`paper_views` views, so a teacher's cache costs that many passes of its forward
# over the training images; it is built once and shared by all such runs of that teacher, every
# seed included. Stored in float32 it holds the logits exactly as the teacher computes them, and
# a cached run trains bit for bit as one that runs its teacher on every batch (tested at a small
# scale on the CPU). The same projection with those runs at their pair's measured rate of KD
# from cached logits, and each teacher's cache build in a column of its own, under the table
# that first needs it:

# %% tags=["nbval-check-output"]
if bench is not None and "kd_cached_img_s" in bench["pairs"][0]["ours"]:
    with_cache = results.projected_hours(bench, plan_status, cached=True)
    display(results.show(with_cache))
    print(f"the whole plan: {results.projected_hours(bench, plan_status).at['all', 'total (h)']:.1f} h with the "
          f"teacher on every batch, {with_cache.at['all', 'total (h)']:.1f} h with the cache, builds included")
elif bench is not None:
    print("The stored pairs benchmark predates the cached rates; `python -m kdsrc bench pairs` measures them.")

# %% [markdown]
# The same projection per teacher-student pair, each bar split by how much of it is stored, in
# progress or still missing (every teacher and every student alone of the plan on its own row):

# %%
if bench is not None:
    plots.plan_progress(plan_status, results.run_hours(bench, plan_status));

# %% [markdown]
# Stored runs measure their own epoch time (the `s/epoch` column of the results table), so
# the projection can be checked against the runs as they come in.
