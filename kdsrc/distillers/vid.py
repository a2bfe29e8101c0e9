"""Variational information distillation (Ahn et al., CVPR 2019).

For each of the three residual stages' outputs, a regressor (three 1x1 convolutions without bias,
ReLU between, as wide as the teacher's map) predicts the mean of a Gaussian over the teacher's
feature from the student's, with one trainable variance per teacher channel
(``softplus(log_scale) + eps``, initialised to 5); the student and the regressors minimise the
teacher feature's negative log-likelihood (:func:`kdsrc.losses.vid_loss`), a lower bound on the
mutual information. Maps of different size are average-pooled to the smaller before the
regressor. Defaults follow RepDistiller, whose VID is the authors' code (``--distill vid -a 0
-b 1``, ``init_pred_var=5``, cross-entropy weight 1), with no KD term.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import pool_to_smaller, vid_loss
from .base import WEIGHT_SCALES, Distiller, feature_shapes
from ..validate import require_non_negative, require_positive, require_stage_indices, resolve_stages


@dataclass(frozen=True)
class VIDConfig:
    vid_weight: float = 1.0
    ce_weight: float = 1.0
    init_variance: float = 5.0
    eps: float = 1e-5
    layers: tuple | str = (1, 2, 3)  # stage indices (0 is the stem), or "all" after the stem

    def __post_init__(self):
        require_non_negative("vid_weight", self.vid_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_positive("eps", self.eps)
        if not isinstance(self.init_variance, (int, float)) or not self.init_variance > self.eps:
            raise ValueError(f"init_variance: must be a number > eps ({self.eps}), got {self.init_variance!r}")
        object.__setattr__(self, "layers", require_stage_indices("layers", self.layers))


class VariationalRegressor(nn.Module):
    """VID's Gaussian for one layer: the regressor that predicts its mean from the student's map
    and the per-channel ``log_scale`` of its variance (the authors' ``VIDLoss`` modules)."""

    def __init__(self, student_channels: int, teacher_channels: int, init_variance: float, eps: float):
        super().__init__()
        def conv(c_in, c_out):
            return nn.Conv2d(c_in, c_out, 1, bias=False)
        self.mean = nn.Sequential(conv(student_channels, teacher_channels), nn.ReLU(),
                                  conv(teacher_channels, teacher_channels), nn.ReLU(),
                                  conv(teacher_channels, teacher_channels))
        # softplus^-1(init_variance - eps), so that the variance starts at init_variance
        self.log_scale = nn.Parameter(torch.full((teacher_channels,), math.log(math.expm1(init_variance - eps))))


class VID(Distiller):
    """Student and per-stage Gaussian regressors trained on CE and the teacher features' negative log-likelihood."""

    Config = VIDConfig
    needs_teacher = True
    tuning = {"vid_weight": WEIGHT_SCALES}
    profile_defaults = {"paper": {"layers": "all"}}  # RepDistiller's feat[1:-1], whatever the network

    def __init__(self, student, teacher, config: VIDConfig = VIDConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_shapes, t_shapes = feature_shapes(student, data.example), feature_shapes(teacher, data.example)
        self.layers = resolve_stages("layers", config.layers, len(s_shapes), len(t_shapes))
        self.regressors = nn.ModuleList(
            VariationalRegressor(s_shapes[i][1], t_shapes[i][1], config.init_variance, config.eps) for i in self.layers)

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        nll = 0
        for i, regressor in zip(self.layers, self.regressors):
            student_map, teacher_map = pool_to_smaller(features.stages[i], teacher.stages[i])
            nll = nll + vid_loss(regressor.mean(student_map), teacher_map, regressor.log_scale, self.config.eps)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "vid": self.config.vid_weight * nll,
        }
