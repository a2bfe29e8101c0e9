"""Knowledge review (Chen et al., CVPR 2021, "Distilling Knowledge via Knowledge Review").

Each level of the teacher is taught by several levels of the student: the student's stage
outputs and pooled vector are fused from deep to shallow by attention-based fusion (ABF)
modules, each level's 1x1-reduced feature merged with the upsampled fusion of the deeper ones
through two learned attention maps, then widened by a 3x3 conv to the teacher's channels and
size. The results match the teacher's pre-activation stage features and pooled vector under the
hierarchical context loss (:func:`kdsrc.losses.hcl_loss`). As the authors' code
(dvlab-research/ReviewKD, ``CIFAR-100/train.py``; mdistiller's ``ReviewKD`` is the same but
counts epochs from 1): ``ce_weight * CE + review_weight * min(epoch / 20, 1) * HCL`` with
epochs counted from 0 (scaled to the run's length: :data:`~kdsrc.distillers.base.WARMUP_SHARE`),
weight 5 for the resnet32x4 and wrn pairs (the paper plan sets the others), no KD term, and the
fusion width ``min(512, the student's pooled width)``. The ABF modules are trained with the
student and dropped after: about 1.8 M parameters for resnet32x4 -> resnet8x4, more than the
student itself.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import hcl_loss
from .base import WARMUP_SHARE, WEIGHT_SCALES, Distiller, feature_shapes, linear_warmup, pooled_width
from ..validate import require_int, require_non_negative, require_number


@dataclass(frozen=True)
class ReviewKDConfig:
    review_weight: float = 5.0
    ce_weight: float = 1.0
    warmup: float = WARMUP_SHARE  # share of the run over which the weight grows to 1
    max_mid_channels: int = 512

    def __post_init__(self):
        require_non_negative("review_weight", self.review_weight)
        require_non_negative("ce_weight", self.ce_weight)
        require_number("warmup", self.warmup, low=0, high=1)
        require_int("max_mid_channels", self.max_mid_channels, minimum=1)


class AttentionFusion(nn.Module):
    """One ABF module: reduce the student's level to ``mid`` channels (1x1 conv, BN); fuse it with
    the deeper levels' fusion, upsampled, through two sigmoid attention maps (all but the
    deepest level); resize to the teacher's level and widen to its channels (3x3 conv, BN).
    Returns the output and the fusion passed to the next, shallower level."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, fuse: bool):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, mid_channels, 1, bias=False), nn.BatchNorm2d(mid_channels))
        self.expand = nn.Sequential(nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(out_channels))
        self.attention = nn.Sequential(nn.Conv2d(2 * mid_channels, 2, 1), nn.Sigmoid()) if fuse else None
        nn.init.kaiming_uniform_(self.reduce[0].weight, a=1)
        nn.init.kaiming_uniform_(self.expand[0].weight, a=1)

    def forward(self, x, deeper, out_size):
        x = self.reduce(x)
        if self.attention is not None:
            deeper = F.interpolate(deeper, size=x.shape[-2:], mode="nearest")
            weights = self.attention(torch.cat([x, deeper], dim=1))
            x = x * weights[:, :1] + deeper * weights[:, 1:]
        if x.shape[-2:] != out_size:
            x = F.interpolate(x, size=out_size, mode="nearest")
        return self.expand(x), x


def _levels(stages, pooled):
    """A network's review levels: its stage features after the stem, then its pooled vector as a 1x1 map."""
    return [*stages[1:], pooled[:, :, None, None]]


class ReviewKD(Distiller):
    """Student and ABF modules trained on CE and the hierarchical context loss against the
    teacher's pre-activation levels."""

    Config = ReviewKDConfig
    needs_teacher = True
    pair_requirement = "ReviewKD fuses the two networks level by level, so it needs as many stages in each"
    tuning = {"review_weight": WEIGHT_SCALES}

    def __init__(self, student, teacher, config: ReviewKDConfig = ReviewKDConfig(), data=None):
        super().__init__(student, teacher, config, data)
        s_shapes, t_shapes = feature_shapes(student, data.example)[1:], feature_shapes(teacher, data.example)[1:]
        if len(s_shapes) != len(t_shapes):
            raise ValueError(f"teacher: {self.pair_requirement}; the student has {len(s_shapes)} after the stem, "
                             f"the teacher {len(t_shapes)}")
        s_channels = [s[1] for s in s_shapes] + [pooled_width(student, data.example)]
        t_channels = [t[1] for t in t_shapes] + [pooled_width(teacher, data.example)]
        mid = min(config.max_mid_channels, s_channels[-1])
        deepest = len(s_channels) - 1
        self.fusions = nn.ModuleList(AttentionFusion(s_channels[k], mid, t_channels[k], fuse=k != deepest)
                                     for k in reversed(range(len(s_channels))))  # deep to shallow

    def reviewed(self, features, teacher_sizes):
        """The student's levels fused deep to shallow, returned shallow first, each resized to the
        teacher level's spatial size in ``teacher_sizes`` (shallow first)."""
        outputs, deeper = [], None
        for fusion, level, size in zip(self.fusions, reversed(_levels(features.stages, features.pooled)),
                                       reversed(teacher_sizes)):
            out, deeper = fusion(level, deeper, size)
            outputs.insert(0, out)
        return outputs

    def forward_train(self, x, y, step=None):
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        targets = _levels(teacher.preacts, teacher.pooled)
        outputs = self.reviewed(features, [t.shape[-2:] for t in targets])
        review = hcl_loss(outputs, targets)
        return features.logits, {
            "ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
            "review": self.config.review_weight * linear_warmup(step, self.config.warmup, first_epoch=0) * review,
        }
