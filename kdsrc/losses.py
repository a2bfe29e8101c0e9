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


def _check_form(form: str) -> None:
    if form not in ("official", "paper"):
        raise ValueError(f"form: must be 'official' or 'paper', got {form!r}")


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


def _pool_to_smaller(a: torch.Tensor, b: torch.Tensor, mode: str = "avg") -> tuple[torch.Tensor, torch.Tensor]:
    """Pool the spatially larger of two maps down to the size of the smaller."""
    pool = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    if a.shape[-2:] == b.shape[-2:]:
        return a, b
    if a.shape[-1] > b.shape[-1]:
        return pool(a, b.shape[-2:]), b
    return a, pool(b, a.shape[-2:])


def attention_map(feat: torch.Tensor, p: float = 2) -> torch.Tensor:
    """Zagoruyko & Komodakis 2017, Eq. (2) with F^p_mean: the channel mean of |F|^p, flattened and
    L2-normalised per example (the official code's ``at(x)``)."""
    return F.normalize(feat.abs().pow(p).mean(1).flatten(1), dim=1)


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
        s, t = _pool_to_smaller(s, t)
        diff = attention_map(s, p) - attention_map(t, p)
        total = total + (diff.pow(2).mean() if form == "official" else 0.5 * diff.norm(dim=1).mean())
    return total


def fsp_matrix(feat_a: torch.Tensor, feat_b: torch.Tensor, pool: str = "avg") -> torch.Tensor:
    """The FSP (flow of solution procedure) matrix of Yim et al. 2017, Eq. (1), per example.

    ``G[i, j] = sum_{h,w} F_a[i, h, w] * F_b[j, h, w] / (h * w)``, shape batch x C_a x C_b. The
    larger map is pooled to the smaller one: average pooling as RepDistiller does (default), or
    max pooling as the paper describes (``pool="max"``).
    """
    if pool not in ("avg", "max"):
        raise ValueError(f"pool: must be 'avg' or 'max', got {pool!r}")
    feat_a, feat_b = _pool_to_smaller(feat_a, feat_b, pool)
    h, w = feat_a.shape[-2:]
    return torch.einsum("bihw,bjhw->bij", feat_a, feat_b) / (h * w)


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
