"""Attention transfer (Zagoruyko & Komodakis 2017).

The student matches the teacher's spatial attention maps (channel mean of |F|^p, normalised) at
the outputs of the residual stages (:func:`kdsrc.losses.at_loss`). Defaults follow the official
code and RepDistiller: p = 2, beta = 1000 on the sum over the stage outputs, cross-entropy
weight 1; maps of different size are average-pooled to the smaller one, so teacher and student
stages need not match in resolution or channels. The stages are 1, 2 and 3 by default, which is
RepDistiller's ``feats[1:-1]`` for the three-stage CIFAR ResNets and WRNs; ``layers="all"``
takes every stage after the stem, as RepDistiller does for any network (four for VGG,
MobileNetV2 and ResNet50), and the paper profile sets it.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import at_loss
from .base import WEIGHT_SCALES, Distiller, feature_shapes
from ..validate import require_non_negative, require_positive, require_stage_indices, resolve_stages


@dataclass(frozen=True)
class ATConfig:
    at_weight: float = 1000.0
    p: float = 2.0
    ce_weight: float = 1.0
    layers: tuple | str = (1, 2, 3)  # stage indices (0 is the stem), or "all" after the stem

    def __post_init__(self):
        require_non_negative("at_weight", self.at_weight)
        require_positive("p", self.p)
        require_non_negative("ce_weight", self.ce_weight)
        object.__setattr__(self, "layers", require_stage_indices("layers", self.layers))


class AT(Distiller):
    """Student trained on CE and the attention-transfer loss over the chosen stages."""

    Config = ATConfig
    needs_teacher = True
    tuning = {"at_weight": WEIGHT_SCALES}
    profile_defaults = {"paper": {"layers": "all"}}  # RepDistiller's AT, whatever the network

    def __init__(self, student, teacher, config: ATConfig = ATConfig(), data=None):
        super().__init__(student, teacher, config, data)
        self.layers = resolve_stages("layers", config.layers, len(feature_shapes(student, data.example)),
                                     len(feature_shapes(teacher, data.example)))

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        layers = self.layers
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "at": self.config.at_weight * at_loss([features.stages[i] for i in layers],
                                                  [teacher.stages[i] for i in layers], self.config.p),
        }
