"""FitNets: hints for thin deep nets (Romero et al. 2015).

A regressor maps the student's *guided* layer onto the teacher's *hint* layer and the student
learns to match it (Eq. 3, :func:`kdsrc.losses.hint_loss`). Defaults follow RepDistiller's CIFAR-100
recipe (``--distill hint -r 1 -a 0 -b 100``, ``hint_layer=2``: the stage-2 output, stem = 0, the
guided layer the same stage of the student), trained jointly with cross-entropy in a single
stage, as RepDistiller and mdistiller do.

The paper trains in two stages: first the student up to its guided layer and the regressor on
the hint loss alone (Eq. 3), then the whole student with KD (Eq. 2). ``init_epochs > 0`` runs
that first stage; the paper's second stage is ``hint_weight=0`` with ``kd_weight`` and
``temperature`` set (the KD term is :func:`kdsrc.losses.kd_loss`, T^2 included).
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import hint_loss, kd_loss
from .base import WEIGHT_SCALES, Distiller, Stage, feature_shapes
from .connectors import conv_regressor
from ..validate import require_existing_stages, require_int, require_non_negative, require_positive


@dataclass(frozen=True)
class FitNetsConfig:
    hint_layer: int = 2
    guided_layer: int | None = None  # None: the same stage index as hint_layer
    hint_weight: float = 100.0
    ce_weight: float = 1.0
    init_epochs: int = 0  # > 0: the paper's first (hint) stage
    kd_weight: float = 0.0
    temperature: float = 4.0

    def __post_init__(self):
        require_int("hint_layer", self.hint_layer, minimum=0)
        if self.guided_layer is None:
            object.__setattr__(self, "guided_layer", self.hint_layer)
        require_int("guided_layer", self.guided_layer, minimum=0)
        require_non_negative("hint_weight", self.hint_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_int("init_epochs", self.init_epochs, minimum=0)
        require_non_negative("kd_weight", self.kd_weight)
        require_positive("temperature", self.temperature)


class FitNets(Distiller):
    """Student + regressor trained on CE, the hint loss and optionally KD, after an optional hint stage."""

    Config = FitNetsConfig
    needs_teacher = True
    tuning = {"hint_weight": WEIGHT_SCALES}

    def __init__(self, student, teacher, config: FitNetsConfig = FitNetsConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_shapes, t_shapes = feature_shapes(student, data.example), feature_shapes(teacher, data.example)
        require_existing_stages("hint_layer", [config.hint_layer], len(t_shapes))
        require_existing_stages("guided_layer", [config.guided_layer], len(s_shapes))
        self.regressor = conv_regressor(s_shapes[config.guided_layer], t_shapes[config.hint_layer])

    def _hint_loss(self, x, features):
        hint = self.teacher_features(x).stages[self.config.hint_layer]
        return hint_loss(self.regressor(features.stages[self.config.guided_layer]), hint)

    def first_stage(self) -> Stage | None:
        """The paper's hint stage (Eq. 3): the student up to the guided layer and the regressor."""
        if self.config.init_epochs == 0:
            return None
        modules = [*self.student.stage_modules()[:self.config.guided_layer + 1], self.regressor]
        return Stage("hint", self.config.init_epochs, modules,
                     lambda x, y, step: (None, {"hint": self._hint_loss(x, self.student.forward_features(x))}))

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        losses = {"ce": self.config.ce_weight * F.cross_entropy(features.logits, y)}
        if self.config.hint_weight:
            losses["hint"] = self.config.hint_weight * self._hint_loss(x, features)
        if self.config.kd_weight:
            losses["kd"] = self.config.kd_weight * kd_loss(features.logits, self.teacher_logits(x, step),
                                                           self.config.temperature)
        return features.logits, losses
