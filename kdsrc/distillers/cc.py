"""Correlation congruence for knowledge distillation (Peng et al., ICCV 2019).

Both networks' pooled penultimate vectors pass through a trainable linear embedding to 128
dimensions (RepDistiller's ``LinearEmbed``, one for each network, both trained), and the student
matches the teacher's correlations between samples (:func:`kdsrc.losses.cc_loss`). The default
``form="official"`` is the code the authors shared with RepDistiller, which produced the CRD
tables' CC rows; ``form="paper"`` is the paper's Gaussian-kernel correlation matrix (Taylor
order 2, gamma 0.4). Defaults follow RepDistiller (``--distill correlation -a 0 -b 0.02``,
``feat_dim=128``, cross-entropy weight 1), with no KD term.
"""
from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from ..losses import cc_loss
from .base import WEIGHT_SCALES, Distiller, pooled_width
from ..validate import require_choice, require_int, require_non_negative, require_positive


@dataclass(frozen=True)
class CCConfig:
    cc_weight: float = 0.02
    ce_weight: float = 1.0
    embed_dim: int = 128
    form: str = "official"
    gamma: float = 0.4  # form="paper" only
    order: int = 2  # form="paper" only

    def __post_init__(self):
        require_non_negative("cc_weight", self.cc_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_int("embed_dim", self.embed_dim, minimum=1)
        require_choice("form", self.form, ("official", "paper"))
        require_positive("gamma", self.gamma)
        require_int("order", self.order, minimum=0)


class CC(Distiller):
    """Student and two embeddings trained on CE and correlation congruence of the embedded pooled vectors."""

    Config = CCConfig
    needs_teacher = True
    tuning = {"cc_weight": WEIGHT_SCALES}

    def __init__(self, student, teacher, config: CCConfig = CCConfig(), data=None):
        super().__init__(student, teacher, config, data)
        self.embed_student = nn.Linear(pooled_width(student, data.example), config.embed_dim)
        self.embed_teacher = nn.Linear(pooled_width(teacher, data.example), config.embed_dim)

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        correlation = cc_loss(self.embed_student(features.pooled), self.embed_teacher(teacher.pooled),
                              form=self.config.form, gamma=self.config.gamma, order=self.config.order)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "cc": self.config.cc_weight * correlation,
        }
