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
# # When is distillation worth it? A practical guide from our runs
#
# The earlier chapters each measured one method or one lever. This one collects what those
# measurements say about the decisions a practitioner faces, each backed by the stored runs it
# comes from:
#
# 1. whether KD pays for itself at all;
# 2. how to pick the temperature and the loss weights;
# 3. how big a teacher to use (the capacity gap);
# 4. what the teacher costs, and how caching its outputs removes that cost;
# 5. what makes intermediate-layer distillation hard to use;
# 6. how many seeds to run, and whether to report the last or the best epoch.
#
# It trains nothing new: every run here is one of the earlier chapters'. The scale is the
# book's (a resnet8 student on 5 000 Fashion-MNIST images for 10 epochs); what transfers to
# other scales is the way of measuring, and the directions more than the sizes.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every configuration
temperatures = [1, 2, 4, 8]  # chapter 2's temperature sweep (seed 0)
weights = [[0.1, 0.9], [0.5, 0.5], [0.0, 1.0]]  # chapter 2's (ce_weight, kd_weight) sweep (seed 0)
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import pandas as pd

from kdsrc import bench, book, experiment, plots, prose, results
from kdsrc.config import from_dict, make_config
from kdsrc.distillers import METHODS

pd.set_option("display.max_colwidth", 400)  # the reordered pairs in full
root = experiment.use(fresh=fresh_results, stored_only=stored_only)
kd_cfg = make_config("kd", profile)
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
distilled = experiment.run_seeds(kd_cfg, seeds)
teacher = experiment.run(kd_cfg.teacher_config())

# %% [markdown]
# ## 1. Is KD worth it?
#
# Three ways to get a resnet8: trained alone on the 5 000-image transfer set, distilled on
# those images from the book's resnet14 teacher, and trained alone on all 60 000 labelled
# images with the teacher's own recipe (3 epochs; it is the resnet8 teacher of chapter 11).
# The teacher's training is a one-off cost that every student distilled from it shares.

# %% tags=["nbval-check-output"]
all_labels = experiment.run(make_config("kd", profile, teacher="resnet8").teacher_config())
frame, table = results.compare({"resnet8 alone, transfer set": alone, "resnet8 + KD, transfer set": distilled,
                                 "resnet8 alone, all training images": [all_labels]},
                                baseline="resnet8 alone, transfer set")
groups = (alone, distilled, [all_labels])
table["training images"] = [len(experiment.dataset_for(from_dict(group[0]["config"])).train) for group in groups]
table["epochs"] = [group[0]["config"]["epochs"] for group in groups]
print(f"teacher {teacher['config']['model']}: {teacher['last_test_acc']:.2f} % test accuracy")
table[["run", "n", "training images", "epochs", "last acc (%)", "paired gain over alone"]]


# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
def difference(frame, run, base):
    """``run``'s last-epoch accuracy minus ``base``'s, seed by seed."""
    wide = frame.pivot(index="seed", columns="run", values="last_acc")
    return wide[run] - wide[base]


def every_seed(values, words="on every seed"):
    return words if (values > 0).all() else "not on every seed"


costs = results.method_costs_frame(bench.method_costs(profile)).set_index("method")
kd_gain = difference(frame, "resnet8 + KD, transfer set", "resnet8 alone, transfer set")
mean_acc = frame.groupby("run", sort=False).last_acc.mean()
alone_acc, kd_acc = mean_acc["resnet8 alone, transfer set"], mean_acc["resnet8 + KD, transfer set"]
prose.glue(kd_x=costs.at["kd", "epoch time × alone"], kd_gain=kd_gain.mean(), kd_gain_std=kd_gain.std(),
           kd_every_seed=every_seed(kd_gain), all_labels_acc=all_labels["last_test_acc"],
           all_labels_over_kd=all_labels["last_test_acc"] - kd_acc, alone_acc=alone_acc,
           share_of_the_way=(kd_acc - alone_acc) / (all_labels["last_test_acc"] - alone_acc))

# %% [markdown]
# **Yes, when the student cannot see what the teacher saw.** With the teacher's logits cached,
# KD costs what training the student alone costs per epoch (chapter 10's benchmark:
# {glue:text}`kd_x:.2f` times) and adds {glue:text}`kd_gain:+.2f` ± {glue:text}`kd_gain_std:.2f`
# points, {glue:text}`kd_every_seed`; of chapter 10's thirteen rows (section 6 below) only
# {glue:text}`rows_above_kd` gain more. But the same resnet8 trained on all 60 000 labelled
# images (one seed; its paired gain is that seed's) reaches {glue:text}`all_labels_acc:.2f` %,
# {glue:text}`all_labels_over_kd:.2f` points above the distilled student: distillation moved the
# student {glue:text}`share_of_the_way:.0%` of the way from {glue:text}`alone_acc:.2f` % towards
# what the labels themselves could give it. KD is worth it where
# this book's setup puts it: the teacher exists, the student must learn from a smaller or
# unlabelled transfer set, or the student's own training budget is small. Where the labels and
# the compute are there, train the student on them first, and distil on top.

# %% [markdown]
# ## 2. Picking the temperature and the weights
#
# Chapter 2's two sweeps, one seed each (seed 0), beside the seed spread of the default
# setting ($T = 4$, `ce_weight=0.1`, `kd_weight=0.9`), which is the scale a difference must beat.

# %% tags=["nbval-check-output"]
t_runs = {f"T = {t}": [experiment.run(make_config("kd", profile, temperature=t))] for t in temperatures}
w_runs = {f"(ce, kd) = ({ce}, {w})": [experiment.run(make_config("kd", profile, ce_weight=ce, kd_weight=w))]
          for ce, w in weights}
sweep_frame, _ = results.compare({**t_runs, **w_runs}, baseline=next(iter(t_runs)))
default_std = pd.Series([run["last_test_acc"] for run in distilled]).std()
print(f"student alone, seed 0: {alone[0]['last_test_acc']:.2f} %; "
      f"default KD over {len(distilled)} seeds: std {default_std:.2f} points")
sweep_frame[["run", "last_acc", "best_acc"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
sweep_acc = sweep_frame.set_index("run").last_acc
t_acc = sweep_acc[list(t_runs)]
t_gain = t_acc - alone[0]["last_test_acc"]
best_t = t_acc.idxmax()
w_acc = sweep_acc[list(w_runs)]
prose.glue(t1_gain=t_gain.iloc[0], t_rest_gain_low=t_gain.iloc[1:].min(), t_rest_gain_high=t_gain.iloc[1:].max(),
           best_t=best_t, best_t_over_2=t_acc[best_t] - t_acc.get("T = 2", float("nan")),
           best_t_over_8=t_acc[best_t] - t_acc.get("T = 8", float("nan")),
           best_t_over_2_stds=(t_acc[best_t] - t_acc.get("T = 2", float("nan"))) / default_std,
           best_t_over_8_stds=(t_acc[best_t] - t_acc.get("T = 8", float("nan"))) / default_std,
           weights_range=w_acc.max() - w_acc.min(), weights_range_stds=(w_acc.max() - w_acc.min()) / default_std)

# %% [markdown]
# **The temperature matters; the weights, within reason, do not.** At $T = 1$ the soft targets
# are nearly the hard labels and KD gains only {glue:text}`t1_gain:+.2f` points over the student
# alone (seed 0); from $T = 2$ on it gains {glue:text}`t_rest_gain_low:.2f` to
# {glue:text}`t_rest_gain_high:.2f` points. {glue:text}`best_t` is the best point,
# {glue:text}`best_t_over_2:.2f` points above $T = 2$ ({glue:text}`best_t_over_2_stds:.1f` seed
# standard deviations) and {glue:text}`best_t_over_8:.2f` above $T = 8$
# ({glue:text}`best_t_over_8_stds:.1f`, but from one seed per point). The three weightings, from
# mostly soft `(0.1, 0.9)` to soft only `(0, 1)`, lie within {glue:text}`weights_range:.2f`
# points, {glue:text}`weights_range_stds:.1f` standard deviations of a single seed: no reason here
# to move off the common default. The practical recipe: start at $T = 4$ with most of the weight
# on the soft term; sweep $T$ over 2 to 8 if the budget allows, and give the sweep's winner
# several seeds before believing a gap of a few seed standard deviations or less.

# %% [markdown]
# ## 3. How big a teacher?
#
# Chapter 11's capacity-gap experiment: the same student from teachers of growing size, and
# from an ensemble of four same-size teachers.

# %% tags=["nbval-check-output"]
gap = {"resnet8": experiment.run_seeds(make_config("kd", profile, teacher="resnet8"), seeds),
       "resnet14 (the book's)": distilled,
       "resnet20": experiment.run_seeds(make_config("kd", profile, teacher="resnet20", teacher_cache=False), seeds),
       "4 × resnet8, mean logits": experiment.run_seeds(make_config("kd", profile, teacher="resnet8", teacher_ensemble=4),
                                                        seeds)}
gap_frame, gap_table = results.compare(gap, baseline="resnet8")
gap_table.insert(1, "teacher acc (%)", [group[0]["teacher_test_acc"] for group in gap.values()])
gap_table[["run", "teacher acc (%)", "n", "last acc (%)", "paired gain over alone"]].rename(
    columns={"run": "teacher", "paired gain over alone": "paired gain over resnet8 teacher"})

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
gap_acc = gap_frame.groupby("run", sort=False).last_acc.mean()
r14_minus_r8 = difference(gap_frame, "resnet14 (the book's)", "resnet8")
prose.glue(teacher_gap=gap["resnet14 (the book's)"][0]["teacher_test_acc"] - gap["resnet8"][0]["teacher_test_acc"],
           r14_gain=r14_minus_r8.mean(), r14_gain_std=r14_minus_r8.std(),
           r20_worse=every_seed(-difference(gap_frame, "resnet20", "resnet8")),
           best_teacher=gap_acc.idxmax(), best_teacher_acc=gap[gap_acc.idxmax()][0]["teacher_test_acc"],
           resnet8_teacher_acc=gap["resnet8"][0]["teacher_test_acc"])

# %% [markdown]
# **A more accurate teacher is not a better one.** The resnet14 is
# {glue:text}`teacher_gap:.2f` points more accurate than the resnet8 and its students are no
# better ({glue:text}`r14_gain:+.2f` ± {glue:text}`r14_gain_std:.2f` points, within the spread);
# the resnet20, as accurate as the resnet14, makes them worse {glue:text}`r20_worse`. The best
# teacher here is {glue:text}`best_teacher`, at little more than one resnet8's accuracy
# ({glue:text}`best_teacher_acc:.2f` % against {glue:text}`resnet8_teacher_acc:.2f` %). Chapter
# 11 shows why from the students'
# side: they fit the larger teachers' soft targets less and less well. Choose the teacher for
# how well the student can follow it: a teacher close to the student's size, or an ensemble of
# them, before a bigger one. The published capacity-gap studies find the same on CIFAR and
# ImageNet at larger gaps {cite}`cho2019efficacy,mirzadeh2020improved`; ours appears at a much
# smaller one, on a small problem.

# %% [markdown]
# ## 4. The teacher's cost, and caching it away
#
# Running the teacher on every batch costs a forward pass of a larger network per step. But
# with a fixed teacher and the book's augmentation (a crop after 2-pixel padding and a flip,
# 50 possible views of each image), the teacher's logits for every view can be computed once
# and looked up: `kdsrc.teachers.logit_cache`. The stored benchmark (`python -m kdsrc bench teacher-cache`)
# measures both against the student alone: four epochs a mode (its best epoch after the first),
# the three modes in turns for three rounds, each ratio taken within a round; the table gives the
# median and the range over the rounds:

# %% tags=["nbval-check-output"]
cache_bench = bench.teacher_cache_cost(profile)
print(f"{cache_bench['student']} student, {cache_bench['teacher']} teacher, {cache_bench['train_images']} images, "
      f"{cache_bench['hardware']['cpu']}, {cache_bench['threads']} threads")

# %%
cache_table = results.teacher_cache_table(cache_bench, epochs=kd_cfg.epochs)
cache_table

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
stored = [results.read_run(path) for path in sorted((root / "runs" / profile).glob("*/*.json"))]


def reads_the_cache(run):
    """Whether ``run``'s loss read the book teacher's cached logits."""
    cfg = from_dict(run["config"])
    return (run["teacher_run_id"] == teacher["run_id"] and cfg.teacher_ensemble == 1 and cfg.teacher_cache
            and cfg.mixing == "none" and METHODS[cfg.method].reads_only_teacher_logits
            and cfg.method_params.get("kd_weight", 1) > 0)


readers = pd.Series([run["config"]["method"] for run in stored if reads_the_cache(run)]).value_counts()
on_the_fly = cache_bench["train_images"] / cache_bench["kd_on_the_fly_img_s"] * kd_cfg.epochs
prose.glue(cache_views=cache_bench["cache_build_seconds"] / on_the_fly, cache_readers=int(readers.sum()),
           **{f"cache_readers_{method}": int(readers.get(method, 0)) for method in ("kd", "dhkd", "ce_binary_kl", "ab")},
           cached_x=cache_table.at["KD, cached teacher logits", "× alone"],
           cached_range=cache_table.at["KD, cached teacher logits", "range over rounds"],
           on_the_fly_x=cache_table.at["KD, teacher on every batch", "× alone"],
           feature_x_low=costs.loc[["fitnets", "at", "srrl"], "epoch time × alone"].min(),
           feature_x_high=costs.loc[["fitnets", "at", "srrl"], "epoch time × alone"].max())

# %% [markdown]
# Building the cache evaluates the teacher on all 50 views of the 5 000 images once, five times
# the images a 10-epoch run shows it, and takes as long as the training of
# {glue:text}`cache_views:.1f` such runs with the teacher on every batch. It has paid for itself
# after the number of runs above; the book's resnet14 cache is read by
# {glue:text}`cache_readers` stored runs ({glue:text}`cache_readers_kd` KD,
# {glue:text}`cache_readers_dhkd` DHKD, {glue:text}`cache_readers_ce_binary_kl` CE + BinaryKL and
# the {glue:text}`cache_readers_ab` AB runs of the official recipe, whose main stage is KD;
# RepDistiller's AB recipe has no KD term). The numbers to remember: KD from a cache costs what
# training the student alone costs ({glue:text}`cached_x:.2f` times, {glue:text}`cached_range`
# over the rounds); KD with the teacher on
# every batch costs {glue:text}`on_the_fly_x:.2f` times as much here, and more the bigger the
# teacher. A cache cannot serve augmentations it has not seen: mixup and CutMix (chapter 11)
# make new images every batch, so the teacher runs on every batch again; neither can it serve
# methods that need the teacher's feature maps (FitNets, AT, SRRL: {glue:text}`feature_x_low:.2f`
# to {glue:text}`feature_x_high:.2f` times the epoch, chapter 10).

# %% [markdown]
# ## 5. The challenges of intermediate-layer distillation
#
# Chapter 7 measured the three the literature names. In one table, each ILD method's gain over
# the student alone and its training cost beside KD's (chapter 10's runs and benchmark):

# %% tags=["nbval-check-output"]
ild_methods = {"student alone": "vanilla", "KD": "kd", "FitNets": "fitnets", "AT": "at", "FSP": "fsp", "AB": "ab"}
ild_runs = {name: alone if method == "vanilla" else distilled if method == "kd"
            else experiment.run_seeds(make_config(method, profile), seeds) for name, method in ild_methods.items()}
ild = results.method_summary(ild_runs, bench.method_costs(profile), ild_methods)
ild[["run", "last acc (%)", "paired gain over alone", "first-stage epochs", "extra parameters"]]

# %%
results.show(ild[["run", "epoch time × alone", "first-stage epoch × alone", "peak memory above start (MB)"]])

# %% [markdown]
# The same evidence as a figure: each method's paired gain over the student alone (the marker is
# the mean over the seeds, the bar its {glue:text}`ci_level:.0%` t-interval) against the training
# time of its whole run, first stage included, relative to the student alone's.

# %%
ci_level = 0.95  # the confidence level of the intervals
prose.glue(ci_level=ci_level)
ild_gains = results.paired_gains(results.compare(ild_runs)[0], "student alone", level=ci_level)
plots.gain_vs_cost(ild_gains, ild.set_index("run")["run time × alone"]);

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
layers = {"FitNets, stage 1": experiment.run_seeds(make_config("fitnets", profile, hint_layer=1), seeds),
          "FitNets, stage 3": experiment.run_seeds(make_config("fitnets", profile, hint_layer=3), seeds),
          "AT, stage 3": experiment.run_seeds(make_config("at", profile, layers=(3,)), seeds)}
layer_frame = results.compare({"student alone": alone, "KD": distilled, **layers})[0]
memory = costs["peak memory above start (MB)"]
prose.glue(fitnets1_gain=difference(layer_frame, "FitNets, stage 1", "student alone").mean(),
           fitnets3_gain=difference(layer_frame, "FitNets, stage 3", "student alone").mean(),
           at_last_gain=difference(layer_frame, "AT, stage 3", "student alone").mean(),
           fitnets_x=costs.at["fitnets", "epoch time × alone"], at_x=costs.at["at", "epoch time × alone"],
           first_x_low=costs.loc[["fsp", "ab"], "first-stage epoch × alone"].min(),
           first_x_high=costs.loc[["fsp", "ab"], "first-stage epoch × alone"].max(),
           at_memory=memory["at"], ab_memory=memory["ab"], alone_memory=memory["vanilla"],
           ild_above_kd=", ".join(ild.run[(ild.last_mean > ild.set_index("run").at["KD", "last_mean"])
                                          & ~ild.run.isin(["student alone", "KD"])]) or "none")

# %% [markdown]
# - **Layer selection decides the outcome.** FitNets' gain runs from
#   {glue:text}`fitnets1_gain:+.2f` (hint at stage 1) to {glue:text}`fitnets3_gain:+.2f` points
#   (stage 3, the best result at the book's 10-epoch budget), and attention transfer on the last
#   stage alone ends below the student alone ({glue:text}`at_last_gain:+.2f` points, chapter 7).
#   The methods' default layers are
#   conventions; treat the layer as a hyperparameter worth a small sweep.
# - **Overhead is real and not only time.** Every ILD method needs the teacher's feature maps on
#   every batch, so none can use the logit cache: FitNets and AT take {glue:text}`fitnets_x:.2f`
#   and {glue:text}`at_x:.2f` times the student's epoch, FSP and AB add a first stage at
#   {glue:text}`first_x_low:.2f` to {glue:text}`first_x_high:.2f` times, and AT and AB hold
#   {glue:text}`at_memory:.0f` and {glue:text}`ab_memory:.0f` MB of extra memory where the
#   student alone needs {glue:text}`alone_memory:.0f`.
# - **Compatibility limits the pairs.** FitNets needs a trained connector whose size grows with
#   the maps' channels, FSP and AB compare stage with stage, and some pairings are refused
#   outright (a student map smaller than the teacher's cannot be regressed onto it); chapter
#   7's compatibility table lists what each method accepts.
#
# At this scale the plain logits carry more than most intermediate layers do: of the four ILD
# methods with their default layers, {glue:text}`ild_above_kd` beats KD, and FitNets does only
# with the right layer.

# %% [markdown]
# ## 6. Seeds, and the last or the best epoch
#
# A table can report each configuration's mean over seeds or a single run, at the last epoch
# or at its best epoch (the best test accuracy over training, which peeks at the test set).
# How much does that choice change a ranking? Chapter 10's thirteen rows (the nine methods
# and four best variants), ranked every way: 1 is the most accurate.

# %% tags=["nbval-check-output"]
table_runs = {name: experiment.run_seeds(make_config(method, profile, **book.MEASURED_RUNS.get(method, {})), seeds)
              for name, method in book.METHOD_LABELS.items()}  # as stored by chapter 10
table_runs.update({
    "FitNets, stage-3 hint": experiment.run_seeds(make_config("fitnets", profile, hint_layer=3), seeds),
    "AB, RepDistiller's recipe": experiment.run_seeds(make_config("ab", profile, ce_weight=1.0, kd_weight=0.0), seeds),
    "SRRL, softmax regression only": experiment.run_seeds(make_config("srrl", profile, fm_weight=0.0), seeds),
    "DHKD, nonlinear head + GA": experiment.run_seeds(
        make_config("dhkd", profile, aux_head="nonlinear", grad_align=True), seeds)})
table_frame, _ = results.compare(table_runs)
ranks = results.rankings(table_frame)
ranks

# %% [markdown]
# The pairs of rows each way of reporting puts in another order than the mean of the last
# epochs (out of all pairs of the thirteen rows):

# %% tags=["nbval-check-output"]
results.reordered_pairs(ranks)

# %% [markdown]
# And the pairs whose means differ by less than the larger of their two seed standard
# deviations, the orders no table of three seeds can be sure of:

# %% tags=["nbval-check-output"]
close = results.pairs_within_spread(table_frame)
print(f"{len(close)} of {len(ranks) * (len(ranks) - 1) // 2} pairs:")
for a, b in close:
    print(f"  {a} / {b}")

# %%
print("best epoch of each run (rows) and seed (columns):")
table_frame.pivot(index="run", columns="seed", values="best_epoch").loc[list(table_runs)]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
reordered = results.reordered_pairs(ranks).set_index("ranking")
by_seed = reordered.filter(like="last epoch", axis=0).drop("mean, last epoch", errors="ignore")
worst = by_seed["pairs in another order"].idxmax()
close_pairs = {frozenset(pair) for pair in close}
worst_pairs = [frozenset(pair.split(" / ")) for pair in reordered.at[worst, "which"].split("; ") if pair]
table_gain = {run: difference(table_frame, run, "student alone").mean() for run in table_runs if run != "student alone"}
best_epoch_reorders = int(reordered.at["mean, best epoch", "pairs in another order"])
prose.glue(best_epoch_reorders="no pair" if best_epoch_reorders == 0 else f"{best_epoch_reorders} pairs",
           runs_in_table=len(table_frame),
           early_peaks=int((table_frame.best_epoch < table_frame.epochs - 1).sum()),
           largest_best_minus_last=(table_frame.best_acc - table_frame.last_acc).max(),
           seed_reorders_share=by_seed["share of pairs"].max(), seed_reorders=int(by_seed.at[worst, "pairs in another order"]),
           pairs=len(ranks) * (len(ranks) - 1) // 2, worst_seed=worst.split(",")[0],
           worst_seed_close=sum(pair in close_pairs for pair in worst_pairs),
           rows_above_kd="; ".join(f"{run} ({gain:+.2f})" for run, gain in table_gain.items() if gain > table_gain["KD"]))

# %% [markdown]
# **The seed matters; the last-or-best choice, here, does not.** Reporting the best epoch
# instead of the last reorders {glue:text}`best_epoch_reorders`: with a cosine schedule
# that ends at a learning rate of zero, all but {glue:text}`early_peaks` of the
# {glue:text}`runs_in_table` runs peak in their last two epochs, and the two figures differ by
# {glue:text}`largest_best_minus_last:.2f` points at most. A schedule that ends at a higher
# learning rate lets the test accuracy wander between epochs, and there the best epoch can
# flatter a method by picking its luckiest evaluation of the test set; our runs do not measure
# how much. A single seed is another matter: one seed's table reorders up to
# {glue:text}`seed_reorders_share:.0%` of the pairs of the mean's ({glue:text}`seed_reorders` of
# {glue:text}`pairs` for {glue:text}`worst_seed`), and {glue:text}`worst_seed_close` of the pairs
# it reorders are close ones listed above, most of them among the logit-level rows (KD, SRRL,
# DHKD, the single-head CE + BinaryKL and their variants), and FSP against the student alone.
# What we do
# throughout the book, and recommend: report the last epoch, the mean and standard deviation
# over at least three seeds, and paired differences when two methods share seeds; and do not
# rank two rows whose means are closer than their spread.
