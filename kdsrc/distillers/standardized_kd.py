"""Logit standardisation for KD (Sun et al., CVPR 2024, "Logit Standardization in Knowledge
Distillation").

KD's shared temperature asks the student to match the teacher's logits in range and shift as
well as in their relations. Z-scoring both networks' logits before the softmax drops that
demand (:func:`kdsrc.losses.standardized_kd_loss`): the soft term becomes invariant to a shift
and a positive scaling of either network's logits, the property chapter 2 shows softmax has for
shifts alone. It is KD with another soft loss. Defaults are the authors' CIFAR-100 recipe
(sunshangquan/logit-standardization-KD: ``--logit-stand --base-temp 2 --kd-weight 9`` on
mdistiller's KD, CE weight 0.1).
"""
from dataclasses import dataclass

from ..losses import standardized_kd_loss
from .kd import KD, KDConfig


@dataclass(frozen=True)
class StandardizedKDConfig(KDConfig):
    temperature: float = 2.0
    ce_weight: float = 0.1
    kd_weight: float = 9.0


class StandardizedKD(KD):
    """KD on Z-scored logits of both networks."""

    Config = StandardizedKDConfig
    soft_loss = staticmethod(standardized_kd_loss)
