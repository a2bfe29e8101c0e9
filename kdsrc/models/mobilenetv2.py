"""MobileNetV2 as RepDistiller's ``mobile_half`` (Sandler et al. 2018; RepDistiller's
``models/mobilenetv2.py``, from Route Constrained Optimization): expansion 6, width multiplier 0.5.

A 3x3 stride-2 conv stem (16 channels, BN, ReLU), seven groups of inverted residuals, a 1x1 conv to
1280 channels with BN and ReLU, global average pooling and a linear classifier. Every inverted
residual has its 1x1 expansion conv, even at expansion 1, and ReLU (not ReLU6) after the expansion
and the depthwise conv; its last 1x1 conv is linear, and it adds its input only when the stride is 1
and the width is unchanged. RepDistiller taps the outputs of groups 2, 3, 5 and 7 (1-based), so
those groups end the four stages here. Init as RepDistiller: convs N(0, 2/(k*k*out)), BN weight 1
and bias 0, the classifier N(0, 0.01^2) with zero bias.
"""
import torch
from torch import nn

from .staged import StagedNetwork

EXPANSION = 6
STEM_WIDTH = 16
HEAD_WIDTH = 1280
# (expansion, width, blocks, stride of the first block) per group, widths already halved; one tuple of groups per stage
STAGES = (
    ((1, 8, 1, 1), (EXPANSION, 12, 2, 1)),
    ((EXPANSION, 16, 3, 2),),
    ((EXPANSION, 32, 4, 2), (EXPANSION, 48, 3, 1)),
    ((EXPANSION, 80, 3, 2), (EXPANSION, 160, 1, 1)),
)


class InvertedResidual(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_planes * expansion
        self.residual = stride == 1 and in_planes == planes
        self.conv = nn.Sequential(
            nn.Conv2d(in_planes, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, planes, 1, bias=False), nn.BatchNorm2d(planes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(StagedNetwork):
    """RepDistiller ignores ``preact`` for this model: its stage outputs come from linear 1x1 convs
    with no ReLU after them, so ``preacts[1:]`` are the stage outputs themselves; ``preacts[0]`` is
    the stem before its ReLU, as for every model of the zoo. The 1x1 head conv reads the last
    stage and feeds only the classifier, so it belongs to no stage."""

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STEM_WIDTH, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)
        stages, in_planes = [], STEM_WIDTH
        for groups in STAGES:
            layers = []
            for expansion, planes, blocks, stride in groups:
                for i in range(blocks):
                    layers.append(InvertedResidual(in_planes, planes, stride if i == 0 else 1, expansion))
                    in_planes = planes
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Conv2d(in_planes, HEAD_WIDTH, 1, bias=False), nn.BatchNorm2d(HEAD_WIDTH),
                                  nn.ReLU())
        self.fc = nn.Linear(HEAD_WIDTH, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # N(0, 2/(k*k*out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def _stage_with_preact(self, stage: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = stage(x)
        return out, out
