"""Similarity-preserving knowledge distillation (Tung & Mori, ICCV 2019).

The student's batch similarities should be the teacher's: for the last stage's feature map, each
network's b x b Gram matrix over the batch, row-normalised, compared by squared Frobenius distance
over b^2 (:func:`kdsrc.losses.sp_loss`). Only the batch dimension is shared, so any pair works.
Defaults follow RepDistiller's CIFAR-100 recipe (``--distill similarity -a 0 -b 3000``, the map
``feat[-2]``, cross-entropy weight 1), with no KD term.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import sp_loss
from .base import WEIGHT_SCALES, Distiller
from ..validate import require_non_negative


@dataclass(frozen=True)
class SPConfig:
    sp_weight: float = 3000.0
    ce_weight: float = 1.0

    def __post_init__(self):
        require_non_negative("sp_weight", self.sp_weight)
        require_non_negative("ce_weight", self.ce_weight)


class SP(Distiller):
    """Student trained on CE and the similarity-preserving loss of the last stage's map."""

    Config = SPConfig
    needs_teacher = True
    tuning = {"sp_weight": WEIGHT_SCALES}

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "sp": self.config.sp_weight * sp_loss(features.stages[-1], teacher.stages[-1]),
        }
