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
# # Relations between samples: SP, CC, RKD and PKT
#
# Every method so far asks the student to reproduce something the teacher computes for *one*
# image: its logits, a hint map, an attention map, where its neurons switch on. The four methods
# of this chapter ask instead for the teacher's **relations between images**: which images of a
# batch it finds alike, how far apart it places them, which it would group. A relation is a
# number per *pair* (or triplet) of images, so it is a matrix over the batch, whatever the width
# of either network: no connector is needed to compare a 64-channel student with a 256-channel
# teacher. For a batch of $b$ images with features $f_1, \dots, f_b$ (flattened):
#
# * **SP**, similarity-preserving KD {cite}`tung2019similarity`: the Gram matrix $G_{ij} = f_i
#   \cdot f_j$ of the last stage's map, each row normalised to unit length, compared by
#   $\mathcal{L}_\text{SP} = \tfrac{1}{b^2} \| \tilde G_T - \tilde G_S \|_F^2$.
# * **CC**, correlation congruence {cite}`peng2019correlation`: both pooled penultimate vectors
#   pass through a trainable linear embedding (to 128 dimensions); the paper then matches
#   correlation matrices built from a Gaussian kernel, approximated by its Taylor series.
# * **RKD**, relational KD {cite}`park2019relational`: the pairwise distances of the pooled
#   vectors, each network's divided by its mean distance, and the cosines of the angles of every
#   triplet, each compared by the Huber loss, weighted 25 and 50.
# * **PKT**, probabilistic knowledge transfer {cite}`passalis2018learning`: cosine similarities
#   of the pooled vectors shifted to $[0, 1]$ and normalised per row into conditional
#   probabilities $p_{j \mid i}$, compared by the KL divergence.
#
# All four are trained beside cross-entropy with RepDistiller's weights {cite}`repdistiller`
# (SP 3000, CC 0.02, RKD 1, PKT 30 000; no KD term), which produced the CRD tables' rows for
# them. **Where the code and the paper differ:** RepDistiller's CC is the code the CC authors
# gave it, which is not the paper's kernel: it multiplies the absolute student–teacher
# differences of *consecutive* samples of the batch, $\tfrac{1}{b-1} \sum_i \sum_d
# |e^S_{i,d} - e^T_{i,d}| \, |e^S_{i+1,d} - e^T_{i+1,d}|$, and it trains the teacher's embedding
# too. We implement that form as the default (`kdsrc.losses.cc_loss`) and the paper's kernel as
# `form="paper"`. PKT's code averages its KL over the $b^2$ entries where the paper sums them,
# a constant factor the weight absorbs. SP and RKD follow their papers exactly.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # smoke (seconds), cpu (the book), paper (CIFAR-100 on a GPU)
seeds = 5  # seeds of every method (the headline table's)
fresh_results = False  # True: train everything anew in a temporary folder
stored_only = False  # True: fail instead of training a missing run (regression tests)

# %%
import torch

from kdsrc import engine, examples, experiment, losses, plots, probes, prose, results, studies
from kdsrc.config import make_config

experiment.use(fresh=fresh_results, stored_only=stored_only)
METHODS = {"sp": "SP", "cc": "CC", "rkd": "RKD", "pkt": "PKT"}
configs = {method: make_config(method, profile) for method in METHODS}
data = experiment.dataset_for(configs["sp"])

# %% [markdown]
# ## The losses
#
# The four losses as `kdsrc.losses` computes them, on a fixed batch (`kdsrc.examples`: the same
# float64 numbers on every machine) whose student and teacher differ in width. Shuffling the
# batch, the same way for both networks, leaves SP, RKD and PKT unchanged: they compare
# relations, and a relation does not depend on where a pair sits in the batch. RepDistiller's CC
# changes, because it multiplies neighbours in the batch's order.

# %%
display(prose.source(losses.sp_loss))
display(prose.source(losses.cc_loss))
display(prose.source(losses.rkd_loss))
prose.source(losses.pkt_loss)

# %% tags=["nbval-check-output"]
student_map, teacher_map = examples.feature_map(8, 4, 2, seed=0), examples.feature_map(8, 16, 2, seed=1)
student_vec, teacher_vec = student_map.flatten(1), teacher_map.flatten(1)
order = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
for name, loss, s, t in (("sp_loss", losses.sp_loss, student_map, teacher_map),
                         ("rkd_loss", losses.rkd_loss, student_vec, teacher_vec),
                         ("pkt_loss", losses.pkt_loss, student_vec, teacher_vec),
                         ("cc_loss", losses.cc_loss, student_vec[:, :8], teacher_vec[:, :8])):
    print(f"{name} = {loss(s, t).item():.6g}, batch shuffled: {loss(s[order], t[order]).item():.6g}")

# %% [markdown]
# ## What is transferred
#
# The relation matrices of 64 test images, sorted by class, for the teacher, the student alone
# and each distilled student (seed 0, the networks its run kept). Blocks on the diagonal are
# images of one class that a network relates; what the methods copy is the pattern of the
# teacher's panel, including how it relates images of *different* classes.

# %%
teacher = experiment.run(configs["sp"].teacher_config())
alone = experiment.run_seeds(make_config("vanilla", profile), seeds)
distilled = {label: experiment.run_seeds(configs[method], seeds) for method, label in METHODS.items()}
images, labels = data.test.images[:64], data.test.labels[:64]
networks = {"teacher": experiment.trained_distiller(configs["sp"].teacher_config()).student,
            "student alone": experiment.trained_distiller(make_config("vanilla", profile)).student}
networks |= {f"student + {label}": experiment.trained_distiller(configs[method]).student
             for method, label in METHODS.items()}
features = {name: engine.predict_features(net, images, data) for name, net in networks.items()}
for kind, (title, _, tap) in probes.RELATIONS.items():
    plots.relation_matrices(probes.relation_matrices(features, kind), labels, f"{title}, {tap}");

# %% [markdown]
# How far each student's relations are from the teacher's, on the same 64 images (mean absolute
# difference of the matrices; the student alone is the control):

# %%
gaps = probes.relation_gaps(features)
results.show(gaps.pivot(index="model", columns="relation", values="mean |difference| to the teacher")
             .reset_index().round(4))

# %% [markdown]
# ## Results
#
# Test accuracy at the last epoch over the seeds, at RepDistiller's weights, beside the student
# alone and KD; the paired gain is each method minus the student alone, seed by seed.

# %%
kd = experiment.run_seeds(make_config("kd", profile), seeds)
groups = {"teacher": [teacher], "student alone": alone, "student + KD": kd,
          **{f"student + {label}": runs for label, runs in distilled.items()}}
frame, table = results.compare(groups)
results.show(table[["run", "n", "last acc (%)", "best acc (%)", "paired gain over alone"]])

# %% [markdown]
# Each method against KD, seed by seed (a t-interval over the paired differences):

# %%
against_kd = results.paired_gains(frame[frame.run != "teacher"], baseline="student + KD")
results.show(against_kd[["run", "pairs", "paired gain", "95% CI", "verdict"]])

# %% [markdown]
# What they cost: the extra trainable parameters (CC's two embeddings; the others none) and the
# seconds per epoch relative to the student alone. Every method here runs the teacher on every
# batch for its features.

# %%
results.show(results.cost(frame, groups={k: v for k, v in groups.items() if k != "teacher"}, extra_parameters=True))

# %% [markdown]
# ## The papers' numbers
#
# Cited data from the CRD paper {cite}`tian2020contrastive` (CIFAR-100 top-1 accuracy at the
# last epoch, as RepDistiller trains each method): its two tables for these four methods.

# %%
crd = results.crd_reference()
results.show(results.cited_gain_summary(crd, list(METHODS)))

# %% tags=["remove-cell"]
# (hidden in the book) the numbers of the conclusion
wide = frame.pivot(index="seed", columns="run", values="last_acc")
gains = {label: wide[f"student + {label}"] - wide["student alone"] for label in METHODS.values()}
kd_gain = wide["student + KD"] - wide["student alone"]
best = max(gains, key=lambda label: gains[label].mean())
prose.glue(best_relation=best, best_relation_gain=gains[best].mean(), best_relation_std=gains[best].std(),
           kd_gain=kd_gain.mean(), kd_gain_std=kd_gain.std(), relation_seeds=len(kd_gain))

# %% [markdown]
# **What our runs show.** Over {glue:text}`relation_seeds` seeds the strongest of the four is
# {glue:text}`best_relation`, {glue:text}`best_relation_gain:+.2f` ±
# {glue:text}`best_relation_std:.2f` points over the student alone, against
# {glue:text}`kd_gain:+.2f` ± {glue:text}`kd_gain_std:.2f` for KD; the table against KD says
# which differences the spread supports.
