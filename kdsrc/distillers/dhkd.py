"""Dual-Head Knowledge Distillation (Yang et al. 2024, "Dual-Head Knowledge Distillation").

A logit-level loss (:func:`kdsrc.losses.binary_kl_norm`) uses what a softmax throws away, but on
the same linear classifier as cross-entropy it can make training collapse
(:mod:`kdsrc.distillers.ce_binary_kl`). DHKD gives it its own head: an auxiliary classifier on
the same pooled penultimate feature, trained only by BinaryKL-Norm, while the original head is
trained only by cross-entropy and is the one used at test time. As the official code
(penghui-yang/DHKD): ``ce_weight * CE(head 1) + kd_weight * BinaryKL-Norm(head 2, teacher; T)``
with the CIFAR-100 values 1, 1 and T = 2; no softmax-KD term; the auxiliary head linear
(default) or the official nonlinear form (Linear(d, 200), Dropout 0.1, BN, ReLU, Linear(200, C));
``grad_align`` applies the official one-way projection of the distillation gradient
(:func:`kdsrc.distillers.gradients.combine`). ``measure_gradients`` records, per epoch, the cosine
between the two losses' gradients on the backbone (their classifiers are disjoint).
"""
from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from ..losses import binary_kl_norm
from . import gradients
from .base import TEMPERATURE_SCALES, WEIGHT_SCALES, Distiller
from ..validate import require_bool, require_choice, require_non_negative, require_positive


@dataclass(frozen=True)
class DHKDConfig:
    ce_weight: float = 1.0
    kd_weight: float = 1.0
    temperature: float = 2.0
    aux_head: str = "linear"
    grad_align: bool = False
    measure_gradients: bool = False

    def __post_init__(self):
        require_non_negative("ce_weight", self.ce_weight)
        require_non_negative("kd_weight", self.kd_weight)
        require_positive("temperature", self.temperature)
        require_choice("aux_head", self.aux_head, ("linear", "nonlinear"))
        require_bool("grad_align", self.grad_align)
        require_bool("measure_gradients", self.measure_gradients)


def auxiliary_head(features: int, classes: int, kind: str) -> nn.Module:
    """DHKD's second head on the pooled feature: linear, or the official ``NonLinearClassifier``."""
    if kind == "linear":
        return nn.Linear(features, classes)
    return nn.Sequential(nn.Linear(features, 200), nn.Dropout(0.1), nn.BatchNorm1d(200), nn.ReLU(inplace=True),
                         nn.Linear(200, classes))


class DHKD(Distiller):
    """Original head on cross-entropy (used at test time), auxiliary head on BinaryKL-Norm."""

    Config = DHKDConfig
    needs_teacher = True
    tuning = {"kd_weight": WEIGHT_SCALES, "temperature": TEMPERATURE_SCALES}
    reads_only_teacher_logits = True  # the loss reads only the teacher's logits

    def __init__(self, student, teacher, config: DHKDConfig = DHKDConfig(), data=None):
        super().__init__(student, teacher, config, data)
        self.aux_head = auxiliary_head(student.fc.in_features, student.fc.out_features, config.aux_head)

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        auxiliary = self.aux_head(features.pooled)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "kd": self.config.kd_weight * binary_kl_norm(auxiliary, self.teacher_logits(x, step),
                                                         self.config.temperature),
        }

    @property
    def separate_backward(self):
        return next((f for f in ("grad_align", "measure_gradients") if getattr(self.config, f)), None)

    def backward(self, losses):
        if self.separate_backward is None:
            return super().backward(losses)
        return gradients.combine(self.named_trainable_parameters(), losses["ce"], losses["kd"],
                                 classifier_prefix="student.fc.", backbone_prefix="student.",
                                 align=self.config.grad_align)
