"""CIFAR ResNets as RepDistiller defines them (He et al. 2016, post-activation BasicBlock).

Depth 6n+2: a 3x3 conv stem with BN and ReLU, three stages of n BasicBlocks with strides 1, 2, 2,
global average pooling and a linear classifier. A 1x1 conv + BN shortcut appears wherever the
stride or the width changes. Global pooling is adaptive so 28x28 inputs work as well as 32x32.
"""
import torch
from torch import nn
import torch.nn.functional as F

from .staged import StagedNetwork


def shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    """A residual block's shortcut: the identity, or a 1x1 conv + BN where the stride or the width changes."""
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = shortcut(in_planes, planes, stride)

    def forward_preact(self, x: torch.Tensor) -> torch.Tensor:
        """The residual sum before the block's final ReLU."""
        out = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.forward_preact(x))


class CifarResNet(StagedNetwork):
    def __init__(self, depth: int, widths: tuple[int, int, int, int], num_classes: int,
                 in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, in_planes = [], widths[0]
        for planes, stride in zip(widths[1:], (1, 2, 2)):
            layers = []
            for i in range(blocks):
                layers.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
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


NARROW = (16, 16, 32, 64)
WIDE = (32, 64, 128, 256)
RESNETS = {
    "resnet8": (8, NARROW), "resnet14": (14, NARROW), "resnet20": (20, NARROW),
    "resnet32": (32, NARROW), "resnet44": (44, NARROW), "resnet56": (56, NARROW),
    "resnet110": (110, NARROW), "resnet8x4": (8, WIDE), "resnet32x4": (32, WIDE),
}
