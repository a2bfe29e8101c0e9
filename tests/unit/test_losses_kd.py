"""kd_loss: T^2 * KL(p_t || p_s) at temperature T, summed over classes, averaged over the batch."""
import math

import pytest
import torch
import torch.nn.functional as F

from kdsrc.losses import kd_loss


def hand_kd(student, teacher, T):
    """The loss written out in plain Python floats: mean_i sum_c p_t log(p_t / p_s), times T^2."""
    def softmax(row):
        exps = [math.exp(v / T) for v in row]
        return [e / sum(exps) for e in exps]

    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        p_s, p_t = softmax(s_row), softmax(t_row)
        total += sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))
    return T**2 * total / len(student)


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 7, generator=g, dtype=torch.float64), torch.randn(5, 7, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 20.0])
def test_kd_loss_matches_hand_computed_kl_times_t_squared(logits, T):
    student, teacher = logits
    assert kd_loss(student, teacher, T).item() == pytest.approx(hand_kd(student, teacher, T), rel=1e-12)


def test_kd_loss_scales_with_temperature_squared_in_the_near_uniform_regime():
    # Small logits: p at T stays near uniform; the loss is T^2 times the KL at T, not the bare KL.
    g = torch.Generator().manual_seed(1)
    student, teacher = 0.1 * torch.randn(4, 10, generator=g, dtype=torch.float64), \
        0.1 * torch.randn(4, 10, generator=g, dtype=torch.float64)
    for T in (1.0, 2.0, 4.0):
        kl_at_T = hand_kd(student, teacher, T) / T**2
        assert kd_loss(student, teacher, T).item() == pytest.approx(T**2 * kl_at_T, rel=1e-12)
    # KL at T shrinks like 1/T^2 here, so the T^2 factor keeps the loss the same size at every T
    assert kd_loss(student, teacher, 4.0).item() == pytest.approx(kd_loss(student, teacher, 1.0).item(), rel=0.1)


def test_kd_loss_is_zero_when_student_equals_teacher(logits):
    student, _ = logits
    assert kd_loss(student, student.clone(), 4.0).item() == pytest.approx(0.0, abs=1e-14)


def test_kd_loss_is_positive_when_logits_differ(logits):
    assert kd_loss(*logits, 4.0).item() > 1e-3


def test_kd_loss_is_invariant_to_a_constant_added_to_a_logits_row(logits):
    student, teacher = logits
    shift = torch.arange(5, dtype=torch.float64)[:, None] * 3.7  # a different constant per row
    base = kd_loss(student, teacher, 2.0)
    assert kd_loss(student + shift, teacher, 2.0).item() == pytest.approx(base.item(), rel=1e-10)
    assert kd_loss(student, teacher - shift, 2.0).item() == pytest.approx(base.item(), rel=1e-10)


def test_kd_loss_matches_kldivloss_batchmean_form(logits):
    student, teacher = logits
    T = 3.0
    reference = torch.nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(student / T, dim=1), F.softmax(teacher / T, dim=1)) * T**2
    assert kd_loss(student, teacher, T).item() == pytest.approx(reference.item(), rel=1e-10)


def test_kd_loss_gradient_reaches_student_only_when_teacher_is_detached(logits):
    student = logits[0].clone().requires_grad_(True)
    teacher_source = logits[1].clone().requires_grad_(True)
    kd_loss(student, teacher_source.detach(), 4.0).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher_source.grad is None


def test_kd_loss_gradient_matches_closed_form(logits):
    # d/dz_s of T^2 KL = T (p_s - p_t) / batch
    student, teacher = logits
    student = student.clone().requires_grad_(True)
    T = 4.0
    kd_loss(student, teacher, T).backward()
    expected = T * (F.softmax(student.detach() / T, 1) - F.softmax(teacher / T, 1)) / len(student)
    torch.testing.assert_close(student.grad, expected, rtol=1e-10, atol=1e-12)
