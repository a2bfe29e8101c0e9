"""Factor transfer (Kim, Park & Kwak, NeurIPS 2018, "Paraphrasing complex network").

Two stages, as the paper and RepDistiller do. First a *paraphraser* (an encoder of three 3x3
convolutions to ``rate`` times the teacher's channels and a mirrored decoder, LeakyReLU 0.1, no
BN) learns to reconstruct the teacher's last-stage map by mean squared error; the teacher and the
student do not move. Then the paraphraser stays as it is (its factor is computed without
gradients, so the optimizer never moves it), and a *translator* (the same encoder on the
student's last-stage map, with BN) is trained with the student on cross-entropy plus the distance
between the two normalised factors (:func:`kdsrc.losses.ft_loss`).

Defaults follow RepDistiller's CIFAR-100 recipe (``--distill factor -a 0 -b 200``, rate 0.5,
30 first-stage epochs at a constant learning rate of 0.01 for the CIFAR ResNets and WRNs as
students, else the run's rate), whose factor loss (``form="repdistiller"``) compares the factors'
channel means of squares, as its attention transfer does. The authors' code and the paper
compare the whole normalised factors (``form="paper"``); the CRD tables' FT rows come from
RepDistiller's form.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import ft_loss
from ..models.resnet import CifarResNet
from ..models.wrn import WideResNet
from .base import WEIGHT_SCALES, Distiller, Stage, feature_shapes
from ..validate import require_choice, require_int, require_non_negative, require_number

# RepDistiller's first-stage learning rate for these students (helper/pretrain.py); others keep the run's
PARAPHRASER_LR = 0.01
PARAPHRASER_LR_STUDENTS = (CifarResNet, WideResNet)


@dataclass(frozen=True)
class FTConfig:
    ft_weight: float = 200.0
    ce_weight: float = 1.0
    rate: float = 0.5
    init_epochs: int = 30
    form: str = "repdistiller"

    def __post_init__(self):
        require_non_negative("ft_weight", self.ft_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_number("rate", self.rate, low=0, high=1, low_open=True)
        require_int("init_epochs", self.init_epochs, minimum=1)
        require_choice("form", self.form, ("repdistiller", "paper"))


def _encoder(in_channels: int, factor_channels: int, batch_norm: bool) -> list[nn.Module]:
    """Three 3x3 convolutions, in -> in -> factor -> factor, each followed by (BN and) LeakyReLU 0.1."""
    layers = []
    for c_in, c_out in ((in_channels, in_channels), (in_channels, factor_channels), (factor_channels, factor_channels)):
        layers += [nn.Conv2d(c_in, c_out, 3, 1, 1), *([nn.BatchNorm2d(c_out)] if batch_norm else []), nn.LeakyReLU(0.1)]
    return layers


class Paraphraser(nn.Module):
    """The teacher's factor encoder and the decoder that reconstructs the teacher's map from it."""

    def __init__(self, channels: int, factor_channels: int):
        super().__init__()
        self.encoder = nn.Sequential(*_encoder(channels, factor_channels, batch_norm=False))
        decoder = []
        for c_in, c_out in ((factor_channels, factor_channels), (factor_channels, channels), (channels, channels)):
            decoder += [nn.ConvTranspose2d(c_in, c_out, 3, 1, 1), nn.LeakyReLU(0.1)]
        self.decoder = nn.Sequential(*decoder)

    def forward(self, teacher_map: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``teacher_map``."""
        return self.decoder(self.encoder(teacher_map))


class FT(Distiller):
    """First stage: the paraphraser reconstructs the teacher's map; second: student and translator on CE and the factor loss."""

    Config = FTConfig
    needs_teacher = True
    tuning = {"ft_weight": WEIGHT_SCALES}
    # The first stage is 30 epochs of RepDistiller's 240, as FSP's and AB's; the cpu and smoke
    # profiles keep the share they do.
    profile_defaults = {"smoke": {"init_epochs": 1}, "cpu": {"init_epochs": 2}}

    def __init__(self, student, teacher, config: FTConfig = FTConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_channels, t_channels = feature_shapes(student, data.example)[-1][1], feature_shapes(teacher, data.example)[-1][1]
        factor_channels = max(1, int(t_channels * config.rate))
        self.paraphraser = Paraphraser(t_channels, factor_channels)
        self.translator = nn.Sequential(*_encoder(s_channels, factor_channels, batch_norm=True))
        self.paraphraser_lr = PARAPHRASER_LR if isinstance(student, PARAPHRASER_LR_STUDENTS) else None

    def first_stage(self) -> Stage:
        def loss(x, y, step):
            teacher_map = self.teacher_features(x).stages[-1]
            return None, {"reconstruction": F.mse_loss(self.paraphraser(teacher_map), teacher_map)}
        return Stage("paraphraser", self.config.init_epochs, [self.paraphraser], loss, lr=self.paraphraser_lr)

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        with torch.no_grad():
            teacher_factor = self.paraphraser.encoder(self.teacher_features(x).stages[-1])
        factor = ft_loss(self.translator(features.stages[-1]), teacher_factor, form=self.config.form)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "ft": self.config.ft_weight * factor,
        }
