"""Activation boundaries (Heo et al. 2019, AAAI): transfer which neurons fire, not how strongly.

Two stages, as the official code (bhheo/AB_distillation) and RepDistiller do. First the student's
feature layers and the connectors learn the teacher's activation boundaries with the official
alternative loss on pre-ReLU stage outputs (:func:`kdsrc.losses.ab_loss`, margin 1), layers
weighted 1/4, 1/2, 1 (deepest heaviest) and the sum scaled by 3/1000, as the official code does.
Then the classifier trains as the official CIFAR code does: the KL to the teacher's softmax at
T = 3 alone, without cross-entropy and without the T^2 factor, i.e. ``ce_weight=0`` and
``kd_weight=1/9`` on :func:`kdsrc.losses.kd_loss` (which includes T^2). RepDistiller's main
stage is cross-entropy alone instead (``ce_weight=1, kd_weight=0``). Unlike the official code,
the teacher stays in eval mode in the first stage (its BN statistics never move).
"""
from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from ..losses import ab_loss, kd_loss
from .base import Distiller, Stage, feature_modules, feature_shapes
from .connectors import ab_connector
from .validate import require_non_negative, require_positive


@dataclass(frozen=True)
class ABConfig:
    init_epochs: int = 30
    margin: float = 1.0
    layers: tuple = (1, 2, 3)
    ce_weight: float = 0.0
    kd_weight: float = 1 / 9
    temperature: float = 3.0

    def __post_init__(self):
        if isinstance(self.init_epochs, bool) or not isinstance(self.init_epochs, int) or self.init_epochs < 1:
            raise ValueError(f"init_epochs: must be an integer >= 1, got {self.init_epochs!r}")
        require_non_negative("margin", self.margin)
        require_non_negative("ce_weight", self.ce_weight)
        require_non_negative("kd_weight", self.kd_weight)
        require_positive("temperature", self.temperature)
        if not self.layers or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in self.layers):
            raise ValueError(f"layers: must be a non-empty list of stage indices >= 0, got {self.layers!r}")
        object.__setattr__(self, "layers", tuple(self.layers))


class AB(Distiller):
    """First stage: activation boundaries through connectors; second stage: KD (official) or CE."""

    Config = ABConfig
    needs_teacher = True
    caches_teacher_logits = True  # the main stage reads only logits; the first stage runs the teacher

    def __init__(self, student, teacher, config: ABConfig = ABConfig(), example=None):
        super().__init__(student, teacher)
        self.config = config
        s_shapes, t_shapes = feature_shapes(student, example), feature_shapes(teacher, example)
        taps = min(len(s_shapes), len(t_shapes))
        if max(config.layers) >= taps:
            raise ValueError(f"layers: stage indices must be in 0..{taps - 1}, got {list(config.layers)}")
        for i in config.layers:
            if s_shapes[i][-2:] != t_shapes[i][-2:]:
                raise ValueError(f"layers: stage {i} is {tuple(s_shapes[i][-2:])} in the student and "
                                 f"{tuple(t_shapes[i][-2:])} in the teacher; a 1x1 connector cannot resize")
        self.connectors = nn.ModuleList(ab_connector(s_shapes[i][1], t_shapes[i][1]) for i in config.layers)

    def first_stage(self) -> Stage:
        n = len(self.config.layers)

        def loss(x, y):
            student = self.student.forward_features(x).preacts
            teacher = self.teacher_features(x).preacts
            total = sum(ab_loss(connector(student[i]), teacher[i], self.config.margin) / 2 ** (n - 1 - k)
                        for k, (i, connector) in enumerate(zip(self.config.layers, self.connectors)))
            return {"ab": total * 3 / 1000}
        return Stage("ab", self.config.init_epochs, [*feature_modules(self.student), self.connectors], loss)

    def forward_train(self, x, y, keys=None):
        logits = self.student(x)
        teacher_logits = self.teacher_logits(x, keys)
        return logits, {
            "ce": self.config.ce_weight * F.cross_entropy(logits, y),
            "kd": self.config.kd_weight * kd_loss(logits, teacher_logits, self.config.temperature),
        }
