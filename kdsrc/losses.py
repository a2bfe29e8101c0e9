"""Distillation losses as pure functions over tensors (no other kdsrc module is imported).

Each returns a scalar tensor, averaged over the batch unless its docstring says otherwise.
"""
import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network", Sec. 2.

    ``T^2 * KL(softmax(z_t / T) || softmax(z_s / T))``, summed over classes and averaged over the
    batch: the form of the official-style implementations (RepDistiller's ``DistillKL``, the
    attention-transfer code). The paper writes the soft term as the cross-entropy
    ``H(p_t, p_s)``; that differs from the KL by the teacher's entropy, a constant for the
    student, so both have the same gradients. The T^2 factor keeps the soft term's gradient
    magnitude independent of T (the paper's remark at the end of Sec. 2.1).
    """
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2
