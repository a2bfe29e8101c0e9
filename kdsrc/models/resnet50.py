"""The CIFAR ResNet50 of RepDistiller (He et al. 2016, post-activation Bottleneck; RepDistiller's
``models/resnetv2.py``).

A 3x3 stride-1 conv stem (64 channels, BN, ReLU, no max-pool), four stages of 3, 4, 6, 3
bottlenecks (1x1 conv, 3x3 conv carrying the stride, 1x1 conv to 4x the width, each with BN) of
widths 64, 128, 256, 512 and strides 1, 2, 2, 2, global average pooling and a linear classifier.
A 1x1 conv + BN shortcut appears wherever the stride or the width changes. Init as RepDistiller:
Kaiming-normal (fan_out) convs, BN weight 1 and bias 0, PyTorch's default for the classifier.
"""
import torch
from torch import nn
import torch.nn.functional as F

from .resnet import shortcut
from .staged import StagedNetwork

EXPANSION = 4
STEM_WIDTH = 64
WIDTHS = (64, 128, 256, 512)
BLOCKS = (3, 4, 6, 3)
STRIDES = (1, 2, 2, 2)


class Bottleneck(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        out_planes = EXPANSION * planes
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = shortcut(in_planes, out_planes, stride)

    def forward_preact(self, x: torch.Tensor) -> torch.Tensor:
        """The residual sum before the block's final ReLU."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out)) + self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.forward_preact(x))


class ResNet50(StagedNetwork):
    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STEM_WIDTH, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)
        stages, in_planes = [], STEM_WIDTH
        for planes, blocks, stride in zip(WIDTHS, BLOCKS, STRIDES):
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(in_planes, planes, stride if i == 0 else 1))
                in_planes = EXPANSION * planes
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Identity()
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


