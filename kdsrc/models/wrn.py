"""Wide ResNets as RepDistiller defines them (Zagoruyko & Komodakis 2016, pre-activation blocks).

Depth 6n+4: a bare 3x3 conv stem (16 channels), three stages of n pre-activation blocks with
widths 16k, 32k, 64k and strides 1, 2, 2, a final BN + ReLU, global average pooling, a linear
classifier; dropout is 0 as in RepDistiller. Because blocks are pre-activation, a stage's output
is a raw residual sum: its "pre-activation" is that sum passed through the BN that precedes the
next ReLU (RepDistiller's convention for the activation-boundary taps).
"""
import torch
from torch import nn
import torch.nn.functional as F

from .features import Features


class PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.equal_in_out = in_planes == planes
        self.shortcut = None if self.equal_in_out else nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(activated))))
        # RepDistiller's WRN projects the *activated* input when the width changes.
        return out + (x if self.equal_in_out else self.shortcut(activated))


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int, in_channels: int = 3):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"depth must be 6n+4, got {depth}")
        blocks = (depth - 4) // 6
        widths = (16, 16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        stages, in_planes = [], widths[0]
        for planes, stride in zip(widths[1:], (1, 2, 2)):
            layers = []
            for i in range(blocks):
                layers.append(PreActBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.bn = nn.BatchNorm2d(in_planes)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # N(0, 2/(k*k*out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def _next_bn(self, index: int) -> nn.BatchNorm2d:
        """The BN that reads stage ``index``'s output (index 0 is the stem)."""
        return self.stages[index][0].bn1 if index < len(self.stages) else self.bn

    def stage_modules(self) -> list[nn.Module]:
        """The modules that compute each stage feature from the previous one (index 0: the stem).

        The final BN reads stage 3 (it gives its pre-activation), so it belongs to no stage."""
        return [self.conv1, *self.stages]

    def forward_features(self, x: torch.Tensor) -> Features:
        x = self.conv1(x)
        stages, preacts = [x], [self._next_bn(0)(x)]
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            stages.append(x)
            preacts.append(self._next_bn(i)(x))
        pooled = torch.flatten(F.adaptive_avg_pool2d(F.relu(preacts[-1]), 1), 1)
        return Features(self.fc(pooled), stages, preacts, pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.relu(self.bn(x)), 1), 1))


WRNS = {"wrn_16_1": (16, 1), "wrn_16_2": (16, 2), "wrn_40_1": (40, 1), "wrn_40_2": (40, 2)}
