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
# # Ensembles, augmentation and the capacity gap
#
# Vanilla KD leaves three practical levers open, each with a question readers ask:
#
# 1. **Teacher ensembles.** Hinton et al. {cite}`hinton2015distilling` introduced distillation to
#    compress an *ensemble* into one network. Does a student learn more from several teachers
#    than from one, and should their logits or their probabilities be averaged?
# 2. **Augmenting the transfer set.** Distillation only needs the teacher's answer on an input,
#    not a label, so the transfer set can be enlarged with mixed images: mixup
#    {cite}`zhang2018mixup` blends two images, CutMix {cite}`yun2019cutmix` pastes a box of one
#    into the other, Cutout {cite}`devries2017cutout` blanks a square. The teacher must then see
#    the mixed image itself: its cached outputs belong to the plain crop/flip views.
# 3. **The capacity gap.** A stronger teacher is not always a better one: students distilled
#    from much larger teachers can do worse than from mid-sized ones
#    {cite}`cho2019efficacy,mirzadeh2020improved`. Where does a bigger teacher stop helping?
#
# Hinton et al. take "an arithmetic or geometric mean" of the members' predictive distributions
# as the soft targets. An ensemble teacher (`kdsrc.models.ensemble.TeacherEnsemble`) answers
# like one network and offers both:
#
# - `ensemble="logits"` (the default) averages the members' logits $z_i$. Softened at any
#   temperature, $\mathrm{softmax}(\bar z / T)$ is the normalised *geometric* mean of the members'
#   softened distributions $\mathrm{softmax}(z_i / T)$.
# - `ensemble="probs"` gives their *arithmetic* mean, $\frac1k \sum_i \mathrm{softmax}(z_i / T)$, at
#   the distilling method's own temperature (it returns $T \log$ of that mean as its logits, so the
#   method's softmax at $T$ recovers it exactly).
#
# Its members are ordinary cached runs with consecutive seeds, its own accuracy is stored
# beside them, and its cached outputs are the combination of its members'. Mixing
# (`mixing = "mixup" | "cutmix" | "cutout"`) is applied to the whole batch on its device, seeded
# by the run's generator; mixup and CutMix mix the labels too (the cross-entropy then reads
# class probabilities), and the teacher runs on every mixed batch instead of reading its cache.
#
# **The teachers.** All teachers here are trained with the book's teacher recipe (3 epochs on
# all 60 000 training images): the book's resnet14, four resnet8 teachers (seeds 0 to 3) for
# the ensembles, and a resnet20 for the capacity gap. Every student is the book's resnet8 on
# its 5 000-image transfer set, trained by vanilla KD with the book's settings ($T = 4$,
# `ce_weight=0.1`, `kd_weight=0.9`), three seeds each.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every configuration
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import pandas as pd
import torch

from kdsrc import examples, experiment, losses, plots, prose, results
from kdsrc.config import make_config
from kdsrc.models.ensemble import TeacherEnsemble

experiment.use(fresh=fresh_results, stored_only=stored_only)


def kd(**overrides):
    """Vanilla KD with the book's settings and ``overrides``."""
    return make_config("kd", profile, **overrides)


# %% [markdown]
# ## An ensemble's soft targets
#
# How the ensemble teacher turns its members' logits into its own:

# %%
prose.source(TeacherEnsemble.combine)

# %% [markdown]
# On fixed inputs (`kdsrc.examples`, the same on every machine): four members reduced to their
# classifiers, each a linear layer with its own fixed weights reading the same 8 features of 4
# examples into 10 classes, and a student's fixed logits, at the book's $T = 4$. KD from each
# member alone, the mean of those four losses, and KD from the two ensembles:

# %% tags=["nbval-check-output"]
class Member(torch.nn.Module):
    """A trained network reduced to its classifier, reading fixed features."""

    def __init__(self, seed: int):
        super().__init__()
        self.fc = torch.nn.Linear(8, 10, dtype=torch.float64)
        with torch.no_grad():
            self.fc.weight.copy_(examples.logits(batch=10, classes=8, seed=seed, scale=2.0))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(x)


temperature = 4.0
features = examples.feature_map(batch=4, channels=8, size=1, seed=0).flatten(1)
members = [Member(seed) for seed in (1, 2, 3, 4)]
student = examples.logits(seed=0).requires_grad_()
with torch.no_grad():
    member_logits = torch.stack([member(features) for member in members])
    targets = {mode: TeacherEnsemble(members, mode=mode, temperature=temperature)(features)
               for mode in ("logits", "probs")}
per_member = torch.stack([losses.kd_loss(student, z, temperature) for z in member_logits])
kd_from = {mode: losses.kd_loss(student, z, temperature) for mode, z in targets.items()}
p = torch.softmax(member_logits / temperature, dim=-1)


def entropy(q):
    return -(q * q.log()).sum(-1)


disagreement = temperature**2 * (entropy(p.mean(0)) - entropy(p).mean(0)).mean()
grad = {name: torch.autograd.grad(loss, student, retain_graph=True)[0]
        for name, loss in (("members", per_member.mean()), *kd_from.items())}
print("KD from each member:          ", " ".join(f"{v:.6g}" for v in per_member.tolist()))
print(f"mean of the four:               {per_member.mean().item():.6g}")
print(f"KD from the mean probabilities: {kd_from['probs'].item():.6g}")
print(f"KD from the mean logits:        {kd_from['logits'].item():.6g}")
print(f"mean of the four − mean probabilities: {(per_member.mean() - kd_from['probs']).item():.6g}; "
      f"T² × disagreement: {disagreement.item():.6g}")
print("student gradient, mean probabilities = mean of the four:", torch.allclose(grad["probs"], grad["members"]))
print(f"largest gradient difference, mean logits against the four: {(grad['logits'] - grad['members']).abs().max().item():.6g}")

# %% [markdown]
# With averaged probabilities, KD from the ensemble is the mean of KD from each member minus a
# constant: $T^2$ times the members' disagreement, the entropy of their mean distribution minus
# the mean of their entropies (averaged over the batch). A constant does not move the student,
# and the gradients agree: distilling from the arithmetic mean pulls the student exactly as
# distilling from all the members at once would. Averaged logits make a different target (the
# normalised geometric mean), with its own loss and gradient.


# %% [markdown]
# ## The teachers
#
# Each teacher's own test accuracy: the three sizes of the capacity-gap experiment and the
# ensembles of resnet8 teachers (members trained with seeds 0, 1, 2, 3; the ensembles of two
# use the first two). A probability ensemble's accuracy is that of its members' averaged
# distributions at the students' temperature, $T = 4$.

# %% tags=["nbval-check-output"]
ensembles = {f"{k} × resnet8, mean {label}": kd(teacher="resnet8", teacher_ensemble=k, ensemble=mode)
             for mode, label in (("logits", "logits"), ("probs", "probabilities")) for k in (2, 4)}
teachers = {name: experiment.run(kd(teacher=name).teacher_config()) for name in ("resnet8", "resnet14", "resnet20")}
records = {name: experiment.ensemble_run(cfg) for name, cfg in ensembles.items()}
pd.DataFrame([{"teacher": name, "parameters": run["parameters"], "test acc (%)": run["last_test_acc"],
               "members' test acc (%)": ""} for name, run in teachers.items()]
             + [{"teacher": name, "parameters": teachers["resnet8"]["parameters"] * record["config"]["members"],
                 "test acc (%)": record["last_test_acc"],
                 "members' test acc (%)": ", ".join(f"{acc:.2f}" for acc in record["member_test_acc"])}
                for name, record in records.items()])

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
member_acc = pd.Series(records["4 × resnet8, mean logits"]["member_test_acc"])
ensemble_acc = pd.Series({name: record["last_test_acc"] for name, record in records.items()})
four = ensemble_acc[[name for name in records if name.startswith("4 ")]]
prose.glue(member_spread=member_acc.max() - member_acc.min(), best_member=member_acc.max(),
           members_mean=member_acc.mean(), ensemble_low=ensemble_acc.min(), ensemble_high=ensemble_acc.max(),
           four_above_low=four.min() - member_acc.mean(), four_above_high=four.max() - member_acc.mean(),
           resnet20_size=teachers["resnet20"]["parameters"] / teachers["resnet14"]["parameters"],
           resnet20_acc=teachers["resnet20"]["last_test_acc"], resnet14_acc=teachers["resnet14"]["last_test_acc"],
           resnet14_over_members=teachers["resnet14"]["last_test_acc"] - member_acc.max())

# %% [markdown]
# The four resnet8 teachers differ by up to {glue:text}`member_spread:.2f` points, and their
# ensembles are only a little more accurate than the best of them: {glue:text}`ensemble_low:.2f`
# to {glue:text}`ensemble_high:.2f` % against {glue:text}`best_member:.2f` % (the four-member
# ones are {glue:text}`four_above_low:.2f` and {glue:text}`four_above_high:.2f` points above their
# members' mean of {glue:text}`members_mean:.2f` %), which suggests that members trained the same
# way on the same data share most of their mistakes. The resnet20 is
# {glue:text}`resnet20_size:.2f` times the resnet14's size but no more accurate after the same
# three epochs ({glue:text}`resnet20_acc:.2f` % against {glue:text}`resnet14_acc:.2f` %).

# %% [markdown]
# ## One teacher or an ensemble
#
# The same student distilled from one resnet8 teacher, and from ensembles of two and of four
# with their logits or their probabilities averaged. The paired gain is over KD from the
# single teacher (seed 0 of the ensemble students against seed 0 of the single-teacher
# students, and so on).

# %%
single = "one resnet8"
runs = {single: experiment.run_seeds(kd(teacher="resnet8"), seeds),
        **{name: experiment.run_seeds(cfg, seeds) for name, cfg in ensembles.items()}}

# %% tags=["nbval-check-output"]
frame, table = results.compare(runs, baseline=single)
table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]].rename(
    columns={"paired gain over alone": f"paired gain over {single}"})


# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
def difference(frame, run, base):
    """``run``'s last-epoch accuracy minus ``base``'s, seed by seed."""
    wide = frame.pivot(index="seed", columns="run", values="last_acc")
    return wide[run] - wide[base]


gains = {f"{k}{mode[0]}": difference(frame, f"{k} × resnet8, mean {mode}", single)
         for k in (2, 4) for mode in ("logits", "probabilities")}
geometric_minus_arithmetic = {k: difference(frame, f"{k} × resnet8, mean logits", f"{k} × resnet8, mean probabilities")
                              for k in (2, 4)}
prose.glue(**{f"gain_{key}": gain.mean() for key, gain in gains.items()},
           **{f"gain_{key}_std": gain.std() for key, gain in gains.items()},
           four_up_on_every_seed="on every seed in both cases" if (gains["4l"] > 0).all() and (gains["4p"] > 0).all()
           else "not on every seed",
           geo_minus_arith_4=geometric_minus_arithmetic[4].mean(), geo_minus_arith_4_std=geometric_minus_arithmetic[4].std(),
           geo_minus_arith_2=geometric_minus_arithmetic[2].mean(), geo_minus_arith_2_std=geometric_minus_arithmetic[2].std(),
           four_logits_acc=frame[frame.run == "4 × resnet8, mean logits"].last_acc.mean(),
           four_logits_std=frame[frame.run == "4 × resnet8, mean logits"].last_acc.std())

# %% [markdown]
# **Four teachers help a little; two do not.** Distilling from four resnet8 teachers adds
# {glue:text}`gain_4l:+.2f` ± {glue:text}`gain_4l_std:.2f` points over one with averaged logits
# and {glue:text}`gain_4p:+.2f` ± {glue:text}`gain_4p_std:.2f` with averaged probabilities,
# {glue:text}`four_up_on_every_seed`; two teachers add nothing measurable
# ({glue:text}`gain_2l:+.2f` ± {glue:text}`gain_2l_std:.2f` and {glue:text}`gain_2p:+.2f` ±
# {glue:text}`gain_2p_std:.2f`). The student of the four-member ensemble of resnet8 teachers
# ({glue:text}`four_logits_acc:.2f` ± {glue:text}`four_logits_std:.2f` %) even edges out the
# student of the book's single resnet14 teacher ({glue:text}`resnet14_student_acc:.2f` ±
# {glue:text}`resnet14_student_std:.2f` %, below), a teacher {glue:text}`resnet14_over_members:.2f`
# points more accurate than any of the four, by about one seed standard deviation and
# {glue:text}`four_vs_resnet14_seeds`. The way the members are combined matters less than their
# number: with four members the geometric mean (averaged logits) beats the arithmetic mean
# (averaged probabilities) by {glue:text}`geo_minus_arith_4:.2f` ±
# {glue:text}`geo_minus_arith_4_std:.2f` points, small but {glue:text}`geo_on_every_seed`, and
# with two members not measurably ({glue:text}`geo_minus_arith_2:+.2f` ±
# {glue:text}`geo_minus_arith_2_std:.2f`). Why would four similar teachers help when their own
# accuracy barely moves? The student ends training much closer to an ensemble's soft targets
# (the final distillation term, in the capacity-gap section below, falls from
# {glue:text}`kd_term_resnet8:.2f` with one teacher to {glue:text}`kd_term_four:.2f` with four):
# averaging smooths away the individual teachers' idiosyncrasies, leaving targets a small
# student can follow.

# %% [markdown]
# ## Augmenting the transfer set
#
# KD from the book's resnet14 teacher with mixup or CutMix on top of the crop and flip
# ($\alpha = 1$ for their Beta distribution), against KD without it. The teacher runs on every
# mixed batch. Cutout is implemented (`mixing="cutout"`) and tested but not run here: the
# chapter's budget (below) was already spent.

# %%
book_kd = "KD, resnet14 teacher"
augmented = {book_kd: experiment.run_seeds(kd(), seeds),
             **{f"+ {kind}": experiment.run_seeds(kd(mixing=kind), seeds) for kind in ("mixup", "cutmix")}}

# %% tags=["nbval-check-output"]
aug_frame, aug_table = results.compare(augmented, baseline=book_kd)
aug_table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]].rename(
    columns={"paired gain over alone": f"paired gain over {book_kd}"})

# %%
plots.learning_curves(augmented);

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
mean_curve = pd.DataFrame({label: pd.DataFrame([[h["test_acc"] for h in run["history"]] for run in group]).mean()
                           for label, group in augmented.items()})
mean_curve.index += 1  # epochs from 1


def behind_from(label):
    """The first epoch from which ``label``'s mean test accuracy stays below plain KD's."""
    ahead = mean_curve.index[mean_curve[label] >= mean_curve[book_kd]]
    return int(ahead.max()) + 1 if len(ahead) else 1


mixing_loss = {kind: difference(aug_frame, f"+ {kind}", book_kd) for kind in ("mixup", "cutmix")}
prose.glue(mixing_loss=-pd.concat(mixing_loss.values()).mean(), mixup_loss=-mixing_loss["mixup"].mean(), mixup_loss_std=mixing_loss["mixup"].std(),
           cutmix_loss=-mixing_loss["cutmix"].mean(), cutmix_loss_std=mixing_loss["cutmix"].std(),
           mixing_every_seed="each on every seed" if all((loss < 0).all() for loss in mixing_loss.values())
           else "not on every seed",
           mixup_behind_from=behind_from("+ mixup"), cutmix_behind_from=behind_from("+ cutmix"),
           kd_train_acc=pd.Series([run["history"][-1]["train_acc"] for run in augmented[book_kd]]).mean(),
           kd_test_acc=aug_frame[aug_frame.run == book_kd].last_acc.mean())

# %% [markdown]
# **At this scale mixing costs about {glue:text}`mixing_loss:.0f` points.** Mixup lowers the student by
# {glue:text}`mixup_loss:.2f` ± {glue:text}`mixup_loss_std:.2f` points and CutMix by
# {glue:text}`cutmix_loss:.2f` ± {glue:text}`cutmix_loss_std:.2f`, {glue:text}`mixing_every_seed`,
# and they make the epoch {glue:text}`mixup_x_kd:.2f` and {glue:text}`cutmix_x_kd:.2f` times as
# long as KD's (below), because the teacher must see every mixed image. The curves show where
# the points go: both mixed students are ahead in the first epochs, then behind for good, mixup
# from epoch {glue:text}`mixup_behind_from` and CutMix from epoch
# {glue:text}`cutmix_behind_from` (means over seeds), and the gap does not close as the learning
# rate decays. A mixed image is a harder task, and mixing is a regulariser: it pays when a
# model would otherwise overfit, over long schedules. Our KD students do not overfit: their
# training accuracy, measured on the augmented training images, ends next to their test
# accuracy ({glue:text}`kd_train_acc:.2f` % against {glue:text}`kd_test_acc:.2f` %). The strongest case for
# mixing in distillation, Beyer et al.'s "patient and consistent" teacher
# {cite}`beyer2022knowledge`, trains for hundreds to thousands of epochs; read our result as
# "not within a ten-epoch budget", not as "never".

# %% [markdown]
# ## The capacity gap
#
# The same student from teachers of growing size, all trained the same way. The resnet8
# teacher has the student's own architecture. The paired gain is over the resnet8 teacher.

# %%
by_size = {f"from resnet8 ({teachers['resnet8']['parameters'] / 1e6:.2f} M)": runs[single],
           f"from resnet14 ({teachers['resnet14']['parameters'] / 1e6:.2f} M)": augmented[book_kd],
           f"from resnet20 ({teachers['resnet20']['parameters'] / 1e6:.2f} M)":
               experiment.run_seeds(kd(teacher="resnet20", teacher_cache=False), seeds)}

# %% tags=["nbval-check-output"]
size_frame, size_table = results.compare(by_size, baseline=next(iter(by_size)))
size_table.insert(1, "teacher acc (%)", [teachers[name]["last_test_acc"] for name in teachers])
size_table[["run", "teacher acc (%)", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]].rename(
    columns={"paired gain over alone": "paired gain over resnet8 teacher"})

# %%
plots.sweep(size_frame, x="run", label_rotation=15);

# %% [markdown]
# How closely each student ends up matching its teacher: the loss terms of the last training
# epoch (mean ± std over seeds; the distillation term `kd` is $0.9\,T^2\,\mathrm{KL}$, as
# trained), for the three sizes and the four-member ensemble.

# %% tags=["nbval-check-output"]
results.final_loss_terms({**by_size, "from 4 × resnet8, mean logits": runs["4 × resnet8, mean logits"]})

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
sizes = dict(zip(("resnet8", "resnet14", "resnet20"), by_size))
kd_term = {name: pd.Series([run["history"][-1]["train_loss"]["kd"] for run in by_size[label]]).mean()
           for name, label in sizes.items()}
r14_minus_r8 = difference(size_frame, sizes["resnet14"], sizes["resnet8"])
r20_minus_r8 = difference(size_frame, sizes["resnet20"], sizes["resnet8"])
r20_minus_r14 = difference(size_frame, sizes["resnet20"], sizes["resnet14"])
four_vs_resnet14 = difference(pd.concat([frame, aug_frame]), "4 × resnet8, mean logits", book_kd)
prose.glue(kd_term_resnet8=kd_term["resnet8"], kd_term_resnet14=kd_term["resnet14"], kd_term_resnet20=kd_term["resnet20"],
           kd_term_four=pd.Series([run["history"][-1]["train_loss"]["kd"]
                                   for run in runs["4 × resnet8, mean logits"]]).mean(),
           resnet14_over_resnet8=teachers["resnet14"]["last_test_acc"] - teachers["resnet8"]["last_test_acc"],
           r14_gain=r14_minus_r8.mean(), r14_gain_std=r14_minus_r8.std(),
           r20_loss=-r20_minus_r8.mean(), r20_loss_std=r20_minus_r8.std(),
           r20_below_r14="on every seed" if (r20_minus_r14 < 0).all() else "on average, not on every seed",
           resnet14_student_acc=size_frame[size_frame.run == sizes["resnet14"]].last_acc.mean(),
           resnet14_student_std=size_frame[size_frame.run == sizes["resnet14"]].last_acc.std(),
           four_vs_resnet14_seeds="on every seed" if (four_vs_resnet14 > 0).all() else "not on every seed",
           geo_on_every_seed="on every seed" if (geometric_minus_arithmetic[4] > 0).all() else "not on every seed",
           student_kparams=runs[single][0]["parameters"] / 1000)

# %% [markdown]
# **A bigger teacher stopped helping at the first step and hurt at the second.** The resnet14
# teacher is {glue:text}`resnet14_over_resnet8:.2f` points more accurate than the resnet8 but
# gives the student only {glue:text}`r14_gain:+.2f` ± {glue:text}`r14_gain_std:.2f` points more,
# well inside the seeds' spread; the resnet20, as accurate as the resnet14 and
# {glue:text}`resnet20_size:.2f` times its size, gives {glue:text}`r20_loss:.2f` ±
# {glue:text}`r20_loss_std:.2f` points *less* than the resnet8, and less than the resnet14
# {glue:text}`r20_below_r14`. The final distillation term tells the same story from the
# student's side: it roughly doubles from the resnet8 teacher ({glue:text}`kd_term_resnet8:.2f`)
# to the resnet14 ({glue:text}`kd_term_resnet14:.2f`) and grows again for the resnet20
# ({glue:text}`kd_term_resnet20:.2f`); the student fits the larger teachers' soft targets less
# and less well. This is the capacity gap of Cho and Hariharan and of Mirzadeh et al.
# {cite}`cho2019efficacy,mirzadeh2020improved` at a very small scale: the best teacher for a
# student of {glue:text}`student_kparams:.0f` k parameters is not the most accurate one but one whose function
# the student can represent, and here the same-size teacher, or several of them, is as good as
# any. (The resnet20 teacher ran on every batch instead of from a cache, which changes
# nothing but the time: the cache stores exactly the outputs the teacher gives on each view.)

# %% [markdown]
# ## What each option costs
#
# Training seconds per epoch (mean over seeds), relative to KD from one resnet8 teacher with
# its outputs cached. The runs of this chapter trained one after the other on an otherwise
# idle machine; the resnet14-teacher KD runs are the book's headline runs, trained apart. An
# ensemble reads a cache as cheaply as one teacher does: its cache is the combination of its
# members' caches, built once per member. A mixed batch, or a teacher used by too few runs
# for a cache to be worth building (the resnet20 here: three runs), runs the teacher on every
# batch.

# %%
everything = {**runs, **augmented, **{k: v for k, v in by_size.items() if "resnet20" in k}}
costs = results.cost(results.compare(everything, baseline=single)[0], baseline=single)
costs.rename(columns={"ratio to alone": f"ratio to {single}"})

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
ratio = costs["ratio to alone"]
per_epoch = costs["sec_per_epoch"]
on_every_batch = ratio[["+ mixup", "+ cutmix", sizes["resnet20"]]]
member_runs = [experiment.run(cfg) for cfg in ensembles["4 × resnet8, mean logits"].teacher_configs()]
new_teachers = [*member_runs, teachers["resnet20"]]
new_students = [run for label, group in everything.items() if label != book_kd for run in group]
optional = [run for label in ("2 × resnet8, mean logits", "2 × resnet8, mean probabilities", "+ cutmix")
            for run in everything[label]]


def minutes(runs):
    return sum(run["wall_seconds_this_session"] for run in runs) / 60


prose.glue(ensemble_x_low=ratio[list(ensembles)].min(), ensemble_x_high=ratio[list(ensembles)].max(),
           member_minutes=minutes(member_runs) / len(member_runs),
           every_batch_x_low=on_every_batch.min(), every_batch_x_high=on_every_batch.max(),
           mixup_x_kd=per_epoch["+ mixup"] / per_epoch[book_kd], cutmix_x_kd=per_epoch["+ cutmix"] / per_epoch[book_kd],
           new_teachers=len(new_teachers), teacher_minutes=minutes(new_teachers),
           new_students=len(new_students), student_minutes=minutes(new_students),
           chapter_minutes=minutes(new_teachers) + minutes(new_students), optional_minutes=minutes(optional))

# %% [markdown]
# Distilling from an ensemble costs nothing per epoch once its members' outputs are cached:
# the ensembles' epochs take {glue:text}`ensemble_x_low:.2f` to {glue:text}`ensemble_x_high:.2f`
# times the single teacher's. Its price is paid before: training the extra teachers
# ({glue:text}`member_minutes:.1f` minutes each for a resnet8 here, by their stored wall times)
# and computing each one's cache once. Mixing and an uncached teacher cost
# {glue:text}`every_batch_x_low:.2f` to {glue:text}`every_batch_x_high:.2f` times the epoch,
# because the teacher runs on every batch; chapter 12 works out when a cache pays for itself.
#
# **This chapter's budget.** The runs above took, by their stored wall times,
# {glue:text}`teacher_minutes:.1f` minutes for the {glue:text}`new_teachers` new teachers (four
# resnet8 networks and the resnet20) and {glue:text}`student_minutes:.1f` minutes for the
# {glue:text}`new_students` student runs, {glue:text}`chapter_minutes:.1f` minutes in all, before
# process start, data loading and the four members' caches, which come on top when the chapter
# runs from nothing. That is over the half hour we aimed for. We kept every configuration
# because each answers a question of this chapter; a reader short of time can drop the
# two-member ensembles and CutMix ({glue:text}`optional_minutes:.1f` minutes of those runs) with
# `seeds` unchanged, or run the chapter with `profile = "smoke"` in minutes.
