"""Cross-entropy and BinaryKL on one linear head: the combination Dual-Head KD (Yang et al. 2024)
shows collapsing.

``ce_weight * CE(z, y) + kd_weight * BinaryKL(z, teacher; T)`` on the student's own logits
(:func:`kdsrc.losses.binary_kl`, the official ``BinaryKL`` used for the paper's single-head
study; T = 2 as the official loss's default): vanilla KD with BinaryKL in place of the softmax
KL. ``measure_gradients`` records, per epoch, the cosine between the two losses' gradients on
the classifier's weights and on the backbone: the DHKD paper argues they conflict on the former
and not on the latter.
"""
from dataclasses import dataclass

from ..losses import binary_kl
from . import gradients
from .kd import KD, KDConfig
from ..validate import require_bool


@dataclass(frozen=True)
class CEBinaryKLConfig(KDConfig):
    temperature: float = 2.0
    ce_weight: float = 1.0
    kd_weight: float = 1.0
    measure_gradients: bool = False

    def __post_init__(self):
        super().__post_init__()
        require_bool("measure_gradients", self.measure_gradients)


class CEBinaryKL(KD):
    """Student's single head trained on cross-entropy plus BinaryKL to the teacher's logits."""

    Config = CEBinaryKLConfig
    soft_loss = staticmethod(binary_kl)

    @property
    def separate_backward(self):
        return "measure_gradients" if self.config.measure_gradients else None

    def backward(self, losses):
        if self.separate_backward is None:
            return super().backward(losses)
        return gradients.combine(self.named_trainable_parameters(), losses["ce"], losses["kd"],
                                 classifier_prefix="student.fc.", backbone_prefix="student.")
