"""Part V's losses (DKD, DIST, logit standardisation, ReviewKD's HCL, CRD's critic and NCE) against
hand computations in the official code's forms, and their invariances."""
import pytest
import torch
import torch.nn.functional as F

from kdsrc.losses import (crd_critic, crd_nce_loss, dist_loss, dkd_loss, dkd_terms, hcl_loss, kd_loss,
                          standardize_logits, standardized_kd_loss)

torch.manual_seed(0)
DOUBLE = dict(dtype=torch.float64)


def _mdistiller_dkd(s, t, y, alpha, beta, T):
    """mdistiller's dkd_loss as written there: probabilities summed under masks, the log taken of
    them, and the target class pushed out of NCKD by subtracting 1000 from its logit."""
    gt = F.one_hot(y, s.shape[1]).bool()
    def binary(p):
        return torch.cat([(p * gt).sum(1, keepdim=True), (p * ~gt).sum(1, keepdim=True)], 1)
    p_s, p_t = binary(F.softmax(s / T, 1)), binary(F.softmax(t / T, 1))
    tckd = F.kl_div(torch.log(p_s), p_t, reduction="sum") * T**2 / len(y)
    nckd = F.kl_div(F.log_softmax(s / T - 1000.0 * gt, 1), F.softmax(t / T - 1000.0 * gt, 1),
                    reduction="sum") * T**2 / len(y)
    return alpha * tckd + beta * nckd


@pytest.mark.parametrize("alpha, beta, T", [(1.0, 8.0, 4.0), (2.0, 0.5, 1.0)])
def test_dkd_equals_mdistillers_form(alpha, beta, T):
    s, t, y = torch.randn(6, 10, **DOUBLE) * 3, torch.randn(6, 10, **DOUBLE) * 3, torch.randint(0, 10, (6,))
    torch.testing.assert_close(dkd_loss(s, t, y, alpha, beta, T), _mdistiller_dkd(s, t, y, alpha, beta, T))


def test_kds_kl_is_tckd_plus_one_minus_the_teachers_target_probability_times_nckd():
    """The DKD paper's Eq. (4), per example: KL = TCKD + (1 - p_t) NCKD, p_t the teacher's softened
    probability of the target class."""
    s, t, y, T = torch.randn(5, 7, **DOUBLE), torch.randn(5, 7, **DOUBLE) * 3, torch.randint(0, 7, (5,)), 4.0
    for i in range(5):
        one = slice(i, i + 1)
        tckd, nckd = dkd_terms(s[one], t[one], y[one], T)
        p_t = F.softmax(t[one] / T, 1)[0, y[i]]
        torch.testing.assert_close(kd_loss(s[one], t[one], T), tckd + (1 - p_t) * nckd)


def test_dkd_terms_vanish_when_the_student_copies_the_teacher_and_are_non_negative():
    t, y = torch.randn(4, 6, **DOUBLE), torch.randint(0, 6, (4,))
    assert all(abs(term) < 1e-12 for term in dkd_terms(t.clone(), t, y, 4.0))
    tckd, nckd = dkd_terms(torch.randn(4, 6, **DOUBLE), t, y, 4.0)
    assert tckd > 0 and nckd > 0


def _official_dist(s, t, beta, gamma, tau):
    """hunto/image_classification_sota's DIST, written out."""
    def pearson(a, b):
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)
    y_s, y_t = (s / tau).softmax(1), (t / tau).softmax(1)
    inter = 1 - pearson(y_s, y_t).mean()
    intra = 1 - pearson(y_s.T, y_t.T).mean()
    return tau**2 * (beta * inter + gamma * intra)


@pytest.mark.parametrize("beta, gamma, tau", [(1.0, 1.0, 4.0), (2.0, 0.5, 1.0)])
def test_dist_equals_the_authors_form(beta, gamma, tau):
    s, t = torch.randn(8, 10, **DOUBLE), torch.randn(8, 10, **DOUBLE)
    torch.testing.assert_close(dist_loss(s, t, beta, gamma, tau), _official_dist(s, t, beta, gamma, tau))


def test_dist_is_zero_when_the_student_equals_the_teacher_up_to_the_correlations_eps():
    t = torch.randn(8, 10, **DOUBLE)
    assert dist_loss(t.clone(), t, temperature=1.0) < 1e-5  # 1e-8 in the denominator keeps it off exact 0
    assert dist_loss(torch.randn(8, 10, **DOUBLE), t) > 0.1


def test_dist_inter_class_term_ignores_a_positive_affine_map_of_the_probabilities():
    """Pearson correlation ignores scale and shift of either side: a student whose probabilities
    are an affine map of the teacher's (here: a mix with the uniform) has zero inter-class loss."""
    t = torch.randn(6, 5, **DOUBLE)
    p_t = F.softmax(t, 1)
    s = torch.log(0.5 * p_t + 0.5 / 5)  # softmax(s) = 0.5 p_t + 0.1
    assert dist_loss(s, t, beta=1.0, gamma=0.0) < 1e-6


def test_standardize_logits_is_the_z_score_with_unbiased_std_plus_eps():
    z = torch.randn(3, 9, **DOUBLE)
    expected = (z - z.mean(1, keepdim=True)) / (torch.std(z, 1, keepdim=True, unbiased=True) + 1e-7)
    torch.testing.assert_close(standardize_logits(z), expected)


def test_standardized_kd_ignores_a_shift_and_a_positive_scaling_of_either_network():
    s, t = torch.randn(5, 10, **DOUBLE), torch.randn(5, 10, **DOUBLE)
    base = standardized_kd_loss(s, t, 2.0)
    close = dict(rtol=1e-5, atol=0)  # exact but for the 1e-7 added to the standard deviation
    torch.testing.assert_close(standardized_kd_loss(3 * s - 7, t, 2.0), base, **close)
    torch.testing.assert_close(standardized_kd_loss(s, 0.25 * t + 11, 2.0), base, **close)
    assert not torch.isclose(kd_loss(3 * s, t, 2.0), kd_loss(s, t, 2.0))  # plain KD does not
    torch.testing.assert_close(base, kd_loss(standardize_logits(s), standardize_logits(t), 2.0))


def _official_hcl(fs_list, ft_list):
    """dvlab-research/ReviewKD's hcl, written out."""
    total = 0.0
    for fs, ft in zip(fs_list, ft_list):
        loss, cnt, tot = ((fs - ft) ** 2).mean(), 1.0, 1.0
        for l in (4, 2, 1):
            if l >= fs.shape[2]:
                continue
            cnt /= 2.0
            loss = loss + ((F.adaptive_avg_pool2d(fs, l) - F.adaptive_avg_pool2d(ft, l)) ** 2).mean() * cnt
            tot += cnt
        total = total + loss / tot
    return total


def test_hcl_equals_reviewkds_and_weights_the_pooled_levels_by_halves():
    shapes = [(2, 3, 8, 8), (2, 4, 4, 4), (2, 5, 2, 2), (2, 6, 1, 1)]
    s = [torch.randn(*shape, **DOUBLE) for shape in shapes]
    t = [torch.randn(*shape, **DOUBLE) for shape in shapes]
    torch.testing.assert_close(hcl_loss(s, t), _official_hcl(s, t))
    # the 8x8 level by hand: full MSE, then 4x4, 2x2, 1x1 at 1/2, 1/4, 1/8, over 1 + 7/8
    mse = lambda a, b: ((a - b) ** 2).mean()  # noqa: E731
    pooled = [mse(F.adaptive_avg_pool2d(s[0], k), F.adaptive_avg_pool2d(t[0], k)) for k in (4, 2, 1)]
    by_hand = (mse(s[0], t[0]) + pooled[0] / 2 + pooled[1] / 4 + pooled[2] / 8) / (1 + 7 / 8)
    torch.testing.assert_close(hcl_loss(s[:1], t[:1]), by_hand)
    torch.testing.assert_close(hcl_loss(s[3:], t[3:]), mse(s[3], t[3]))  # a 1x1 level has no pooled terms


def _repdistiller_contrast_loss(x, n_data):
    """RepDistiller's ContrastLoss, written out."""
    eps, m = 1e-7, x.shape[1] - 1
    p_n = 1 / n_data
    log_d1 = torch.log(x[:, 0] / (x[:, 0] + m * p_n + eps))
    log_d0 = torch.log(torch.full_like(x[:, 1:], m * p_n) / (x[:, 1:] + m * p_n + eps))
    return -(log_d1.sum(0) + log_d0.view(-1, 1).sum(0)).squeeze() / x.shape[0]


def test_crd_nce_loss_equals_repdistillers_contrast_loss():
    scores = torch.rand(4, 17, **DOUBLE) * 2
    torch.testing.assert_close(crd_nce_loss(scores, 500), _repdistiller_contrast_loss(scores, 500))


def test_crd_critic_is_the_exponentiated_dot_product_over_the_temperature():
    v, rows = torch.randn(3, 5, **DOUBLE), torch.randn(3, 4, 5, **DOUBLE)
    expected = torch.stack([torch.stack([torch.exp(rows[i, k] @ v[i] / 0.07) for k in range(4)]) for i in range(3)])
    torch.testing.assert_close(crd_critic(v, rows, 0.07), expected)


def test_crd_loss_falls_as_the_positive_outscores_the_negatives():
    v = F.normalize(torch.randn(4, 8, **DOUBLE), dim=1)
    negatives = F.normalize(torch.randn(4, 16, 8, **DOUBLE), dim=2)
    def loss(positive):
        rows = torch.cat([positive.unsqueeze(1), negatives], 1)
        return crd_nce_loss(crd_critic(v, rows, 0.07) / 50.0, 100)
    assert loss(v) < loss(F.normalize(torch.randn(4, 8, **DOUBLE), dim=1)) < loss(-v)
