"""DIST: knowledge distillation from a stronger teacher (Huang et al., NeurIPS 2022).

The student matches the teacher's relations rather than its probabilities: the Pearson
correlation of each image's class probabilities (inter-class) and of each class's probabilities
across the batch (intra-class) (:func:`kdsrc.losses.dist_loss`), so it may keep its own scale
and shift of confidence. Defaults are the authors' CIFAR-100 recipe (hunto/
image_classification_sota, ``configs/strategies/distill/dist_cifar.yaml``: ``kd: dist_t4``,
``kd_loss_weight: 2``, ``ori_loss_weight: 1``): T = 4, beta = gamma = 1, the loss weighted 2, CE
weight 1.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import dist_loss
from .base import TEMPERATURE_SCALES, WEIGHT_SCALES, Distiller
from ..validate import require_non_negative, require_positive


@dataclass(frozen=True)
class DISTConfig:
    dist_weight: float = 2.0
    ce_weight: float = 1.0
    beta: float = 1.0  # inter-class relation
    gamma: float = 1.0  # intra-class relation
    temperature: float = 4.0

    def __post_init__(self):
        for name in ("dist_weight", "ce_weight", "beta", "gamma"):
            require_non_negative(name, getattr(self, name))
        require_positive("temperature", self.temperature)


class DIST(Distiller):
    """Student trained on CE and the Pearson relations of its predictions with the teacher's."""

    Config = DISTConfig
    needs_teacher = True
    reads_only_teacher_logits = True
    tuning = {"dist_weight": WEIGHT_SCALES, "temperature": TEMPERATURE_SCALES}

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        relations = dist_loss(logits, self.teacher_logits(x, step), self.config.beta, self.config.gamma,
                              self.config.temperature)
        return logits, {
            "ce": self.config.ce_weight * F.cross_entropy(logits, y),
            "dist": self.config.dist_weight * relations,
        }
