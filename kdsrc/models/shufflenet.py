"""ShuffleNets as RepDistiller defines them for CIFAR: ``ShuffleV1`` (Zhang et al. 2018, groups 3;
RepDistiller's ``models/ShuffleNetv1.py``) and ``ShuffleV2`` (Ma et al. 2018, net size 1;
``models/ShuffleNetv2.py``).

Both start with a 1x1 conv stem to 24 channels with BN and ReLU and no downsampling, then three
stages that each halve the resolution in their first block, then global average pooling and a
linear classifier. As in RepDistiller, the convs and the classifier keep PyTorch's default init.

- V1: stages of 4, 8, 4 bottlenecks with 240, 480, 960 output channels. A bottleneck is a grouped
  1x1 conv to a quarter of its branch width (dense when it reads the 24-channel stem), a channel
  shuffle, a 3x3 depthwise conv (followed by a ReLU, unlike the paper), and a grouped 1x1 conv.
  A stage's first block has stride 2 and concatenates a 3x3 average-pooled shortcut (its branch
  makes the remaining channels); the others add their input.
- V2: stages of a down-sampling block and 3, 7, 3 basic blocks with 116, 232, 464 channels, a
  1x1 conv to 1024 channels with BN and ReLU before pooling. A basic block passes one half of its
  channels through and transforms the other (1x1 conv, 3x3 depthwise conv, 1x1 conv), then
  shuffles the two halves together.

A stage's pre-activation is its last block's output before that block's final ReLU (RepDistiller's
``preact``). For V2 the block's pass-through half is made of ReLU outputs, so the ReLU is applied
to the whole shuffled block output: the same values as RepDistiller, and the pre-activation has the
stage output's channel order (RepDistiller returns it before the shuffle).
"""
import torch
from torch import nn
import torch.nn.functional as F

from .staged import StagedNetwork

STEM_WIDTH = 24
V1_GROUPS, V1_WIDTHS, V1_BLOCKS = 3, (240, 480, 960), (4, 8, 4)
V2_WIDTHS, V2_BLOCKS, V2_HEAD_WIDTH = (116, 232, 464), (3, 7, 3), 1024


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups: [g0c0, g0c1, .., g1c0, ..] -> [g0c0, g1c0, ..]."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def conv_bn(in_planes: int, planes: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A conv without bias, padded to keep the size at stride 1, and BN."""
    return [nn.Conv2d(in_planes, planes, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(planes)]


class ShuffleUnitV1(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, groups: int):
        super().__init__()
        branch = planes - in_planes if stride == 2 else planes
        mid = branch // 4
        self.shuffle_groups = 1 if in_planes == STEM_WIDTH else groups
        self.reduce = nn.Sequential(*conv_bn(in_planes, mid, groups=self.shuffle_groups), nn.ReLU())
        self.rest = nn.Sequential(*conv_bn(mid, mid, 3, stride, groups=mid), nn.ReLU(),
                                  *conv_bn(mid, branch, groups=groups))
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward_preact(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output before its final ReLU."""
        out = self.rest(channel_shuffle(self.reduce(x), self.shuffle_groups))
        return out + x if self.shortcut is None else torch.cat([out, self.shortcut(x)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.forward_preact(x))


class DownUnitV2(nn.Module):
    def __init__(self, in_planes: int, planes: int):
        super().__init__()
        half = planes // 2
        self.left = nn.Sequential(*conv_bn(in_planes, in_planes, 3, 2, groups=in_planes),
                                  *conv_bn(in_planes, half), nn.ReLU())
        self.right = nn.Sequential(*conv_bn(in_planes, half), nn.ReLU(),
                                   *conv_bn(half, half, 3, 2, groups=half), *conv_bn(half, half), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(torch.cat([self.left(x), self.right(x)], 1), 2)


class ShuffleUnitV2(nn.Module):
    def __init__(self, planes: int):
        super().__init__()
        half = planes // 2
        self.branch = nn.Sequential(*conv_bn(half, half), nn.ReLU(), *conv_bn(half, half, 3, groups=half),
                                    *conv_bn(half, half))

    def forward_preact(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output before its final ReLU. RepDistiller applies that ReLU to the
        transformed half alone; the pass-through half is made of ReLU outputs, so applying it to
        every channel changes nothing."""
        kept, transformed = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat([kept, self.branch(transformed)], 1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.forward_preact(x))


class ShuffleNet(StagedNetwork):
    """The stem, three stages of blocks and a ``head`` (V2's 1x1 conv) before pooling."""

    def __init__(self, stages: list[nn.Sequential], head: nn.Module, pooled_width: int, num_classes: int,
                 in_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STEM_WIDTH, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)
        self.stages = nn.ModuleList(stages)
        self.head = head
        self.fc = nn.Linear(pooled_width, num_classes)


class ShuffleNetV1(ShuffleNet):
    def __init__(self, num_classes: int, in_channels: int = 3):
        stages, in_planes = [], STEM_WIDTH
        for planes, blocks in zip(V1_WIDTHS, V1_BLOCKS):
            stages.append(nn.Sequential(*(ShuffleUnitV1(in_planes if i == 0 else planes, planes, 2 if i == 0 else 1,
                                                        V1_GROUPS) for i in range(blocks))))
            in_planes = planes
        super().__init__(stages, nn.Identity(), in_planes, num_classes, in_channels)


class ShuffleNetV2(ShuffleNet):
    def __init__(self, num_classes: int, in_channels: int = 3):
        stages, in_planes = [], STEM_WIDTH
        for planes, blocks in zip(V2_WIDTHS, V2_BLOCKS):
            stages.append(nn.Sequential(DownUnitV2(in_planes, planes), *(ShuffleUnitV2(planes) for _ in range(blocks))))
            in_planes = planes
        head = nn.Sequential(*conv_bn(in_planes, V2_HEAD_WIDTH), nn.ReLU())
        super().__init__(stages, head, V2_HEAD_WIDTH, num_classes, in_channels)
