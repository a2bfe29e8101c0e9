"""Distillation losses as pure functions over tensors (no other kdsrc module is imported).

Each returns a scalar tensor, averaged over the batch unless its docstring says otherwise. Each
computes in fp32 whatever autocast is active (:func:`in_fp32`): under bfloat16 training the
networks' outputs arrive in bf16, and softmaxes, logarithms and sums of squares need the range.
"""
import functools
import math

import torch
import torch.nn.functional as F


def _fp32(value):
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, (list, tuple)):
        return type(value)(_fp32(v) for v in value)
    return value


def _device_type(values) -> str:
    for value in values:
        if isinstance(value, torch.Tensor):
            return value.device.type
        if isinstance(value, (list, tuple)) and value:
            return _device_type(value)
    return "cpu"


def in_fp32(loss):
    """Decorate ``loss`` to run with autocast off and its half-precision tensor arguments (and lists
    or tuples of them) cast to fp32; a no-op for fp32 or fp64 inputs outside autocast."""
    @functools.wraps(loss)
    def fp32_loss(*args, **kwargs):
        args, kwargs = _fp32(args), {k: _fp32(v) for k, v in kwargs.items()}
        with torch.autocast(_device_type([*args, *kwargs.values()]), enabled=False):
            return loss(*args, **kwargs)
    return fp32_loss



@in_fp32
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


def _check_form(form: str) -> None:
    if form not in ("official", "paper"):
        raise ValueError(f"form: must be 'official' or 'paper', got {form!r}")


@in_fp32
def hint_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor, form: str = "official") -> torch.Tensor:
    """FitNets (Romero et al. 2015), the hint loss of Eq. (3) on the already regressed student hint.

    ``official`` (default): mean squared error over all elements, as RepDistiller's ``HintLoss``
    (``nn.MSELoss()``). ``paper``: ``1/2 ||u_h - r(v_g)||^2`` per example, averaged over the batch.
    The two differ only by a constant factor (half the number of elements per example).
    """
    _check_form(form)
    if form == "official":
        return F.mse_loss(student_feat, teacher_feat)
    return 0.5 * (student_feat - teacher_feat).pow(2).sum() / student_feat.shape[0]


def pool_to_smaller(a: torch.Tensor, b: torch.Tensor, mode: str = "avg") -> tuple[torch.Tensor, torch.Tensor]:
    """Pool the spatially larger of two maps down to the size of the smaller."""
    pool = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    if a.shape[-2:] == b.shape[-2:]:
        return a, b
    if a.shape[-1] > b.shape[-1]:
        return pool(a, b.shape[-2:]), b
    return a, pool(b, a.shape[-2:])


@in_fp32
def attention_map(feat: torch.Tensor, p: float = 2) -> torch.Tensor:
    """Zagoruyko & Komodakis 2017, Eq. (2) with F^p_mean: the channel mean of |F|^p, flattened and
    L2-normalised per example (the official code's ``at(x)``)."""
    return F.normalize(feat.abs().pow(p).mean(1).flatten(1), dim=1)


@in_fp32
def at_loss(student_feats, teacher_feats, p: float = 2, form: str = "official") -> torch.Tensor:
    """Attention transfer (Zagoruyko & Komodakis 2017, Eq. 2), summed over the layer pairs.

    ``official`` (default): per pair, the mean over batch and positions of the squared difference
    of the normalised attention maps (``(at(x) - at(y)).pow(2).mean()`` in the official code and
    RepDistiller), which is the paper's beta "divided by the number of elements in the attention
    map and batch size". ``paper``: Eq. (2)'s ``1/2 || Q_s/||Q_s|| - Q_t/||Q_t|| ||_2`` (a norm,
    not squared), averaged over the batch. Maps of different spatial size are average-pooled to
    the smaller one, as RepDistiller does.
    """
    _check_form(form)
    total = 0
    for s, t in zip(student_feats, teacher_feats, strict=True):
        s, t = pool_to_smaller(s, t)
        diff = attention_map(s, p) - attention_map(t, p)
        total = total + (diff.pow(2).mean() if form == "official" else 0.5 * diff.norm(dim=1).mean())
    return total


@in_fp32
def fsp_matrix(feat_a: torch.Tensor, feat_b: torch.Tensor, pool: str = "avg") -> torch.Tensor:
    """The FSP (flow of solution procedure) matrix of Yim et al. 2017, Eq. (1), per example.

    ``G[i, j] = sum_{h,w} F_a[i, h, w] * F_b[j, h, w] / (h * w)``, shape batch x C_a x C_b. The
    larger map is pooled to the smaller one: average pooling as RepDistiller does (default), or
    max pooling as the paper describes (``pool="max"``).
    """
    if pool not in ("avg", "max"):
        raise ValueError(f"pool: must be 'avg' or 'max', got {pool!r}")
    feat_a, feat_b = pool_to_smaller(feat_a, feat_b, pool)
    h, w = feat_a.shape[-2:]
    return torch.einsum("bihw,bjhw->bij", feat_a, feat_b) / (h * w)


@in_fp32
def fsp_loss(student_pairs, teacher_pairs, form: str = "official", pool: str = "avg") -> torch.Tensor:
    """FSP loss (Yim et al. 2017, Eq. 2) over lists of (first, last) feature-map pairs.

    ``official`` (default): per pair, the mean squared difference of the student's and teacher's
    FSP matrices (RepDistiller's ``FSP``), summed over pairs. ``paper``: the squared L2 distance
    of the matrices summed over their elements, averaged over the batch, with equal weights.
    """
    _check_form(form)
    total = 0
    for (sa, sb), (ta, tb) in zip(student_pairs, teacher_pairs, strict=True):
        if (sa.shape[1], sb.shape[1]) != (ta.shape[1], tb.shape[1]):
            raise ValueError(f"fsp: student and teacher FSP matrices differ in shape "
                             f"({sa.shape[1]}x{sb.shape[1]} vs {ta.shape[1]}x{tb.shape[1]}); FSP needs equal channels")
        diff = fsp_matrix(sa, sb, pool) - fsp_matrix(ta, tb, pool)
        total = total + (diff.pow(2).mean() if form == "official" else diff.pow(2).sum() / diff.shape[0])
    return total


@in_fp32
def ab_loss(student_preact: torch.Tensor, teacher_preact: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Activation boundaries (Heo et al. 2019), the official code's alternative loss, Eq. (6), for one layer.

    On pre-ReLU responses: ``(s + m)^2`` where the teacher neuron is off (t <= 0) but the student's
    is not below ``-m``, plus ``(s - m)^2`` where the teacher is on (t > 0) but the student is not
    above ``m``; summed over all elements and divided by the batch size. The official code then
    weights layers by 1/4, 1/2, 1 (deepest heaviest) and scales by 3/1000; that belongs to the
    distiller.
    """
    if margin < 0:
        raise ValueError(f"margin: must be >= 0, got {margin!r}")
    s, t = student_preact, teacher_preact
    off = (s > -margin) & (t <= 0)
    on = (s <= margin) & (t > 0)
    loss = (s + margin).pow(2) * off + (s - margin).pow(2) * on
    return loss.sum() / s.shape[0]


def _global_pool(feat: torch.Tensor) -> torch.Tensor:
    return feat.mean(dim=(2, 3)) if feat.dim() == 4 else feat


@in_fp32
def srrl_losses(student_feat: torch.Tensor, teacher_feat: torch.Tensor, teacher_classifier,
                form: str = "official") -> tuple[torch.Tensor, torch.Tensor]:
    """SRRL (Yang et al., ICLR 2021): ``(l_fm, l_sr)``, feature matching (Eq. 3) and softmax
    regression through the frozen teacher classifier (Eqs. 5 and 7).

    ``student_feat`` is the student's last feature map already passed through the connector,
    ``teacher_feat`` the teacher's (maps are globally average-pooled; vectors are used as they
    are). ``l_fm`` is the mean squared error of the pooled features. ``official`` (default, the
    official code jingyang2017/KD_SRRL and the paper's Eq. 7): ``l_sr`` is the mean squared error
    between the teacher classifier applied to the student feature and the teacher's own logits.
    ``paper``: Eq. 5's cross-entropy ``-softmax(z_t) . log_softmax(z_ts)``, averaged over the batch.
    The spatial mean and the mean reductions are the code's; the paper writes sums. Gradients
    reach ``student_feat`` only; the teacher's logits are computed without gradient.
    """
    _check_form(form)
    h_student, h_teacher = _global_pool(student_feat), _global_pool(teacher_feat)
    l_fm = F.mse_loss(h_student, h_teacher)
    with torch.no_grad():
        z_teacher = teacher_classifier(h_teacher)
    z_through_teacher = teacher_classifier(h_student)
    if form == "official":
        l_sr = F.mse_loss(z_through_teacher, z_teacher)
    else:
        l_sr = -(F.softmax(z_teacher, dim=1) * F.log_softmax(z_through_teacher, dim=1)).sum(1).mean()
    return l_fm, l_sr


def _clamped_log_sigmoids(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p`` and ``log(1 - p)`` for ``p = clamp(sigmoid(x), eps, 1 - eps)``, computed in log
    space so that neither becomes ``-inf`` (the clamp in probability space rounds ``1 - 1e-8`` to 1
    in float32, hence ``log(0)``); in the precision of ``x`` (:func:`in_fp32` has cast half
    precision up)."""
    if eps == 0:
        return F.logsigmoid(x), F.logsigmoid(-x)
    low, high = math.log(eps), math.log1p(-eps)
    return F.logsigmoid(x).clamp(low, high), F.logsigmoid(-x).clamp(low, high)


def _check_temperature(temperature: float) -> None:
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature: must be a finite number > 0, got {temperature!r}")


@in_fp32
def binary_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
              eps: float = 1e-8) -> torch.Tensor:
    """BinaryKL of Dual-Head KD (Yang et al. 2024), as the official code (penghui-yang/DHKD,
    ``distiller_zoo/BinaryKL.py``) defines it.

    For every class k a Bernoulli KL, ``KL(Bern(sigmoid(t_k / T)) || Bern(sigmoid(s_k / T)))``,
    summed over classes, averaged over the batch, times T^2. Like the official code, both
    probabilities are clamped to ``[eps, 1 - eps]`` (so the gradient vanishes where
    ``|logit / T|`` exceeds about 18 for the default eps); unlike it, the clamp is applied to the
    log-probabilities, so values and gradients stay finite for any finite logits, in float32 and
    bfloat16 (computed in float32). ``eps=0`` gives the unclamped loss.
    """
    _check_temperature(temperature)
    log_ps, log_1m_ps = _clamped_log_sigmoids(student_logits / temperature, eps)
    log_pt, log_1m_pt = _clamped_log_sigmoids(teacher_logits / temperature, eps)
    kl = log_pt.exp() * (log_pt - log_ps) + log_1m_pt.exp() * (log_1m_pt - log_1m_ps)
    return temperature**2 * kl.sum() / student_logits.shape[0]


@in_fp32
def binary_kl_norm(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                   eps: float = 1e-8) -> torch.Tensor:
    """BinaryKL-Norm of Dual-Head KD (Yang et al. 2024), the loss DHKD trains its auxiliary head
    with, as the official code (``distiller_zoo/BinaryKLNorm.py``) defines it.

    Each class's binary problem is re-centred on the teacher: ``d_k = sigmoid((s_k - t_k) / T)``
    against the target 1/2, i.e. ``KL(Bern(1/2) || Bern(d_k))``, which equals
    ``log cosh((s_k - t_k) / (2T))``; summed over classes, averaged over the batch, times T^2.
    The official clamp of ``d_k`` to ``[eps, 1 - eps]`` is kept, in log space: the official
    code returns inf in float32 once ``|s_k - t_k| / T`` exceeds about 17 (e.g. T = 1 and a
    logit gap of 20); this stays finite, with the clamp's zero gradient there. ``eps=0`` gives
    the unclamped log-cosh loss.
    """
    _check_temperature(temperature)
    log_d, log_1m_d = _clamped_log_sigmoids((student_logits - teacher_logits) / temperature, eps)
    kl = -math.log(2.0) - 0.5 * (log_d + log_1m_d)
    return temperature**2 * kl.sum() / student_logits.shape[0]


@in_fp32
def label_smoothing_loss(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision", Sec. 7.

    Cross-entropy against the smoothed label distribution ``q'(k) = (1 - epsilon) q(k) + epsilon / K``
    (the paper's uniform ``u(k) = 1/K``), averaged over the batch. ``target`` is class indices (``q``
    one-hot, the paper's case) or rows of class probabilities (mixed labels), smoothed alike.
    """
    log_p = F.log_softmax(logits, dim=1)
    q = F.one_hot(target, logits.shape[1]).to(log_p.dtype) if target.ndim == 1 else target.to(log_p.dtype)
    smoothed = (1 - epsilon) * q + epsilon / logits.shape[1]
    return -(smoothed * log_p).sum(1).mean()


# ------------------------------------------------------------ relations between samples (Part IV)
def _flat(feat: torch.Tensor) -> torch.Tensor:
    return feat.reshape(feat.shape[0], -1)


def sp_similarities(feat: torch.Tensor) -> torch.Tensor:
    """SP's batch similarity matrix (Tung & Mori 2019, Eqs. 1-2): the b x b Gram matrix of the
    flattened features, every row L2-normalised."""
    return F.normalize(_flat(feat) @ _flat(feat).T)


@in_fp32
def sp_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor) -> torch.Tensor:
    """Similarity-preserving KD (Tung & Mori 2019), Eqs. (1)-(4), for one layer pair.

    Each network's batch Gram matrix ``G = Q Q^T`` of the flattened features (b x b, so the two
    networks' widths need not agree), every row L2-normalised (:func:`sp_similarities`); the loss
    is the squared Frobenius distance of the two normalised matrices divided by ``b^2``. Paper and
    RepDistiller's ``Similarity`` agree.
    """
    b = student_feat.shape[0]
    return (sp_similarities(teacher_feat) - sp_similarities(student_feat)).pow(2).sum() / (b * b)


@in_fp32
def cc_loss(student_embed: torch.Tensor, teacher_embed: torch.Tensor, form: str = "official",
            gamma: float = 0.4, order: int = 2) -> torch.Tensor:
    """Correlation congruence (Peng et al. 2019) between the two networks' embeddings (b x d each).

    ``official`` (default): the code the authors gave RepDistiller (``Correlation``), which
    produced the CRD tables' CC rows: ``delta = |e_s - e_t|`` and the mean over consecutive
    samples of ``sum_d delta_i,d * delta_i+1,d``. ``paper``: the paper's correlation matrices, a
    Gaussian RBF kernel ``exp(-gamma ||f_i - f_j||^2)`` on L2-normalised embeddings approximated by
    its Taylor series of ``order`` (Eq. 10: ``sum_p exp(-2 gamma) (2 gamma)^p / p! (f_i . f_j)^p``),
    compared by mean squared difference (Eq. 8's ``||psi(F_t) - psi(F_s)||^2 / n^2``). ``gamma`` and
    ``order`` apply to ``paper`` only.
    """
    _check_form(form)
    if form == "official":
        delta = (student_embed - teacher_embed).abs()
        return (delta[:-1] * delta[1:]).sum(1).mean()
    if order < 0 or gamma <= 0:
        raise ValueError(f"cc_loss: order must be >= 0 and gamma > 0, got order={order!r}, gamma={gamma!r}")

    def correlation(embed):
        cosine = F.normalize(embed) @ F.normalize(embed).T
        return sum(math.exp(-2 * gamma) * (2 * gamma) ** p / math.factorial(p) * cosine.pow(p)
                   for p in range(order + 1))
    return F.mse_loss(correlation(student_embed), correlation(teacher_embed))


def rkd_distances(feat: torch.Tensor) -> torch.Tensor:
    """RKD's distance structure (Park et al. 2019, Eq. 4): the batch's pairwise Euclidean
    distances of the flattened features, divided by their mean over distinct pairs."""
    distances = _pairwise_distances(_flat(feat))
    return distances / distances[distances > 0].mean()


def _pairwise_distances(feat: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distances between the rows of ``feat``, zero on the diagonal (RepDistiller's
    ``RKDLoss.pdist``: squared distances clamped at ``eps`` before the root)."""
    squared = feat.pow(2).sum(1)
    distances = (squared[:, None] + squared[None, :] - 2 * feat @ feat.T).clamp(min=eps).sqrt()
    return distances * (1 - torch.eye(len(feat), dtype=feat.dtype, device=feat.device))


def _angles(feat: torch.Tensor) -> torch.Tensor:
    """Cosines of every angle ``(e_i - e_j, e_k - e_j)`` of the batch, flattened (b^3 values)."""
    directions = F.normalize(feat[None, :, :] - feat[:, None, :], p=2, dim=2)
    return torch.bmm(directions, directions.transpose(1, 2)).flatten()


@in_fp32
def rkd_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor, w_dist: float = 25.0,
             w_angle: float = 50.0) -> torch.Tensor:
    """Relational KD (Park et al. 2019), RKD-D (Eqs. 3-5) and RKD-A (Eqs. 6-7), on the flattened features.

    Distance term: the batch's pairwise distances, each network's divided by its mean non-zero
    distance (so either network may be scaled), compared by the Huber (smooth L1) loss. Angle
    term: the cosines of all angles formed by triplets of samples, compared by the Huber loss.
    ``w_dist * distance + w_angle * angle``, as the official code and RepDistiller's ``RKDLoss``;
    the teacher's side carries no gradient. The angle term holds b^3 values.
    """
    student, teacher = _flat(student_feat), _flat(teacher_feat)
    with torch.no_grad():
        t_dist, t_angle = rkd_distances(teacher), _angles(teacher)
    return (w_dist * F.smooth_l1_loss(rkd_distances(student), t_dist)
            + w_angle * F.smooth_l1_loss(_angles(student), t_angle))


def pkt_probabilities(feat: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """PKT's conditional probabilities (Passalis & Tefas 2018, Eqs. 7-8, the authors' code): the
    cosine similarities of the batch's flattened features shifted to [0, 1], each row
    normalised to sum to 1."""
    feat = _flat(feat)
    feat = torch.nan_to_num(feat / (feat.norm(dim=1, keepdim=True) + eps), nan=0.0)
    similarity = (feat @ feat.T + 1.0) / 2.0
    return similarity / similarity.sum(1, keepdim=True)


@in_fp32
def pkt_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Probabilistic knowledge transfer (Passalis & Tefas 2018), Eqs. (7)-(10), as the authors'
    code (and RepDistiller's ``PKT``) computes it.

    Each network's conditional probabilities between the batch's samples
    (:func:`pkt_probabilities`); the loss is the mean over all b^2 entries of
    ``p_t log((p_t + eps) / (p_s + eps))`` (the paper sums them: a factor b^2).
    """
    p_student, p_teacher = pkt_probabilities(student_feat, eps), pkt_probabilities(teacher_feat, eps)
    return (p_teacher * torch.log((p_teacher + eps) / (p_student + eps))).mean()


# ------------------------------------------------------ distributions and factors (Part IV)
def _polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a_i . b_j)^2`` between the channel rows of two batches of b x C x N maps: b x C_b x C_a."""
    return torch.einsum("bin,bjn->bji", a, b).pow(2)


def nst_channel_kernel(feat: torch.Tensor) -> torch.Tensor:
    """NST's kernel between the channels of one network's maps (Huang & Wang 2017, Eq. 4): each
    channel's map flattened and L2-normalised, then ``(f_i . f_j)^2``, per example (b x C x C)."""
    maps = F.normalize(feat.flatten(2), dim=2)
    return _polynomial_kernel(maps, maps)


@in_fp32
def nst_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor) -> torch.Tensor:
    """Neuron selectivity transfer (Huang & Wang 2017), Eq. (4) with the polynomial kernel
    ``k(x, y) = (x . y)^2`` (d = 2, c = 0), for one layer pair.

    Each channel's map is flattened and L2-normalised (one sample of the neuron's distribution
    per channel, so channel counts need not agree); the squared MMD between the student's and the
    teacher's channels: mean ``k(t, t)`` + mean ``k(s, s)`` - 2 mean ``k(s, t)``, averaged over the
    batch. The larger map is average-pooled to the smaller, as RepDistiller's ``NSTLoss`` does.
    """
    s, t = pool_to_smaller(student_feat, teacher_feat)
    cross = _polynomial_kernel(F.normalize(s.flatten(2), dim=2), F.normalize(t.flatten(2), dim=2))
    return nst_channel_kernel(t).mean().detach() + nst_channel_kernel(s).mean() - 2 * cross.mean()


@in_fp32
def vid_loss(pred_mean: torch.Tensor, teacher_feat: torch.Tensor, log_scale: torch.Tensor,
             eps: float = 1e-5) -> torch.Tensor:
    """Variational information distillation (Ahn et al. 2019), Eq. (6), for one layer.

    The negative log-likelihood of the teacher's feature under a Gaussian whose mean the student
    predicts (``pred_mean``, the student feature through a regressor) and whose variance is one
    per channel, ``sigma_c^2 = softplus(log_scale_c) + eps``: the mean over every element of
    ``(t - mu)^2 / (2 sigma^2) + log(sigma^2) / 2`` (the authors' code, and RepDistiller's
    ``VIDLoss``; the paper's sum drops the constant ``log(2 pi) / 2``).
    """
    variance = (F.softplus(log_scale) + eps).view(1, -1, *([1] * (teacher_feat.dim() - 2)))
    return (0.5 * ((pred_mean - teacher_feat).pow(2) / variance + variance.log())).mean()


def ft_factor(factor: torch.Tensor, form: str = "repdistiller", p1: float = 2) -> torch.Tensor:
    """The unit vector a factor is compared as (:func:`ft_loss`): ``repdistiller``: the channel
    mean of ``factor^p1``, flattened and L2-normalised per example; ``paper``: the whole factor
    flattened and L2-normalised."""
    if form not in ("repdistiller", "paper"):
        raise ValueError(f"form: must be 'repdistiller' or 'paper', got {form!r}")
    return F.normalize((factor.pow(p1).mean(1) if form == "repdistiller" else factor).flatten(1))


@in_fp32
def ft_loss(student_factor: torch.Tensor, teacher_factor: torch.Tensor, p1: float = 2, p2: float = 1,
            form: str = "repdistiller") -> torch.Tensor:
    """Factor transfer (Kim et al. 2018), Eq. (3): the distance between the translator's factor of
    the student and the paraphraser's factor of the teacher, each L2-normalised (:func:`ft_factor`).

    ``repdistiller`` (default): RepDistiller's ``FactorTransfer``, which produced the CRD tables'
    FT rows: each factor first reduced to a spatial map, the channel mean of ``factor^p1``, then
    ``mean |difference|^p2`` (``p2 = 1``: the mean absolute difference). ``paper``: the paper's
    Eq. (3) with p = 1 as the authors' code computes it: the mean absolute difference of the whole
    normalised factors (``p1`` and ``p2`` unused). Maps of different size are average-pooled to
    the smaller.
    """
    s, t = pool_to_smaller(student_factor, teacher_factor)
    diff = ft_factor(s, form, p1) - ft_factor(t, form, p1)
    if form == "paper":
        return diff.abs().mean()
    return diff.abs().mean() if p2 == 1 else diff.pow(p2).mean()


def _target_and_rest(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's target logit ``[b]`` and its other logits ``[b, C-1]`` (in class order)."""
    mask = F.one_hot(target, logits.shape[1]).bool()
    return logits[mask], logits[~mask].view(logits.shape[0], -1)


def dkd_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
              temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoupled KD (Zhao et al., CVPR 2022), Eqs. (2)-(4): KD's KL split at the target class.

    TCKD is the KL between the binary distributions ``[p_t, 1 - p_t]`` of teacher and student
    (``p_t`` the softened probability of the target class); NCKD is the KL between their
    distributions over the other classes, renormalised among themselves. Each is summed over its
    classes, averaged over the batch and multiplied by ``T^2`` (mdistiller's ``dkd_loss``, whose
    ``-1000`` mask is the exact exclusion written here). Then
    ``KL = TCKD + (1 - p_t^teacher) * NCKD`` per example, the paper's Eq. (4)."""
    def binary_and_rest(logits):
        scaled = logits / temperature
        target_logit, rest = _target_and_rest(scaled, target)
        log_all = torch.logsumexp(scaled, dim=1)
        binary = torch.stack([target_logit - log_all, torch.logsumexp(rest, dim=1) - log_all], dim=1)
        return binary, F.log_softmax(rest, dim=1)

    binary_s, rest_s = binary_and_rest(student_logits)
    binary_t, rest_t = binary_and_rest(teacher_logits)
    tckd = F.kl_div(binary_s, binary_t, reduction="batchmean", log_target=True) * temperature**2
    nckd = F.kl_div(rest_s, rest_t, reduction="batchmean", log_target=True) * temperature**2
    return tckd, nckd


@in_fp32
def dkd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
             alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0) -> torch.Tensor:
    """Decoupled KD (Zhao et al., CVPR 2022), Eq. (5): ``alpha * TCKD + beta * NCKD``
    (:func:`dkd_terms`), the paper's and mdistiller's form. KD is the special case
    ``alpha = 1, beta = 1 - p_t`` per example; DKD frees NCKD's weight from the teacher's
    confidence."""
    tckd, nckd = dkd_terms(student_logits, teacher_logits, target, temperature)
    return alpha * tckd + beta * nckd


def _pearson_distance(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``1 -`` the mean over rows of the Pearson correlation of the rows of ``a`` and ``b``."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return 1 - ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)).mean()


@in_fp32
def dist_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, beta: float = 1.0, gamma: float = 1.0,
              temperature: float = 1.0) -> torch.Tensor:
    """DIST (Huang et al., NeurIPS 2022), Eqs. (7)-(10): relations, not values, of the predictions.

    With ``Y = softmax(z / T)`` for both networks, the inter-class term is one minus the Pearson
    correlation of each example's class probabilities, averaged over the batch; the intra-class
    term is the same down each class's column of the batch. The loss is
    ``T^2 (beta * inter + gamma * intra)``, as the authors' ``DIST`` module (hunto/
    image_classification_sota, ``dist_kd.py``) computes it, eps 1e-8 in the correlation's
    denominator."""
    p_s, p_t = F.softmax(student_logits / temperature, dim=1), F.softmax(teacher_logits / temperature, dim=1)
    inter, intra = _pearson_distance(p_s, p_t), _pearson_distance(p_s.T, p_t.T)
    return temperature**2 * (beta * inter + gamma * intra)


def standardize_logits(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Logit standardisation (Sun et al., CVPR 2024), Eq. (8)'s Z-score: each row minus its mean,
    divided by its (unbiased) standard deviation plus ``eps``, as the authors' ``normalize``."""
    return (logits - logits.mean(1, keepdim=True)) / (logits.std(1, keepdim=True) + eps)


@in_fp32
def standardized_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                         temperature: float = 2.0) -> torch.Tensor:
    """KD on standardised logits (Sun et al., CVPR 2024, Algorithm 1): :func:`kd_loss` of
    :func:`standardize_logits` of both networks at the base temperature. Invariant to a shift
    and a positive scaling of either network's logits, so the student need not match the
    teacher's logit range, only its relations (the authors' ``kd_loss`` with ``logit_stand``)."""
    return kd_loss(standardize_logits(student_logits), standardize_logits(teacher_logits), temperature)


@in_fp32
def hcl_loss(student_feats, teacher_feats) -> torch.Tensor:
    """ReviewKD's hierarchical context loss (Chen et al., CVPR 2021, Sec. 3.3), summed over levels.

    At each level: the MSE of the whole maps plus the MSEs of their average-pooled 4x4, 2x2 and
    1x1 versions (only those smaller than the map), weighted 1/2, 1/4, 1/8 in that order, and
    divided by the sum of the weights used (the authors' ``hcl``, dvlab-research/ReviewKD)."""
    total = 0.0
    for s, t in zip(student_feats, teacher_feats):
        loss, weight, weights = F.mse_loss(s, t), 1.0, 1.0
        for size in (4, 2, 1):
            if size >= s.shape[2]:
                continue
            weight /= 2
            loss = loss + weight * F.mse_loss(F.adaptive_avg_pool2d(s, size), F.adaptive_avg_pool2d(t, size))
            weights += weight
        total = total + loss / weights
    return total


@in_fp32
def crd_critic(anchors: torch.Tensor, bank_rows: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """CRD's critic before normalisation (Tian et al., ICLR 2020, Eq. (19); RepDistiller's
    ``ContrastMemory``): ``exp(<v, u> / T)`` of each anchor embedding ``[b, d]`` with its rows of the
    other network's memory bank ``[b, 1 + K, d]``, giving ``[b, 1 + K]``."""
    return torch.exp(torch.bmm(bank_rows, anchors.unsqueeze(2)).squeeze(2) / temperature)


@in_fp32
def crd_nce_loss(scores: torch.Tensor, n_data: int, eps: float = 1e-7) -> torch.Tensor:
    """CRD's NCE objective (Tian et al., ICLR 2020, Eq. (18); RepDistiller's ``ContrastLoss``).

    ``scores`` ``[b, 1 + K]`` are the critic's unnormalised probabilities, the positive pair first
    and K negatives after it. With the noise probability ``1 / n_data`` each score ``P`` becomes
    the probability that its pair is the positive, ``D = P / (P + K / n_data)``; the loss is
    ``-(log D_positive + sum log(1 - D_negative))`` averaged over the batch."""
    noise = (scores.shape[1] - 1) / n_data
    positive = torch.log(scores[:, 0] / (scores[:, 0] + noise + eps))
    negatives = torch.log(noise / (scores[:, 1:] + noise + eps))
    return -(positive.sum() + negatives.sum()) / scores.shape[0]
