"""Cross-entropy and BinaryKL on one linear head: the combination Dual-Head KD (Yang et al. 2024)
shows collapsing.

``ce_weight * CE(z, y) + kd_weight * BinaryKL(z, teacher; T)`` on the student's own logits
(:func:`kdsrc.losses.binary_kl`, the official ``BinaryKL`` used for the paper's single-head
study; T = 2 as the official loss's default). ``measure_gradients`` records, per epoch, the
cosine between the two losses' gradients on the classifier's weights and on the backbone: the
DHKD paper argues they conflict on the former and not on the latter.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import binary_kl
from . import gradients
from .base import Distiller
from .validate import require_bool, require_non_negative, require_positive


@dataclass(frozen=True)
class CEBinaryKLConfig:
    ce_weight: float = 1.0
    kd_weight: float = 1.0
    temperature: float = 2.0
    measure_gradients: bool = False

    def __post_init__(self):
        require_non_negative("ce_weight", self.ce_weight)
        require_non_negative("kd_weight", self.kd_weight)
        require_positive("temperature", self.temperature)
        require_bool("measure_gradients", self.measure_gradients)


class CEBinaryKL(Distiller):
    """Student's single head trained on cross-entropy plus BinaryKL to the teacher's logits."""

    Config = CEBinaryKLConfig
    needs_teacher = True
    caches_teacher_logits = True

    def __init__(self, student, teacher, config: CEBinaryKLConfig = CEBinaryKLConfig(), example=None):
        super().__init__(student, teacher)
        self.config = config

    def forward_train(self, x, y, keys=None):
        logits = self.student(x)
        return logits, {
            "ce": self.config.ce_weight * F.cross_entropy(logits, y),
            "kd": self.config.kd_weight * binary_kl(logits, self.teacher_logits(x, keys), self.config.temperature),
        }

    def backward(self, losses):
        if not self.config.measure_gradients:
            return super().backward(losses)
        return gradients.combine(self.named_trainable_parameters(), losses["ce"], losses["kd"],
                                 classifier_prefix="student.fc.", backbone_prefix="student.")
