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
# # Vanilla knowledge distillation
#
# Hinton, Vinyals and Dean {cite}`hinton2015distilling` proposed to train a small *student*
# network not only on the labels but also on the output distribution of a large *teacher*.
# The labels say which class is right; the teacher's probabilities also say how wrong each
# wrong class is — that a shirt looks more like a pullover than like a sneaker. This chapter
# builds the method from its three ingredients (soft targets, temperature, the KL loss),
# measures it against the student alone over several seeds, and sweeps its two knobs.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 3  # seeds of the student alone and of KD
temperatures = [1, 2, 4, 8]  # temperature sweep (seed 0, default weights)
weights = [[0.1, 0.9], [0.5, 0.5], [0.0, 1.0]]  # (ce_weight, kd_weight) pairs: seed 0, default temperature
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import torch

from kdsrc import engine, examples, experiment, losses, plots, prose, results, teachers
from kdsrc.config import make_config
from kdsrc.plots import FASHION_CLASSES

experiment.use(fresh=fresh_results, stored_only=stored_only)
kd_cfg = make_config("kd", profile)
teacher_cfg = kd_cfg.teacher_config()
data = experiment.dataset_for(kd_cfg)

# %% [markdown]
# ## Hard targets and soft targets
#
# A *hard target* is the one-hot label: all probability on the right class. A *soft target* is
# a full distribution, here the teacher's softmax output
# $p_i = \exp(z_i) / \sum_j \exp(z_j)$ over its logits $z$. Only differences between logits
# matter: adding the same constant to every logit leaves the softmax unchanged, so the logits
# $[2, 3, 4]$ and $[-2, -1, 0]$ give exactly the same distribution.

# %% tags=["nbval-check-output"]
for logits in ([2.0, 3.0, 4.0], [-2.0, -1.0, 0.0]):
    print(logits, "->", [round(p, 4) for p in torch.softmax(torch.tensor(logits), 0).tolist()])

# %% [markdown]
# ## Temperature
#
# A well-trained teacher is confident: its softmax puts nearly all mass on one class and the
# information about the other classes sits in tiny probabilities. Dividing the logits by a
# *temperature* $T > 1$ before the softmax, $p_i(T) = \exp(z_i/T) / \sum_j \exp(z_j/T)$, flattens
# the distribution and brings those small probabilities into view. Below, the teacher's logits
# for the first test image, softened at growing temperatures.

# %%
teacher = experiment.run(teacher_cfg)
teacher_net = teachers.load_weights(teacher_cfg)
first_logits = engine.predict(teacher_net, data.test.images[:1], data)[0]
print("label of the first test image:", FASHION_CLASSES[data.test.labels[0]])
plots.softmax_temperatures(first_logits, class_names=FASHION_CLASSES);

# %% [markdown]
# ## The loss
#
# The student's loss mixes the two kinds of target:
#
# $$
# \mathcal{L} = \gamma \, \mathrm{CE}\big(y, \sigma(z_s)\big)
#   + \alpha \, T^2 \, \mathrm{KL}\big(\sigma(z_t/T) \,\|\, \sigma(z_s/T)\big),
# $$
#
# with $\sigma$ the softmax, $z_s, z_t$ the student's and the teacher's logits. The KL is summed
# over classes and averaged over the batch (`kdsrc.losses.kd_loss`). The factor $T^2$ keeps the
# soft term's gradients at the same scale whatever $T$ (they shrink as $1/T^2$ otherwise). The
# paper writes the soft term as a cross-entropy with the soft targets; it differs from the KL
# by the teacher's entropy, a constant for the student, so the gradients are the same. Our
# defaults are RepDistiller's CIFAR-100 recipe {cite}`tian2020contrastive`: $T = 4$,
# $\gamma = 0.1$ (`ce_weight`), $\alpha = 0.9$ (`kd_weight`); Hinton et al. used $T = 20$ for
# their MNIST result and found a small weight on the hard term best.
#
# The soft term as `kdsrc.losses` computes it, then its value on two fixed sets of logits
# (`kdsrc.examples`: the same float64 numbers on every machine) at four temperatures, with the
# bare KL and the norm of its gradient with respect to the student's logits. With the factor
# $T^2$ the gradient stays of the same order as $T$ grows; without it, it shrinks roughly as $1/T^2$.

# %%
prose.source(losses.kd_loss)

# %% tags=["nbval-check-output"]
student_logits, teacher_logits = examples.logits(seed=0), examples.logits(seed=1)
for t in (1, 2, 4, 8):
    z = student_logits.clone().requires_grad_()
    value = losses.kd_loss(z, teacher_logits, temperature=t)
    (grad,) = torch.autograd.grad(value, z)
    print(f"T = {t}: kd_loss = {value.item():.6g}, KL = {value.item() / t**2:.6g}, "
          f"|gradient| = {grad.norm().item():.6g} (without T^2: {grad.norm().item() / t**2:.6g})")

# %% [markdown]
# The teacher is frozen: in evaluation mode, without gradients. Because the training
# augmentation (crop after 2-pixel padding, flip) gives every image only 50 distinct views, the
# teacher's logits for all views are computed once and looked up during training
# (`kdsrc.teachers.logit_cache`); a KD epoch then costs about as much as an epoch of the student alone.

# %% [markdown]
# ## KD against the student alone
#
# The same student, data, schedule and seeds; only the loss differs.

# %%
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
distilled = experiment.run_seeds(kd_cfg, seeds)
frame, table = results.compare({"teacher": [teacher], "student alone": alone, "student + KD": distilled})

# %% tags=["nbval-check-output"]
table[["run", "model", "n", "last acc (%)", "best acc (%)", "paired gain over alone", "final train loss"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
last = frame.groupby("run", sort=False).last_acc
wide = frame.pivot(index="seed", columns="run", values="last_acc")
kd_gains = wide["student + KD"] - wide["student alone"]
prose.glue(alone_acc=last.mean()["student alone"], alone_std=last.std()["student alone"],
           kd_acc=last.mean()["student + KD"], kd_std=last.std()["student + KD"],
           kd_gain=kd_gains.mean(), kd_gain_std=kd_gains.std())

# %% [markdown]
# The *paired gain* compares each KD run with the student-alone run of the same seed (same
# initial weights, same batches and augmentations), which removes much of the seed-to-seed
# noise. Here KD lifts the student from {glue:text}`alone_acc:.2f` % to {glue:text}`kd_acc:.2f` %,
# a paired gain of {glue:text}`kd_gain:+.2f` ± {glue:text}`kd_gain_std:.2f` points, where the
# student alone's seeds spread by {glue:text}`alone_std:.2f` points.

# %%
plots.learning_curves({"student alone": alone, "student + KD": distilled});

# %% [markdown]
# What distillation costs here: training seconds per epoch of the stored runs (mean over seeds)
# and the ratio to the student alone. With the teacher's logits looked up in the view cache the
# teacher adds almost nothing per epoch (a KD epoch took {glue:text}`kd_cost_ratio:.2f` times an
# epoch of the student alone in the stored runs); its one-time cost is its own training and one pass over
# all views. Timings depend on the machine and on what else it was doing.

# %%
cost = results.cost(frame)
prose.glue(kd_cost_ratio=cost.loc["student + KD", "ratio to alone"])
results.show(cost)

# %% [markdown]
# ## Sweeping the temperature
#
# One seed per point: this shows the trend, not a significant ranking of neighbouring values.

# %%
temperature_runs = [experiment.run(make_config("kd", profile, temperature=t)) for t in temperatures]
temperature_frame = results.to_frame(temperature_runs)
alone_seed0 = alone[0]["last_test_acc"]

# %% tags=["nbval-check-output"]
temperature_frame[["temperature", "ce_weight", "kd_weight", "last_acc", "best_acc", "final_train_loss"]].round(4)

# %%
plots.sweep(temperature_frame, x="temperature", baseline=alone_seed0, baseline_label="student alone (seed 0)");

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
by_temperature = temperature_frame.set_index("temperature").last_acc
prose.glue(best_temperature=by_temperature.idxmax(), best_temperature_acc=by_temperature.max(),
           worst_temperature=by_temperature.idxmin(), worst_temperature_acc=by_temperature.min(),
           temperatures_above_alone=int((by_temperature > alone_seed0).sum()),
           temperatures=len(by_temperature), alone_seed0=alone_seed0)

# %% [markdown]
# The highest last-epoch accuracy of the sweep is at temperature
# {glue:text}`best_temperature:g` ({glue:text}`best_temperature_acc:.2f` %), the lowest at
# {glue:text}`worst_temperature:g` ({glue:text}`worst_temperature_acc:.2f` %);
# {glue:text}`temperatures_above_alone:d` of the {glue:text}`temperatures:d` temperatures end
# above the student alone of the same seed ({glue:text}`alone_seed0:.2f` %).

# %% [markdown]
# ## Sweeping the weights of the hard and the soft term
#
# `ce_weight` multiplies the cross-entropy with the labels, `kd_weight` the distillation term;
# $(0, 1)$ trains on the teacher's soft targets alone.

# %%
weight_runs = [experiment.run(make_config("kd", profile, ce_weight=ce, kd_weight=kd)) for ce, kd in weights]
weight_frame = results.to_frame(weight_runs)
weight_frame["(ce, kd)"] = [f"({ce}, {kd})" for ce, kd in weights]

# %% tags=["nbval-check-output"]
weight_frame[["(ce, kd)", "temperature", "last_acc", "best_acc", "final_train_loss"]].round(4)

# %%
plots.sweep(weight_frame, x="(ce, kd)", baseline=alone_seed0, baseline_label="student alone (seed 0)");

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
by_weights = weight_frame.set_index("(ce, kd)").last_acc
prose.glue(best_weights=by_weights.idxmax(), weights_range=by_weights.max() - by_weights.min(),
           soft_only_acc=by_weights["(0.0, 1.0)"], soft_only_vs_alone="above" if by_weights["(0.0, 1.0)"] > alone_seed0 else "below")

# %% [markdown]
# The three weightings end within {glue:text}`weights_range:.2f` points of each other, the
# highest being {glue:text}`best_weights`: a difference of the order of KD's own spread over
# seeds ({glue:text}`kd_std:.2f` points), so with one seed each this does not rank them. Even the soft
# targets alone, without a single label, reach {glue:text}`soft_only_acc:.2f` %,
# {glue:text}`soft_only_vs_alone` the student alone of the same seed.

# %% [markdown]
# ## Our numbers beside the papers'
#
# The papers did not use our data or our networks, so the comparison is of *effects*, not of
# accuracies: how much KD adds over the student alone, and how far the student stays from the
# teacher. The papers' numbers are cited data from `results/reference/kd.csv`, each row naming
# its paper, table and whether we could verify it against the source.

# %% tags=["nbval-check-output"]
ours = table[["run", "model", "n", "last acc (%)", "paired gain over alone"]].assign(
    data=f"{data.name} ({profile} profile)")
ours

# %%
cited = results.reference("kd")
crd = results.cited_gains(cited[cited.dataset == "cifar100"], "kd")
results.show_cited(crd)

# %% [markdown]
# CRD paper {cite}`tian2020contrastive`, CIFAR-100 top-1 (%), last epoch, as printed in the
# RepDistiller README. Hinton et al.'s MNIST experiment, in test errors out of 10 000:

# %%
cited[cited.dataset == "mnist"][["paper", "table", "teacher", "student", "method", "value", "verified", "source"]]

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the text below
mnist_errors = cited[cited.dataset == "mnist"].set_index("method").value
within = crd["kd gain"].min() <= kd_gains.mean() <= crd["kd gain"].max()
prose.glue(crd_pairs=len(crd), crd_kd_gain_min=crd["kd gain"].min(), crd_kd_gain_max=crd["kd gain"].max(),
           kd_gain_vs_crd="inside" if within else "outside",
           mnist_teacher=mnist_errors["teacher"], mnist_student=mnist_errors["student"], mnist_kd=mnist_errors["kd"])

# %% [markdown]
# Over the CRD paper's {glue:text}`crd_pairs:d` pairs, KD adds between
# {glue:text}`crd_kd_gain_min:+.2f` and {glue:text}`crd_kd_gain_max:+.2f` points; our paired gain,
# {glue:text}`kd_gain:+.2f` points on a different dataset and schedule, lies
# {glue:text}`kd_gain_vs_crd` that range. In Hinton et al.'s experiment, distillation takes the
# small network from {glue:text}`mnist_student:.0f` to {glue:text}`mnist_kd:.0f` test errors,
# close to the teacher's {glue:text}`mnist_teacher:.0f`.
