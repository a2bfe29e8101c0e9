"""SRRL and DHKD losses against separate implementations of the official code's forms, hand
computations, their invariances, and numerical stability."""
import math

import pytest
import torch
import torch.nn.functional as F

from kdsrc.losses import binary_kl, binary_kl_norm, kd_loss, srrl_losses


def official_binary_kl(s, t, T, eps=1e-8):
    """penghui-yang/DHKD distiller_zoo/BinaryKL.py, written out."""
    ps = torch.sigmoid(s / T).clamp(eps, 1 - eps)
    pt = torch.sigmoid(t / T).clamp(eps, 1 - eps)
    loss = F.kl_div(torch.log(ps), pt, reduction="none") + F.kl_div(torch.log(1 - ps), 1 - pt, reduction="none")
    return T**2 * loss.sum() / s.shape[0]


def official_binary_kl_norm(s, t, T, eps=1e-8):
    """penghui-yang/DHKD distiller_zoo/BinaryKLNorm.py, written out."""
    d = torch.sigmoid((s - t) / T).clamp(eps, 1 - eps)
    half = torch.full_like(d, 0.5)
    loss = F.kl_div(torch.log(d), half, reduction="none") + F.kl_div(torch.log(1 - d), 1 - half, reduction="none")
    return T**2 * loss.sum() / s.shape[0]


def _logits(seed=0, scale=3.0, shape=(8, 10)):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=g, dtype=torch.float64), scale * torch.randn(shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 4.0])
def test_binary_kl_and_norm_equal_the_official_forms_on_ordinary_logits(T):
    s, t = _logits()
    assert torch.allclose(binary_kl(s, t, T).double(), official_binary_kl(s, t, T), rtol=1e-5)
    assert torch.allclose(binary_kl_norm(s, t, T).double(), official_binary_kl_norm(s, t, T), rtol=1e-5)


def test_binary_kl_by_hand_for_one_class():
    s, t, T = torch.tensor([[0.0]]), torch.tensor([[2.0]]), 2.0
    pt, ps = 1 / (1 + math.exp(-1.0)), 0.5
    expected = T**2 * (pt * math.log(pt / ps) + (1 - pt) * math.log((1 - pt) / (1 - ps)))
    assert binary_kl(s, t, T).item() == pytest.approx(expected, rel=1e-6)


def test_binary_kl_norm_is_log_cosh_of_half_the_scaled_gap_and_its_gradient_a_tanh():
    s, t = _logits(1)
    s.requires_grad_(True)
    T, n = 2.0, s.shape[0]
    loss = binary_kl_norm(s, t, T, eps=0)
    assert torch.allclose(loss.double(), T**2 * torch.log(torch.cosh((s - t) / (2 * T))).sum() / n, rtol=1e-5)
    loss.backward()
    assert torch.allclose(s.grad, (T / (2 * n)) * torch.tanh((s - t).detach() / (2 * T)), rtol=1e-4, atol=1e-7)


def test_both_vanish_when_the_student_copies_the_teacher():
    s, _ = _logits()
    assert binary_kl(s, s, 2.0).item() == pytest.approx(0, abs=1e-6)
    assert binary_kl_norm(s, s, 2.0).item() == pytest.approx(0, abs=1e-6)


def test_softmax_cannot_tell_shifted_logits_apart_but_binary_kl_can():
    """The DHKD paper's example: [2, 3, 4] and [-2, -1, 0] have the same softmax."""
    a, b = torch.tensor([[2.0, 3.0, 4.0]]), torch.tensor([[-2.0, -1.0, 0.0]])
    assert kd_loss(a, b, 1.0).item() == pytest.approx(0, abs=1e-6)
    assert binary_kl(a, b, 1.0).item() > 0.5 and binary_kl_norm(a, b, 1.0).item() > 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("gap", [1.0, 20.0, 60.0, 1e3, 1e4])
@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 4.0])
def test_finite_values_and_gradients_where_the_official_norm_returns_inf(dtype, gap, T):
    s = torch.tensor([[gap, -gap, 0.5]], dtype=dtype, requires_grad=True)
    t = torch.zeros(1, 3, dtype=dtype)
    if dtype == torch.float32 and gap / T >= 20:
        assert math.isinf(official_binary_kl_norm(s.detach(), t, T).item())
    for loss_fn in (binary_kl, binary_kl_norm):
        s.grad = None
        loss = loss_fn(s, t, T)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


def test_unclamped_norm_keeps_a_bounded_gradient_for_large_gaps():
    s = torch.tensor([[100.0]], requires_grad=True)
    binary_kl_norm(s, torch.zeros(1, 1), 1.0, eps=0).backward()
    assert s.grad.item() == pytest.approx(0.5, rel=1e-6)  # T/2 * tanh(large) with N = 1


@pytest.mark.parametrize("loss_fn", [binary_kl, binary_kl_norm])
@pytest.mark.parametrize("T", [0, -1.0, float("nan")])
def test_a_bad_temperature_is_named(loss_fn, T):
    with pytest.raises(ValueError, match="^temperature:"):
        loss_fn(torch.zeros(1, 2), torch.zeros(1, 2), T)


def _classifier():
    torch.manual_seed(0)
    fc = torch.nn.Linear(4, 3)
    fc.requires_grad_(False)
    return fc


def test_srrl_official_losses_by_hand_on_pooled_maps():
    fc = _classifier()
    student = torch.randn(2, 4, 3, 3, requires_grad=True)
    teacher = torch.randn(2, 4, 3, 3)
    l_fm, l_sr = srrl_losses(student, teacher, fc)
    hs, ht = student.mean((2, 3)), teacher.mean((2, 3))
    assert torch.allclose(l_fm, ((hs - ht) ** 2).mean())
    assert torch.allclose(l_sr, ((fc(hs) - fc(ht)) ** 2).mean())
    # the bias cancels: the SR loss is a distance between features weighted by the classifier (Eq. 7)
    assert torch.allclose(l_sr, (((hs - ht) @ fc.weight.T) ** 2).mean())
    (l_fm + l_sr).backward()
    assert student.grad is not None and fc.weight.grad is None


def test_srrl_paper_form_is_the_cross_entropy_to_the_teacher_softmax():
    fc = _classifier()
    hs, ht = torch.randn(5, 4), torch.randn(5, 4)
    _, l_sr = srrl_losses(hs, ht, fc, form="paper")
    expected = -(F.softmax(fc(ht), 1) * F.log_softmax(fc(hs), 1)).sum(1).mean()
    assert torch.allclose(l_sr, expected)
    _, zero = srrl_losses(ht, ht, fc)
    assert zero.item() == 0
    with pytest.raises(ValueError, match="^form:"):
        srrl_losses(hs, ht, fc, form="nope")
