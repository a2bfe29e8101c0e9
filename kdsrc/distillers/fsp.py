"""FSP: a gift from knowledge distillation (Yim et al. 2017).

Two stages, as the paper and RepDistiller do. First the student's feature layers learn to
reproduce the teacher's FSP matrices (:func:`kdsrc.losses.fsp_loss`) between the input and the
output of every residual stage (RepDistiller's consecutive pairs of ``feats[:-1]``: stem and
stage 1, stage 1 and 2, stage 2 and 3); then the whole student trains on cross-entropy alone.
RepDistiller's defaults: 30 first-stage epochs at the base learning rate without decay, the FSP
loss unweighted, average pooling where map sizes differ (the paper max-pools: ``pool="max"``).
Student and teacher need equal channel counts at every tap, so FSP refuses pairs such as
wrn_40_2 -> wrn_40_1 (as in the CRD paper's tables).
"""
from dataclasses import dataclass

import torch.nn.functional as F

from ..losses import fsp_loss
from .base import LENGTH_SCALES, Distiller, Stage, feature_modules, feature_shapes
from ..validate import ConfigError, require_choice, require_int, require_non_negative


@dataclass(frozen=True)
class FSPConfig:
    init_epochs: int = 30
    ce_weight: float = 1.0
    pool: str = "avg"

    def __post_init__(self):
        require_int("init_epochs", self.init_epochs, minimum=1)
        require_non_negative("ce_weight", self.ce_weight)
        require_choice("pool", self.pool, ("avg", "max"))


class FSP(Distiller):
    """First stage: FSP matrices of the student's feature layers; second stage: cross-entropy."""

    Config = FSPConfig
    needs_teacher = True
    tuning = {"init_epochs": LENGTH_SCALES}  # its first stage is the FSP loss alone: no weight to scale
    # The first stage is 30 epochs of RepDistiller's 240 (1/8 of the main training); the cpu
    # profile keeps a similar share of its epochs (book/reproduce.py), the smoke profile one epoch.
    profile_defaults = {"smoke": {"init_epochs": 1}, "cpu": {"init_epochs": 2}}
    pair_requirement = "FSP compares the two networks stage by stage, so it needs equal channel counts at every stage"

    def __init__(self, student, teacher, config: FSPConfig = FSPConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_shapes, t_shapes = feature_shapes(student, data.example), feature_shapes(teacher, data.example)
        s_channels, t_channels = [s[1] for s in s_shapes], [t[1] for t in t_shapes]
        if s_channels != t_channels:
            raise ConfigError(f"method: fsp needs equal channels at every stage, got student {s_channels} "
                             f"and teacher {t_channels}; choose another method or pair")

    def _pairs(self, stages):
        return list(zip(stages[:-1], stages[1:]))

    def first_stage(self) -> Stage:
        def loss(x, y, step):
            student = self.student.forward_features(x).stages
            teacher = self.teacher_features(x).stages
            return None, {"fsp": fsp_loss(self._pairs(student), self._pairs(teacher), pool=self.config.pool)}
        return Stage("fsp", self.config.init_epochs, feature_modules(self.student), loss)

    def forward_train(self, x, y, step=None):
        logits = self.student(x)
        return logits, {"ce": self.config.ce_weight * F.cross_entropy(logits, y)}
