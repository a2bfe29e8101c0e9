"""Per-loss gradients of a training step: their cosine on the classifier and on the backbone,
and DHKD's one-way gradient alignment (Yang et al. 2024, the official ``OptimGradAlign``, after
PCGrad, Yu et al. 2020)."""
import torch


def _flat(grads, params) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float | None:
    norms = a.norm() * b.norm()
    return (a @ b / norms).item() if norms > 0 else None


def combine(named_params: list[tuple[str, torch.nn.Parameter]], ce: torch.Tensor, distill: torch.Tensor,
            classifier_prefix: str, backbone_prefix: str, align: bool = False) -> dict[str, float]:
    """Back-propagate ``ce`` and ``distill`` separately, write their sum into each parameter's
    ``.grad`` and return the cosine between the two gradients on the classifier's parameters
    (names starting with ``classifier_prefix``) and on the rest of the backbone (``backbone_prefix``).

    With ``align`` (DHKD's gradient alignment), the cross-entropy gradient is the reference and
    is never changed; when the two gradients conflict over the whole parameter vector (negative
    dot product) the distillation gradient is projected onto the plane normal to it:
    ``g_d <- g_d - (g_d . g_ce / |g_ce|^2) g_ce``. Without ``align`` the sum equals what one
    backward pass of ``ce + distill`` gives.
    """
    names, params = zip(*named_params)
    g_ce = _flat(torch.autograd.grad(ce, params, retain_graph=True, allow_unused=True), params)
    g_d = _flat(torch.autograd.grad(distill, params, allow_unused=True), params)
    masks = {}
    for part, keep in (("classifier", lambda n: n.startswith(classifier_prefix)),
                       ("backbone", lambda n: n.startswith(backbone_prefix) and not n.startswith(classifier_prefix))):
        masks[part] = torch.cat([torch.full((p.numel(),), keep(n), dtype=torch.bool, device=p.device)
                                 for n, p in named_params])
    out = {f"cos_{part}": c for part, mask in masks.items() if (c := _cosine(g_ce[mask], g_d[mask])) is not None}
    if align:
        dot = g_d @ g_ce
        conflict = bool(dot < 0)
        if conflict:
            g_d = g_d - dot / (g_ce @ g_ce) * g_ce
        out["aligned"] = float(conflict)
    total, start = g_ce + g_d, 0
    for p in params:
        p.grad = total[start:start + p.numel()].view_as(p).clone()
        start += p.numel()
    return out
