"""Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018).

The student's pooled penultimate vectors should give the same conditional probabilities between
samples as the teacher's: cosine similarities shifted to [0, 1] and row-normalised, compared by
KL divergence (:func:`kdsrc.losses.pkt_loss`, the authors' code). Only the batch dimension is
shared, so any pair works. Defaults follow RepDistiller (``--distill pkt -a 0 -b 30000``,
cross-entropy weight 1), with no KD term.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import pkt_loss
from .base import WEIGHT_SCALES, Distiller
from ..validate import require_non_negative


@dataclass(frozen=True)
class PKTConfig:
    pkt_weight: float = 30000.0
    ce_weight: float = 1.0

    def __post_init__(self):
        require_non_negative("pkt_weight", self.pkt_weight)
        require_non_negative("ce_weight", self.ce_weight)


class PKT(Distiller):
    """Student trained on CE and probabilistic knowledge transfer of its pooled vectors."""

    Config = PKTConfig
    needs_teacher = True
    tuning = {"pkt_weight": WEIGHT_SCALES}

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "pkt": self.config.pkt_weight * pkt_loss(features.pooled, teacher.pooled),
        }
