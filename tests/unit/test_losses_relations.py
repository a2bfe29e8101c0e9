"""Part IV's losses (SP, CC, RKD, PKT, NST, VID, FT) against hand computations and their invariances."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from kdsrc.losses import cc_loss, ft_factor, ft_loss, nst_loss, pkt_loss, rkd_loss, sp_loss, vid_loss

torch.manual_seed(0)
DOUBLE = dict(dtype=torch.float64)


def _permuted(*tensors):
    order = torch.randperm(tensors[0].shape[0])
    return [t[order] for t in tensors]


def test_sp_loss_is_the_distance_of_row_normalised_batch_gram_matrices_over_b_squared():
    s, t = torch.randn(3, 2, 2, 2, **DOUBLE), torch.randn(3, 5, **DOUBLE)
    def normalised_gram(f):
        f = f.reshape(3, -1)
        g = torch.stack([torch.stack([f[i] @ f[j] for j in range(3)]) for i in range(3)])
        return g / g.norm(dim=1, keepdim=True)
    expected = ((normalised_gram(t) - normalised_gram(s)) ** 2).sum() / 9
    assert torch.isclose(sp_loss(s, t), expected)


@pytest.mark.parametrize("loss", [sp_loss, rkd_loss, pkt_loss], ids=lambda f: f.__name__)
def test_batch_relation_losses_are_invariant_to_one_permutation_of_the_batch_for_both_networks(loss):
    s, t = torch.randn(6, 4, **DOUBLE), torch.randn(6, 7, **DOUBLE)
    torch.testing.assert_close(loss(*_permuted(s, t)), loss(s, t))


def test_cc_official_form_is_the_mean_over_consecutive_samples_of_their_products_of_absolute_gaps():
    s, t = torch.randn(4, 3, **DOUBLE), torch.randn(4, 3, **DOUBLE)
    d = (s - t).abs()
    expected = sum(sum(d[i, k] * d[i + 1, k] for k in range(3)) for i in range(3)) / 3
    assert torch.isclose(cc_loss(s, t), expected)


def test_cc_paper_form_approaches_the_gaussian_kernel_of_normalised_embeddings_as_the_order_grows():
    s, t = torch.randn(5, 4, **DOUBLE), torch.randn(5, 4, **DOUBLE)
    def kernel(e):
        e = F.normalize(e)
        return torch.exp(-0.4 * torch.cdist(e, e) ** 2)
    exact = ((kernel(s) - kernel(t)) ** 2).mean()
    assert torch.isclose(cc_loss(s, t, form="paper", order=12), exact, rtol=1e-9)
    # order 2 is the paper's truncation: 1 + 2g x + (2g x)^2 / 2, times exp(-2g)
    cos_s, cos_t = (F.normalize(e) @ F.normalize(e).T for e in (s, t))
    g = 0.4
    second = lambda c: math.exp(-2 * g) * (1 + 2 * g * c + (2 * g * c) ** 2 / 2)  # noqa: E731
    assert torch.isclose(cc_loss(s, t, form="paper"), ((second(cos_s) - second(cos_t)) ** 2).mean())
    with pytest.raises(ValueError, match="^form:"):
        cc_loss(s, t, form="kernel")


def test_rkd_distance_term_is_the_huber_loss_of_mean_normalised_distances_and_ignores_scale():
    s, t = torch.randn(4, 3, **DOUBLE), torch.randn(4, 6, **DOUBLE)
    def normalised(f):
        d = torch.cdist(f, f)
        return d / d[~torch.eye(4, dtype=torch.bool)].mean()
    expected = F.smooth_l1_loss(normalised(s), normalised(t))
    assert torch.isclose(rkd_loss(s, t, w_dist=1.0, w_angle=0.0), expected)
    for a, b in ((7.0, 1.0), (1.0, 0.01)):
        assert torch.isclose(rkd_loss(a * s, b * t, w_dist=1.0, w_angle=0.0), expected)


def test_rkd_angle_term_compares_the_cosines_of_every_triplet():
    s, t = torch.randn(4, 3, **DOUBLE), torch.randn(4, 5, **DOUBLE)
    def cosines(f):
        values = []
        for i, j, k in itertools.product(range(4), repeat=3):
            a, b = f[j] - f[i], f[k] - f[i]
            norm_a, norm_b = max(a.norm(), 1e-12), max(b.norm(), 1e-12)
            values.append((a / norm_a) @ (b / norm_b))
        return torch.stack(values)
    expected = F.smooth_l1_loss(cosines(s), cosines(t))
    assert torch.isclose(rkd_loss(s, t, w_dist=0.0, w_angle=1.0), expected)
    assert torch.isclose(rkd_loss(s, t), 25 * rkd_loss(s, t, 1.0, 0.0) + 50 * expected)


def test_rkd_teacher_side_carries_no_gradient():
    s, t = torch.randn(5, 3, requires_grad=True), torch.randn(5, 4, requires_grad=True)
    rkd_loss(s, t).backward()
    assert s.grad is not None and t.grad is None


def test_pkt_loss_is_the_mean_kl_of_cosine_kernel_conditional_probabilities():
    s, t = torch.randn(3, 4, **DOUBLE), torch.randn(3, 2, **DOUBLE)
    def conditional(f):
        k = (F.cosine_similarity(f[:, None], f[None, :], dim=2) + 1) / 2
        return k / k.sum(1, keepdim=True)
    p_s, p_t = conditional(s), conditional(t)
    expected = (p_t * torch.log(p_t / p_s)).mean()
    assert torch.isclose(pkt_loss(s, t), expected, rtol=1e-5)
    assert pkt_loss(s, s).abs() < 1e-12


def test_nst_loss_is_the_squared_mmd_of_normalised_channel_maps_with_the_squared_dot_kernel():
    s, t = torch.randn(2, 3, 4, 4, **DOUBLE), torch.randn(2, 5, 2, 2, **DOUBLE)
    pooled = F.adaptive_avg_pool2d(s, 2)
    total = 0
    for b in range(2):
        fs, ft = F.normalize(pooled[b].flatten(1), dim=1), F.normalize(t[b].flatten(1), dim=1)
        k = lambda a, c: (a @ c.T) ** 2  # noqa: E731
        total = total + k(ft, ft).mean() + k(fs, fs).mean() - 2 * k(fs, ft).mean()
    assert torch.isclose(nst_loss(s, t), total / 2)


def test_nst_loss_is_zero_for_identical_maps_and_ignores_a_positive_scaling():
    s = torch.randn(2, 4, 3, 3, **DOUBLE)
    assert nst_loss(s, s.clone()).abs() < 1e-12
    t = torch.randn(2, 6, 3, 3, **DOUBLE)
    torch.testing.assert_close(nst_loss(3.0 * s, 0.5 * t), nst_loss(s, t))


def _inverse_softplus(value):
    return torch.log(torch.expm1(value))


def test_vid_loss_is_the_gaussian_nll_with_one_softplus_variance_per_channel():
    mean, target = torch.randn(2, 3, 2, 2, **DOUBLE), torch.randn(2, 3, 2, 2, **DOUBLE)
    log_scale = torch.tensor([0.3, -1.0, 2.0], **DOUBLE)
    var = torch.log1p(torch.exp(log_scale)) + 1e-5
    expected = (0.5 * ((mean - target) ** 2 / var.view(1, 3, 1, 1) + torch.log(var).view(1, 3, 1, 1))).mean()
    assert torch.isclose(vid_loss(mean, target, log_scale), expected)


def test_vid_loss_is_least_at_the_true_variance_of_each_channel():
    mean, target = torch.randn(8, 2, 3, 3, **DOUBLE), torch.randn(8, 2, 3, 3, **DOUBLE)
    true_variance = ((mean - target) ** 2).mean((0, 2, 3))
    best = _inverse_softplus(true_variance - 1e-5).requires_grad_(True)
    loss = vid_loss(mean, target, best)
    loss.backward()
    assert best.grad.abs().max() < 1e-10
    for factor in (0.5, 0.9, 1.1, 2.0):
        assert vid_loss(mean, target, _inverse_softplus(factor * true_variance - 1e-5)) > loss


@pytest.mark.parametrize("form", ["repdistiller", "paper"])
def test_ft_factors_are_unit_vectors(form):
    factors = ft_factor(torch.randn(4, 3, 5, 5, **DOUBLE), form)
    torch.testing.assert_close(factors.norm(dim=1), torch.ones(4, **DOUBLE))


def test_ft_loss_repdistiller_form_compares_normalised_channel_means_of_squares():
    s, t = torch.randn(2, 3, 4, 4, **DOUBLE), torch.randn(2, 6, 2, 2, **DOUBLE)
    def factor(f):
        q = (f ** 2).mean(1).flatten(1)
        return q / q.norm(dim=1, keepdim=True)
    expected = (factor(F.adaptive_avg_pool2d(s, 2)) - factor(t)).abs().mean()
    assert torch.isclose(ft_loss(s, t), expected)
    assert torch.isclose(ft_loss(s, t, p2=2), ((factor(F.adaptive_avg_pool2d(s, 2)) - factor(t)) ** 2).mean())


def test_ft_loss_paper_form_is_the_mean_absolute_difference_of_the_whole_normalised_factors():
    s, t = torch.randn(2, 3, 2, 2, **DOUBLE), torch.randn(2, 3, 2, 2, **DOUBLE)
    flat = lambda f: f.flatten(1) / f.flatten(1).norm(dim=1, keepdim=True)  # noqa: E731
    assert torch.isclose(ft_loss(s, t, form="paper"), (flat(s) - flat(t)).abs().mean())
    assert ft_loss(s, 2.0 * s, form="paper").abs() < 1e-12
    with pytest.raises(ValueError, match="^form:"):
        ft_loss(s, t, form="official")


@pytest.mark.parametrize("loss, args", [
    (sp_loss, ((4, 3, 2, 2), (4, 5, 2, 2))), (cc_loss, ((4, 6), (4, 6))), (rkd_loss, ((4, 6), (4, 3))),
    (pkt_loss, ((4, 6), (4, 3))), (nst_loss, ((4, 3, 2, 2), (4, 5, 2, 2))), (ft_loss, ((4, 3, 2, 2), (4, 5, 2, 2)))],
    ids=lambda v: getattr(v, "__name__", ""))
def test_bfloat16_inputs_are_computed_in_float32(loss, args):
    s, t = (torch.randn(shape) for shape in args)
    value = loss(s.bfloat16(), t.bfloat16())
    assert value.dtype == torch.float32 and torch.isfinite(value)
