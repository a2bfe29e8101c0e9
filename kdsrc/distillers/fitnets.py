"""FitNets: hints for thin deep nets (Romero et al. 2015).

A regressor maps the student's *guided* layer onto the teacher's *hint* layer and the student
learns to match it (Eq. 3, :func:`kdsrc.losses.hint_loss`). Defaults follow RepDistiller's CIFAR-100
recipe (``--distill hint -r 1 -a 0 -b 100``, ``hint_layer=2``: the stage-2 output, stem = 0),
trained jointly with cross-entropy in a single stage, as RepDistiller and mdistiller do. The
paper trains in two stages (the hint stage on the student up to the guided layer and the
regressor, then KD); that option is not implemented yet.
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import hint_loss
from .base import Distiller, feature_shapes
from .connectors import conv_regressor
from .validate import require_existing_stages, require_int, require_non_negative


@dataclass(frozen=True)
class FitNetsConfig:
    hint_layer: int = 2
    hint_weight: float = 100.0
    ce_weight: float = 1.0

    def __post_init__(self):
        require_int("hint_layer", self.hint_layer, minimum=0)
        require_non_negative("hint_weight", self.hint_weight)
        require_non_negative("ce_weight", self.ce_weight)


class FitNets(Distiller):
    """Student + regressor trained on CE and the hint loss at one stage."""

    Config = FitNetsConfig
    needs_teacher = True

    def __init__(self, student, teacher, config: FitNetsConfig = FitNetsConfig(), example=None):
        super().__init__(student, teacher)
        self.config = config
        s_shapes, t_shapes = feature_shapes(student, example), feature_shapes(teacher, example)
        layer = config.hint_layer
        require_existing_stages("hint_layer", [layer], min(len(s_shapes), len(t_shapes)))
        self.regressor = conv_regressor(s_shapes[layer], t_shapes[layer])

    def forward_train(self, x, y, keys=None):
        features = self.student.forward_features(x)
        hint = self.teacher_features(x).stages[self.config.hint_layer]
        guided = self.regressor(features.stages[self.config.hint_layer])
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "hint": self.config.hint_weight * hint_loss(guided, hint),
        }
