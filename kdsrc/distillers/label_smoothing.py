"""Label smoothing (Szegedy et al. 2016, Sec. 7): no teacher, softer targets.

The student trains alone on :func:`kdsrc.losses.label_smoothing_loss`, cross-entropy against
``(1 - epsilon) * one_hot(y) + epsilon / K``; ``epsilon = 0.1`` is the paper's ImageNet value.
It is KD's control: a KD student's target is also softer than a one-hot label, but a uniform
softening says nothing about which wrong classes resemble the right one, so a gain of KD over
label smoothing is what the teacher's particular soft targets add.
"""
from dataclasses import dataclass

from ..losses import label_smoothing_loss
from ..validate import require_number
from .base import Distiller


@dataclass(frozen=True)
class LabelSmoothingConfig:
    epsilon: float = 0.1

    def __post_init__(self):
        require_number("epsilon", self.epsilon, low=0, high=1)


class LabelSmoothing(Distiller):
    """Cross-entropy on labels smoothed towards the uniform distribution, no teacher."""

    Config = LabelSmoothingConfig
    tuning = {"epsilon": (0.5, 1.0, 2.0)}

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        return logits, {"ce": label_smoothing_loss(logits, y, self.config.epsilon)}
