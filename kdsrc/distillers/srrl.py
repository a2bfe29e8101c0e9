"""SRRL: knowledge distillation via softmax regression representation learning (Yang et al., ICLR 2021).

The student's last feature map goes through a connector (1x1 conv without bias, BN, ReLU: the
official code's ``transfer_conv``, present even when the channel counts agree) and is then
asked to (i) match the teacher's pooled penultimate feature (``l_fm``, Eq. 3) and (ii) give the
teacher's logits when read by the teacher's own frozen classifier (``l_sr``, Eq. 7, the L2 form
the paper and the code use; Eq. 5's cross-entropy is ``form="paper"``). The student's own
classifier, trained by cross-entropy alone, is the one used at test time. Weights default to
the official code's ``CE + l_fm + 1 * l_sr`` (alpha = beta = 1); the CIFAR-100 values were
grid-searched per pair (alpha, beta in {(1, 1), (1, 5), (10, 1)}, the author's reply in
KD_SRRL issue #3). There is no Hinton KD term, as in the paper and the code.
"""
from dataclasses import dataclass

import torch

import torch.nn.functional as F

from ..losses import srrl_losses
from .base import WEIGHT_SCALES, Distiller, feature_shapes
from .connectors import srrl_connector
from ..validate import ConfigError, require_choice, require_non_negative


@dataclass(frozen=True)
class SRRLConfig:
    fm_weight: float = 1.0
    sr_weight: float = 1.0
    ce_weight: float = 1.0
    form: str = "official"

    def __post_init__(self):
        require_non_negative("fm_weight", self.fm_weight)
        require_non_negative("sr_weight", self.sr_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_choice("form", self.form, ("official", "paper"))


def _last_map(features):
    """The map the classifier pools: the ReLU of the last pre-activation (a ResNet's stage-3
    output; a WRN's stage-3 output after its final BN and ReLU)."""
    return F.relu(features.preacts[-1])


class SRRL(Distiller):
    """Student + connector trained on CE, feature matching and softmax regression through the teacher's classifier."""

    Config = SRRLConfig
    needs_teacher = True
    tuning = {("fm_weight", "sr_weight"): WEIGHT_SCALES}  # its two terms together; their ratio is chapter 8's ablation

    def __init__(self, student, teacher, config: SRRLConfig = SRRLConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_channels, t_channels = feature_shapes(student, data.example)[-1][1], feature_shapes(teacher, data.example)[-1][1]
        if teacher.fc.in_features != t_channels:
            raise ConfigError(f"teacher: SRRL's connector maps the student's last feature map to the teacher's "
                             f"{t_channels} channels, but the teacher's classifier reads {teacher.fc.in_features} "
                             "features; use a teacher whose classifier reads its pooled last feature map")
        self.connector = srrl_connector(s_channels, t_channels)

    @torch.no_grad()
    def read_by_teacher(self, features) -> torch.Tensor:
        """The teacher's classifier applied to the student's connected, pooled last feature map
        (``features``, the student's :class:`~kdsrc.models.Features`): the logits SRRL's softmax
        regression trains (Yang et al. 2021, Eq. 5), how the teacher reads the student."""
        return self.teacher.fc(self.connector(_last_map(features)).mean((2, 3)))

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher_map = _last_map(self.teacher_features(x))
        l_fm, l_sr = srrl_losses(self.connector(_last_map(features)), teacher_map, self.teacher.fc, self.config.form)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "fm": self.config.fm_weight * l_fm,
            "sr": self.config.sr_weight * l_sr,
        }
