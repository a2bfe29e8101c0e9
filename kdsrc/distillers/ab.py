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

Connectors (``connector``): the official code's (``"official"``, :func:`connectors.ab_connector`)
map channels with a 1x1 conv, so student and teacher maps must have the same size. RepDistiller's
(``"repdistiller"``, its ``Connector``) are nothing where channels and size agree and its FitNets
regressor without ReLU (:func:`connectors.conv_regressor`) elsewhere, which also resizes; with
``layers="all"`` (every stage after the stem, RepDistiller's ``feat[1:-1]``) and the main stage
``ce_weight=1, kd_weight=0`` that is the AB of the CRD paper's tables, which the paper profile
uses.
"""
from dataclasses import dataclass

import torch
from torch import nn

from ..losses import ab_loss
from .base import LENGTH_SCALES, Stage, feature_modules, feature_shapes
from .connectors import ab_connector, conv_regressor
from .kd import KD
from ..validate import (ConfigError, require_choice, require_int, require_non_negative, require_positive,
                       require_stage_indices, resolve_stages)

CONNECTORS = ("official", "repdistiller")


@dataclass(frozen=True)
class ABConfig:
    init_epochs: int = 30
    margin: float = 1.0
    layers: tuple | str = (1, 2, 3)  # stage indices (0 is the stem), or "all" after the stem
    ce_weight: float = 0.0
    kd_weight: float = 1 / 9
    temperature: float = 3.0
    connector: str = "official"

    def __post_init__(self):
        require_int("init_epochs", self.init_epochs, minimum=1)
        require_non_negative("margin", self.margin)
        require_non_negative("ce_weight", self.ce_weight)
        require_non_negative("kd_weight", self.kd_weight)
        require_positive("temperature", self.temperature)
        require_choice("connector", self.connector, CONNECTORS)
        object.__setattr__(self, "layers", require_stage_indices("layers", self.layers))


class AB(KD):
    """First stage: activation boundaries through connectors; main stage: KD's loss with AB's weights.

    The main stage reads only the teacher's logits (KD's ``forward_train``), so the view cache
    serves them; the first stage runs the teacher for its features.
    """

    Config = ABConfig
    # The first stage's share of the training as FSP's (:mod:`kdsrc.distillers.fsp`); the paper
    # profile runs RepDistiller's AB, which produced the CRD tables' numbers (module docstring).
    profile_defaults = {"smoke": {"init_epochs": 1}, "cpu": {"init_epochs": 2},
                        "paper": {"connector": "repdistiller", "layers": "all", "ce_weight": 1.0, "kd_weight": 0.0}}
    unhashed_defaults = {"connector": "official"}  # added after the cpu runs were stored
    tuning = {"init_epochs": LENGTH_SCALES}  # as FSP: the first stage is the AB loss alone

    def __init__(self, student, teacher, config: ABConfig = ABConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_shapes, t_shapes = feature_shapes(student, data.example), feature_shapes(teacher, data.example)
        self.layers = resolve_stages("layers", config.layers, len(s_shapes), len(t_shapes))
        self.connectors = nn.ModuleList(_connector(config.connector, s_shapes[i], t_shapes[i], i) for i in self.layers)

    def first_stage(self) -> Stage:
        n = len(self.layers)

        def loss(x, y, step):
            student = self.student.forward_features(x).preacts
            teacher = self.teacher_features(x).preacts
            total = sum(ab_loss(connector(student[i]), teacher[i], self.config.margin) / 2 ** (n - 1 - k)
                        for k, (i, connector) in enumerate(zip(self.layers, self.connectors)))
            return None, {"ab": total * 3 / 1000}
        return Stage("ab", self.config.init_epochs, [*feature_modules(self.student), self.connectors], loss)


    @torch.no_grad()
    def first_stage_probe(self, x):
        """Per connected layer, the share (%) of the student's neurons on the teacher's side of its
        activation boundary (after the connector, active exactly where the teacher's is): what
        the first stage trains (Heo et al. 2019, Sec. 3)."""
        student = self.student.forward_features(x).preacts
        teacher = self.teacher.forward_features(x).preacts
        return {f"same_side_stage{i}": 100.0 * ((connector(student[i]) > 0) == (teacher[i] > 0)).float().mean().item()
                for i, connector in zip(self.layers, self.connectors)}


def _connector(kind: str, student_shape, teacher_shape, stage: int) -> nn.Module:
    """The connector of ``kind`` from a student stage map to the teacher's (see the module docstring)."""
    if kind == "official":
        if student_shape[-2:] != teacher_shape[-2:]:
            raise ConfigError(f"layers: stage {stage} is {tuple(student_shape[-2:])} in the student and "
                             f"{tuple(teacher_shape[-2:])} in the teacher; a 1x1 connector cannot resize "
                             "(connector='repdistiller' can)")
        return ab_connector(student_shape[1], teacher_shape[1])
    if student_shape[1:3] == teacher_shape[1:3]:
        return nn.Identity()
    return conv_regressor(student_shape, teacher_shape, relu=False, parameter="layers")
