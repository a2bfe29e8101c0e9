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
# smaller one. **Paper and official code differ** in the distance: the official code {cite}`code_at` (and
# RepDistiller) uses the *mean squared* difference of the normalised maps, with $\beta = 1000$
# on the sum over the stages, which is what the paper's "β divided by the number of elements in
# the attention map and batch size" amounts to. We implement the official form
# (`kdsrc.losses.at_loss`); the paper's norm is `form="paper"`. Defaults: $p = 2$, the three
# stage outputs, cross-entropy weight 1 (`kdsrc.distillers.at`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of every method
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
from kdsrc import engine, examples, experiment, losses, plots, prose, results, teachers
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
at_cfg = make_config("at", profile)
data = experiment.dataset_for(at_cfg)

# %% [markdown]
# ## The loss
#
# The attention map and the loss as `kdsrc.losses` computes them, then both forms of the loss
# on two fixed pairs of feature maps (`kdsrc.examples`: the same float64 numbers on every
# machine). Student and teacher differ in channels ($8$ against $16$, then $16$ against $32$),
# and in the second pair also in size (the teacher's $8$ by $8$ map is pooled to the student's
# $4$ by $4$), with no connector. Multiplying the teacher's maps by $3$ leaves the loss
# unchanged: the normalised map keeps where a stage is active, not how strongly. The official
# value is small because it averages over positions and examples, which $\beta = 1000$
# compensates.

# %%
display(prose.source(losses.attention_map))
prose.source(losses.at_loss)

# %% tags=["nbval-check-output"]
student_maps = [examples.feature_map(4, 8, 8, seed=0), examples.feature_map(4, 16, 4, seed=1)]
teacher_maps = [examples.feature_map(4, 16, 8, seed=2), examples.feature_map(4, 32, 8, seed=3)]
print("attention maps, student:", [tuple(losses.attention_map(f).shape) for f in student_maps],
      "teacher:", [tuple(losses.attention_map(f).shape) for f in teacher_maps])
for form in ("official", "paper"):
    print(f"at_loss {form} = {losses.at_loss(student_maps, teacher_maps, form=form).item():.6g}, "
          f"with the teacher's maps times 3: {losses.at_loss(student_maps, [3 * t for t in teacher_maps], form=form).item():.6g}")

# %% [markdown]
# ## What is transferred
#
# Attention maps of the trained teacher and of the student trained alone, for the first test
# image, at the three stages. AT pulls the student's maps towards the teacher's.

# %%
teacher = experiment.run(at_cfg.teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
image = data.test.images[:1]
networks = teachers.baseline_networks(at_cfg)
plots.attention_maps({name: engine.predict_features(net, image, data) for name, net in networks.items()},
                     image[0]);

# %% [markdown]
# ## Results

# %%
distilled = experiment.run_seeds(make_config("kd", profile), seeds)
transferred = experiment.run_seeds(at_cfg, seeds)
plots.loss_curves({"AT": transferred}, terms=("ce", "at"));

# %% tags=["nbval-check-output"]
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled,
                               "student + AT": transferred})
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
wide = frame.pivot(index="seed", columns="run", values="last_acc")
at_gains = wide["student + AT"] - wide["student alone"]
kd_gains = wide["student + KD"] - wide["student alone"]
prose.glue(at_acc=wide["student + AT"].mean(), at_gain=at_gains.mean(), at_gain_std=at_gains.std(),
           at_gain_in_stds=at_gains.mean() / at_gains.std(), at_seeds_up=int((at_gains > 0).sum()),
           seeds_run=len(at_gains), kd_gain=kd_gains.mean(), kd_gain_std=kd_gains.std())

# %% [markdown]
# AT ends at {glue:text}`at_acc:.2f` %, a paired gain of {glue:text}`at_gain:+.2f` ±
# {glue:text}`at_gain_std:.2f` points over the student alone (mean ± std over seeds): positive
# in {glue:text}`at_seeds_up:d` of the {glue:text}`seeds_run:d` seeds, but only
# {glue:text}`at_gain_in_stds:.1f` times its standard deviation, a small effect beside KD's
# {glue:text}`kd_gain:+.2f` ± {glue:text}`kd_gain_std:.2f` on the same seeds.

# %% [markdown]
# What it costs: training seconds per epoch (mean over seeds). AT adds no parameters, but it
# needs the teacher's stage outputs on every batch: in the stored runs an AT epoch took
# {glue:text}`at_cost_ratio:.2f` times an epoch of the student alone, a KD epoch
# {glue:text}`kd_cost_ratio:.2f` times.

# %%
cost = results.cost(frame)
prose.glue(at_cost_ratio=cost.loc["student + AT", "ratio to alone"], kd_cost_ratio=cost.loc["student + KD", "ratio to alone"])
results.show(cost)

# %% [markdown]
# ## The papers' numbers
#
# Cited data. The CRD paper {cite}`tian2020contrastive` (CIFAR-100 top-1, last epoch):

# %%
crd = results.cited_gains(results.crd_reference(), "at")
results.show_cited(crd)

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
losing = crd[crd["at gain"] < 0]
prose.glue(crd_at_up=int((crd["at gain"] > 0).sum()), crd_pairs=len(crd), crd_at_gain_max=crd["at gain"].max(),
           crd_at_losing=" and ".join(f"{t} → {s} ({g:+.2f})" for t, s, g in zip(losing.teacher, losing.student, losing["at gain"])))

# %% [markdown]
# AT gains in {glue:text}`crd_at_up:d` of the {glue:text}`crd_pairs:d` pairs, at most
# {glue:text}`crd_at_gain_max:+.2f` points; it loses heavily in {glue:text}`crd_at_losing`.
#
# The AT paper's own Table 1 (CIFAR-10 test **error**, %, median of 5 runs), read from the paper:

# %%
cited = results.reference("ild")
at_paper = cited[cited.paper.str.contains("Zagoruyko")].rename(columns={"teacher": "teacher net", "student": "student net"})
errors = at_paper.pivot_table(index=["teacher net", "student net"], columns="method", values="value", sort=False)[
    ["student", "at", "kd", "at_kd", "teacher"]].reset_index()
prose.glue(at_paper_pairs=len(errors), at_paper_at_better=int((errors["at"] < errors["student"]).sum()),
           at_paper_at_kd_best=int((errors["at_kd"] < errors[["at", "kd"]].min(axis=1)).sum()))
errors

# %% [markdown]
# There AT lowers the student's error in {glue:text}`at_paper_at_better:d` of the
# {glue:text}`at_paper_pairs:d` pairs, and AT combined with KD is lower than either alone in
# {glue:text}`at_paper_at_kd_best:d`.
