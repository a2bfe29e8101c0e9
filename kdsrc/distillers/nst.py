"""Neuron selectivity transfer (Huang & Wang 2017, "Like what you like").

Each channel of a stage's map is one sample of where that neuron fires; the student's channels
should be distributed as the teacher's, measured by the squared maximum mean discrepancy with the
polynomial kernel (x . y)^2 (:func:`kdsrc.losses.nst_loss`), summed over the outputs of the three
residual stages (RepDistiller's ``feat[1:-1]``). Channel counts need not agree; larger maps are
average-pooled to the smaller. Defaults follow RepDistiller (``--distill nst -a 0 -b 50``,
cross-entropy weight 1), with no KD term.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import nst_loss
from .base import WEIGHT_SCALES, Distiller, feature_shapes
from ..validate import require_non_negative, require_stage_indices, resolve_stages


@dataclass(frozen=True)
class NSTConfig:
    nst_weight: float = 50.0
    ce_weight: float = 1.0
    layers: tuple | str = (1, 2, 3)  # stage indices (0 is the stem), or "all" after the stem

    def __post_init__(self):
        require_non_negative("nst_weight", self.nst_weight)
        require_non_negative("ce_weight", self.ce_weight)
        object.__setattr__(self, "layers", require_stage_indices("layers", self.layers))


class NST(Distiller):
    """Student trained on CE and the MMD of its channel distributions to the teacher's, over the chosen stages."""

    Config = NSTConfig
    needs_teacher = True
    tuning = {"nst_weight": WEIGHT_SCALES}
    profile_defaults = {"paper": {"layers": "all"}}  # RepDistiller's feat[1:-1], whatever the network

    def __init__(self, student, teacher, config: NSTConfig = NSTConfig(), data=None):
        super().__init__(student, teacher, config, data)
        self.layers = resolve_stages("layers", config.layers, len(feature_shapes(student, data.example)),
                                     len(feature_shapes(teacher, data.example)))

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        transfer = sum(nst_loss(features.stages[i], teacher.stages[i]) for i in self.layers)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "nst": self.config.nst_weight * transfer,
        }
