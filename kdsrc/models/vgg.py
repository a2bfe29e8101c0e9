"""VGG with BN as RepDistiller defines it for CIFAR (Simonyan & Zisserman 2015; RepDistiller's
``vggN`` is its ``vggN_bn``).

Five blocks of 3x3 convs (with bias) + BN + ReLU at widths 64, 128, 256, 512, 512, a 2x2 max-pool
opening blocks 1, 2 and 3 (RepDistiller pools before block 4 only for 64x64 inputs, so at 32x32
blocks 3 and 4 both run at 4x4), global average pooling and one linear classifier: the ImageNet
FC layers are gone. Each block's last ReLU is applied in ``forward``, so a block's pre-activation
is its exact output before that ReLU. Init as RepDistiller: convs N(0, 2/(k*k*out)) with zero
bias, BN weight 1 and bias 0, the classifier N(0, 0.01^2) with zero bias.
"""
import torch
from torch import nn
import torch.nn.functional as F

from .features import Features

WIDTHS = (64, 128, 256, 512, 512)
POOL_FIRST = (False, True, True, True, False)


def vgg_block(in_channels: int, width: int, convs: int, pool_first: bool) -> nn.Sequential:
    """``convs`` conv3x3-BN pairs joined by ReLUs, after a 2x2 max-pool if ``pool_first``; the
    block's last ReLU is left to the caller."""
    layers = [nn.MaxPool2d(2)] if pool_first else []
    for i in range(convs):
        if i:
            layers.append(nn.ReLU())
        layers += [nn.Conv2d(width if i else in_channels, width, 3, padding=1), nn.BatchNorm2d(width)]
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, convs: tuple[int, ...], num_classes: int, in_channels: int = 3):
        super().__init__()
        blocks = []
        for width, n, pool_first in zip(WIDTHS, convs, POOL_FIRST):
            blocks.append(vgg_block(in_channels, width, n, pool_first))
            in_channels = width
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(in_channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # N(0, 2/(k*k*out))
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def stage_modules(self) -> list[nn.Module]:
        """The modules that compute each stage feature from the previous one (index 0: block 0, the stem)."""
        return list(self.blocks)

    def forward_features(self, x: torch.Tensor) -> Features:
        stages, preacts = [], []
        for block in self.blocks:
            pre = block(x)
            x = F.relu(pre)
            stages.append(x)
            preacts.append(pre)
        pooled = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return Features(self.fc(pooled), stages, preacts, pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = F.relu(block(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# convs per block
VGGS = {"vgg8": (1, 1, 1, 1, 1), "vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2),
        "vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
