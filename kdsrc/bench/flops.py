"""How close a training loop runs to the machine's limit: the floating-point operations of one KD
step, counted by torch's FLOP counter (:class:`torch.utils.flop_counter.FlopCounterMode`), times
a measured rate."""
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ..losses import kd_loss


def _counted(work) -> int:
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops()


def kd_step_flops(student: torch.nn.Module, teacher: torch.nn.Module, images: torch.Tensor,
                  labels: torch.Tensor, temperature: float = 4.0) -> dict:
    """FLOPs per image of one KD step (Hinton et al. 2015, Eq. 2 with cross-entropy) on a batch:
    the teacher's forward pass, and the student's forward and backward passes with the loss.
    Counted on the counter's formulas (convolutions and matrix products; element-wise work is not
    counted), so a rate made from them is a lower bound on what the machine did."""
    student.train()
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher.forward_features(images).logits

    def teacher_forward():
        with torch.no_grad():
            teacher.forward_features(images)

    def student_step():
        logits = student.forward_features(images).logits
        loss = 0.1 * F.cross_entropy(logits, labels) + 0.9 * kd_loss(logits, teacher_logits, temperature)
        loss.backward()

    per_image = len(images)
    out = {"teacher_forward": _counted(teacher_forward) / per_image, "student_step": _counted(student_step) / per_image}
    student.zero_grad(set_to_none=True)
    return out


def gflop_per_second(flops_per_image: float, images_per_second: float) -> float:
    """A loop's rate of counted work: FLOPs per image times images per second, in GFLOP/s."""
    return flops_per_image * images_per_second / 1e9
