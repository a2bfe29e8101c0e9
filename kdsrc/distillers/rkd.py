"""Relational knowledge distillation (Park et al., CVPR 2019).

The student's pooled penultimate vectors should form the teacher's geometry: the same pairwise
distances (each network's divided by its mean) and the same angles of every triplet
(:func:`kdsrc.losses.rkd_loss`). Defaults follow RepDistiller and the official code
(``--distill rkd -a 0 -b 1``, distance weight 25, angle weight 50, cross-entropy weight 1), with
no KD term. The angle term holds b^3 values per network, so the batch size is capped
(:data:`MAX_BATCH`).
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import rkd_loss
from .base import WEIGHT_SCALES, Distiller
from ..validate import require_non_negative

# The largest batch the angle term is allowed: its b x b x d differences and b^3 cosines, with
# their gradients, grew a process's peak memory by 66 MB at batch 64, 0.42 GB at 256 and 2.1 GB at
# 512 (forward and backward of rkd_loss on 256-d float32 vectors, on the CPU); 1024 would need
# about eight times that.
MAX_BATCH = 512


@dataclass(frozen=True)
class RKDConfig:
    rkd_weight: float = 1.0
    w_dist: float = 25.0
    w_angle: float = 50.0
    ce_weight: float = 1.0

    def __post_init__(self):
        for name in ("rkd_weight", "w_dist", "w_angle", "ce_weight"):
            require_non_negative(name, getattr(self, name))


class RKD(Distiller):
    """Student trained on CE and the relational (distance and angle) loss of its pooled vectors."""

    Config = RKDConfig
    needs_teacher = True
    tuning = {"rkd_weight": WEIGHT_SCALES}

    @classmethod
    def batch_limit(cls, config):
        return MAX_BATCH, "RKD's angle term holds batch_size^3 cosines per network"

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        relational = rkd_loss(features.pooled, teacher.pooled, self.config.w_dist, self.config.w_angle)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "rkd": self.config.rkd_weight * relational,
        }
