"""Decoupled knowledge distillation (Zhao et al., CVPR 2022).

KD's KL splits at the target class into TCKD, the binary target-vs-rest KL, and NCKD, the KL
among the other classes, whose weight in KD is ``1 - p_t`` of the teacher: small exactly where
the teacher is confident. DKD weights them freely (:func:`kdsrc.losses.dkd_loss`; the two weighted terms are kept apart in
the losses, so a run's history shows each). As mdistiller's
``DKD`` (the authors' code): ``ce_weight * CE + warmup * (alpha * TCKD + beta * NCKD)`` with CE
weight 1, alpha 1, beta 8, T = 4, the warm-up ``min(epoch / 20, 1)`` over its 240 epochs counted
from 1 (scaled to the run's length: :data:`~kdsrc.distillers.base.WARMUP_SHARE`). mdistiller's
per-pair beta (2 for resnet56/110 pairs, 6 for vgg and wrn pairs) is set by the paper plan.
``standardize`` applies logit standardisation to both networks' logits first (Sun et al.,
CVPR 2024; their "DKD + ours" multiplies alpha and beta by 9 and uses T = 2). It needs each
image's hard label, so it refuses mixing.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import dkd_terms, standardize_logits
from .base import TEMPERATURE_SCALES, WARMUP_SHARE, WEIGHT_SCALES, Distiller, linear_warmup
from ..validate import require_bool, require_non_negative, require_number, require_positive


@dataclass(frozen=True)
class DKDConfig:
    ce_weight: float = 1.0
    alpha: float = 1.0
    beta: float = 8.0
    temperature: float = 4.0
    warmup: float = WARMUP_SHARE  # share of the run over which the weight grows to 1
    standardize: bool = False

    def __post_init__(self):
        for name in ("ce_weight", "alpha", "beta"):
            require_non_negative(name, getattr(self, name))
        require_positive("temperature", self.temperature)
        require_number("warmup", self.warmup, low=0, high=1)
        require_bool("standardize", self.standardize)


class DKD(Distiller):
    """Student trained on CE and the decoupled (TCKD, NCKD) split of KD's KL, NCKD reweighted."""

    Config = DKDConfig
    needs_teacher = True
    needs_hard_labels = True  # TCKD and NCKD split at each image's one target class
    reads_only_teacher_logits = True
    tuning = {"beta": WEIGHT_SCALES, "temperature": TEMPERATURE_SCALES}

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        teacher = self.teacher_logits(x, step)
        student = logits
        if self.config.standardize:
            student, teacher = standardize_logits(logits.float()), standardize_logits(teacher.float())
        tckd, nckd = dkd_terms(student, teacher, y, self.config.temperature)
        warmup = linear_warmup(step, self.config.warmup, first_epoch=1)
        return logits, {  # dkd_loss's two terms apart, so that a run's history shows each
            "ce": self.config.ce_weight * F.cross_entropy(logits, y),
            "tckd": warmup * self.config.alpha * tckd,
            "nckd": warmup * self.config.beta * nckd,
        }
