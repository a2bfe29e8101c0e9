"""What a network's features and logits show about the methods (tensors in, tables out)."""
import pandas as pd
import torch

from .losses import (binary_kl, binary_kl_norm, kd_loss, nst_channel_kernel, pkt_probabilities, rkd_distances,
                     sp_similarities)


def boundary_table(features: dict, margin: float = 1.0, stages=(1, 2, 3)) -> pd.DataFrame:
    """Per model and stage, from pre-ReLU outputs (Heo et al. 2019): the share of neurons that are on
    (> 0), and the share inside the margin band (|x| < margin), where the AB loss acts even on a
    neuron that is on the teacher's side of its boundary."""
    rows = []
    for name, feats in features.items():
        for stage in stages:
            pre = feats.preacts[stage]
            rows.append({"model": name, "stage": stage, "channels": pre.shape[1],
                         "on (%)": 100 * (pre > 0).float().mean().item(),
                         "inside ±margin (%)": 100 * (pre.abs() < margin).float().mean().item()})
    return pd.DataFrame(rows)


@torch.no_grad()
def classifier_table(features: dict, classifier: torch.nn.Module, labels: torch.Tensor) -> pd.DataFrame:
    """Per model, the test accuracy (%) of its own classifier and of ``classifier`` (e.g. the
    teacher's) applied to its pooled penultimate feature: the check behind SRRL's softmax
    regression (Yang et al. 2021, Eq. 5)."""
    return pd.DataFrame([_reading(name, feats.logits, classifier(feats.pooled), labels) for name, feats in features.items()])


def _reading(model: str, own_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor) -> dict:
    """A row of the classifier tables: the accuracy (%) of a model's own logits and of the teacher's
    classifier reading its feature."""
    return {"model": model, "own classifier acc (%)": 100 * (own_logits.argmax(1) == labels).float().mean().item(),
            "teacher classifier acc (%)": 100 * (teacher_logits.argmax(1) == labels).float().mean().item()}


@torch.no_grad()
def teacher_reading(features: dict, distillers: dict, labels: torch.Tensor) -> pd.DataFrame:
    """Per SRRL distiller (``distillers[name]``, e.g. as its run started and as it ended:
    :func:`kdsrc.experiment.initial_distiller`, :func:`~kdsrc.experiment.trained_distiller`) and
    its student's :class:`~kdsrc.models.Features` on some images (``features[name]``), the test
    accuracy (%) of the student's own classifier and of the teacher's classifier reading the
    student's connected feature (:meth:`kdsrc.distillers.srrl.SRRL.read_by_teacher`)."""
    return pd.DataFrame([_reading(name, feats.logits, distillers[name].read_by_teacher(feats), labels)
                         for name, feats in features.items()])


def logit_levels(logits: dict[str, list[float]], temperature: float = 1.0) -> pd.DataFrame:
    """Per logit vector and class: the logit, its softmax probability and its per-class sigmoid at
    ``temperature``. Softmax is shift-invariant, the sigmoids are not: the information a
    logit-level loss such as BinaryKL (Yang et al. 2024, Dual-Head KD) can use."""
    rows = []
    for name, values in logits.items():
        z = torch.tensor(values, dtype=torch.float64)
        for k, (logit, p, s) in enumerate(zip(z, torch.softmax(z / temperature, 0), torch.sigmoid(z / temperature))):
            rows.append({"logits": name, "class": k, "logit": logit.item(), "softmax": p.item(), "sigmoid": s.item()})
    return pd.DataFrame(rows)


def loss_between(student: list[float], teacher: list[float], temperatures=(1, 2, 4)) -> pd.DataFrame:
    """Hinton KD, BinaryKL and BinaryKL-Norm between one student and one teacher logit vector, per
    temperature: zero for KD whenever the two differ by a constant, never for the logit-level losses."""
    s = torch.tensor([student], dtype=torch.float32)
    t = torch.tensor([teacher], dtype=torch.float32)
    return pd.DataFrame([{"T": T, "KD (softmax KL)": kd_loss(s, t, T).item(), "BinaryKL": binary_kl(s, t, T).item(),
                          "BinaryKL-Norm": binary_kl_norm(s, t, T).item()} for T in temperatures])


# What each sample-relation method of Part IV makes the student copy: the matrix over a batch, and
# the features it is computed from (the last stage's map, or the pooled penultimate vector).
RELATIONS = {"similarity": ("similarity (SP)", sp_similarities, "last stage map"),
             "distance": ("distance / mean (RKD)", rkd_distances, "pooled vector"),
             "probability": ("conditional probability (PKT)", pkt_probabilities, "pooled vector")}


@torch.no_grad()
def relation_matrices(features: dict, kind: str) -> dict[str, torch.Tensor]:
    """Each model's batch relation matrix of ``kind`` (a key of :data:`RELATIONS`) from its
    :class:`~kdsrc.models.Features`: b x b, in the batch's order."""
    if kind not in RELATIONS:
        raise ValueError(f"kind: must be one of {sorted(RELATIONS)}, got {kind!r}")
    _, relation, tap = RELATIONS[kind]
    return {name: relation(feats.stages[-1] if tap == "last stage map" else feats.pooled)
            for name, feats in features.items()}


@torch.no_grad()
def relation_gaps(features: dict, reference: str = "teacher") -> pd.DataFrame:
    """Per model and relation (:data:`RELATIONS`), the mean absolute difference between its batch
    matrix and the ``reference`` model's: how closely it reproduces the teacher's relations."""
    rows = []
    for kind, (label, _, tap) in RELATIONS.items():
        matrices = relation_matrices(features, kind)
        for name, matrix in matrices.items():
            if name != reference:
                rows.append({"relation": label, "features": tap, "model": name,
                             "mean |difference| to the teacher": (matrix - matrices[reference]).abs().mean().item()})
    return pd.DataFrame(rows)


@torch.no_grad()
def channel_kernels(features: dict, stage: int = -1) -> dict[str, torch.Tensor]:
    """NST's view of a stage: per model, the batch mean of :func:`kdsrc.losses.nst_channel_kernel`
    (C x C); the loss matches the distribution these kernel values describe."""
    return {name: nst_channel_kernel(feats.stages[stage]).mean(0) for name, feats in features.items()}
