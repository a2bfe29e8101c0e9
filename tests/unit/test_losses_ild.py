"""Intermediate-layer losses (FitNets, AT, FSP, AB) against hand computations and their invariances."""
import pytest
import torch
import torch.nn.functional as F

from kdsrc.losses import ab_loss, at_loss, attention_map, fsp_loss, fsp_matrix, hint_loss

torch.manual_seed(0)


def test_hint_loss_is_the_mean_squared_error():
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.isclose(hint_loss(s, t), ((s - t) ** 2).mean())


def test_hint_loss_paper_form_is_half_the_squared_norm_per_example():
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    expected = sum(0.5 * ((s[b] - t[b]) ** 2).sum() for b in range(2)) / 2
    assert torch.isclose(hint_loss(s, t, form="paper"), expected)


def test_unknown_loss_form_is_rejected_by_name():
    with pytest.raises(ValueError, match="^form:"):
        hint_loss(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), form="other")


def test_attention_map_matches_the_official_at_function():
    x = torch.randn(3, 5, 6, 6)
    official = F.normalize(x.pow(2).mean(1).view(3, -1))
    assert torch.allclose(attention_map(x), official)


def test_at_loss_matches_a_hand_computation_summed_over_layers():
    s = [torch.randn(2, 4, 6, 6), torch.randn(2, 8, 3, 3)]
    t = [torch.randn(2, 7, 6, 6), torch.randn(2, 2, 3, 3)]

    def at(x):
        q = (x ** 2).mean(1).flatten(1)
        return q / q.norm(dim=1, keepdim=True)

    expected = sum(((at(a) - at(b)) ** 2).mean() for a, b in zip(s, t))
    assert torch.isclose(at_loss(s, t), expected)


def test_at_loss_is_invariant_to_a_positive_rescaling_of_a_feature_map():
    s, t = [torch.randn(2, 4, 6, 6)], [torch.randn(2, 4, 6, 6)]
    assert torch.isclose(at_loss(s, t), at_loss([5.0 * s[0]], [0.3 * t[0]]))


def test_at_loss_is_zero_for_identical_maps_and_pools_larger_maps():
    x, small = torch.randn(2, 4, 8, 8), torch.randn(2, 3, 4, 4)
    assert at_loss([x], [x.clone()]) == 0
    assert torch.isclose(at_loss([x], [small]), at_loss([F.adaptive_avg_pool2d(x, 4)], [small]))
    assert torch.isclose(at_loss([small], [x]), at_loss([small], [F.adaptive_avg_pool2d(x, 4)]))


def test_at_loss_needs_as_many_student_as_teacher_maps():
    with pytest.raises(ValueError):
        at_loss([torch.randn(1, 2, 4, 4)], [torch.randn(1, 2, 4, 4)] * 2)


def test_fsp_matrix_matches_a_hand_computation():
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    expected = torch.stack([
        torch.stack([torch.stack([(a[n, i] * b[n, j]).sum() / 16 for j in range(5)]) for i in range(3)])
        for n in range(2)])
    assert torch.allclose(fsp_matrix(a, b), expected, atol=1e-6)


def test_fsp_matrix_of_a_map_with_itself_is_symmetric():
    a = torch.randn(2, 6, 5, 5)
    g = fsp_matrix(a, a)
    assert torch.allclose(g, g.transpose(1, 2))


def test_fsp_matrix_pools_the_larger_map_by_average_or_max():
    a, b = torch.randn(1, 2, 8, 8), torch.randn(1, 3, 4, 4)
    assert torch.allclose(fsp_matrix(a, b), fsp_matrix(F.adaptive_avg_pool2d(a, 4), b))
    assert torch.allclose(fsp_matrix(a, b, pool="max"), fsp_matrix(F.adaptive_max_pool2d(a, 4), b))


def test_fsp_loss_official_and_paper_forms():
    sa, sb, ta, tb = (torch.randn(2, c, 4, 4) for c in (3, 5, 3, 5))
    diff = fsp_matrix(sa, sb) - fsp_matrix(ta, tb)
    assert torch.isclose(fsp_loss([(sa, sb)], [(ta, tb)]), (diff ** 2).mean())
    assert torch.isclose(fsp_loss([(sa, sb)], [(ta, tb)], form="paper"), (diff ** 2).sum() / 2)


def test_fsp_loss_refuses_pairs_with_different_channels():
    a = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="^fsp:"):
        fsp_loss([(a, a)], [(torch.randn(1, 4, 4, 4), a)])


def test_ab_loss_is_zero_when_the_student_agrees_in_sign_beyond_the_margin():
    t = torch.randn(3, 4, 5, 5)
    s = torch.where(t > 0, 1.0 + torch.rand_like(t), -1.0 - torch.rand_like(t))
    assert ab_loss(s, t, margin=1.0) == 0


def test_ab_loss_matches_a_hand_computation():
    t = torch.tensor([[1.0, -1.0, 2.0, -0.5]])
    s = torch.tensor([[0.5, 0.0, 3.0, -2.0]])
    # t>0 and s<=1: (0.5-1)^2; t<=0 and s>-1: (0+1)^2; the other two agree beyond the margin.
    assert torch.isclose(ab_loss(s, t, margin=1.0), torch.tensor(0.25 + 1.0))


def test_ild_losses_send_gradients_to_the_student_only():
    s = torch.randn(2, 4, 4, 4, requires_grad=True)
    t = torch.randn(2, 4, 4, 4, requires_grad=True)
    for loss in (hint_loss(s, t.detach()), at_loss([s], [t.detach()]),
                 fsp_loss([(s, s)], [(t.detach(), t.detach())]), ab_loss(s, t.detach())):
        loss.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and t.grad is None
