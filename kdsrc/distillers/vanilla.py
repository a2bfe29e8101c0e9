"""Training a network alone with cross-entropy: the teacher and student baselines."""
from dataclasses import dataclass

import torch.nn.functional as F

from .base import Distiller


@dataclass(frozen=True)
class VanillaConfig:
    """Plain supervised training has no method parameters."""


class Vanilla(Distiller):
    """Cross-entropy on the hard labels, no teacher."""

    Config = VanillaConfig

    def __init__(self, student, teacher=None, config: VanillaConfig = VanillaConfig(), data=None):
        super().__init__(student, None, config, data)

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        return logits, {"ce": F.cross_entropy(logits, y)}
