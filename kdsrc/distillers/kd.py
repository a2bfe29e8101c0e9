"""Vanilla knowledge distillation (Hinton, Vinyals & Dean 2015).

Loss: ``ce_weight * CE(z_s, y) + kd_weight * T^2 KL(softmax(z_t/T) || softmax(z_s/T))``.
Defaults are RepDistiller's CIFAR-100 KD recipe (``-r 0.1 -a 0.9 --kd_T 4``), the weights the
attention-transfer code also uses (``alpha=0.9, T=4``). The paper's form is a weighted average
of the hard-label cross-entropy and the soft-target cross-entropy at a high temperature (T=20 for
its MNIST result), with a "considerably lower" weight on the hard term; the soft-target
cross-entropy and the KL used here differ by a constant, so the paper's form is these same
options with other values (e.g. ``temperature=20``).
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import kd_loss
from .base import TEMPERATURE_SCALES, WEIGHT_SCALES, Distiller
from ..validate import require_non_negative, require_positive


@dataclass(frozen=True)
class KDConfig:
    temperature: float = 4.0
    ce_weight: float = 0.1
    kd_weight: float = 0.9

    def __post_init__(self):
        require_positive("temperature", self.temperature)
        require_non_negative("ce_weight", self.ce_weight)
        require_non_negative("kd_weight", self.kd_weight)


class KD(Distiller):
    """Student trained on hard labels and the teacher's temperature-softened outputs."""

    Config = KDConfig
    needs_teacher = True
    tuning = {"kd_weight": WEIGHT_SCALES, "temperature": TEMPERATURE_SCALES}
    reads_only_teacher_logits = True  # its loss reads only the teacher's logits: the view cache serves them
    soft_loss = staticmethod(kd_loss)  # the distillation term on (student, teacher logits, T)

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        if self.config.kd_weight:
            soft = self.soft_loss(logits, self.teacher_logits(x, step), self.config.temperature)
        else:  # a zero weight (RepDistiller's AB main stage) needs no teacher pass; a zero on the
            soft = logits.float().sum() * 0.0  # student's graph keeps per-loss gradients defined
        return logits, {
            "ce": self.config.ce_weight * F.cross_entropy(logits, y),
            "kd": self.config.kd_weight * soft,
        }
