"""Mixing augmentations of the transfer set, applied to a whole normalised batch on its device.

- ``mixup`` (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): every image is blended
  with its neighbour in the (shuffled) batch, ``lam * x_i + (1 - lam) * x_j`` with
  ``lam ~ Beta(alpha, alpha)``, and so are the labels;
- ``cutmix`` (Yun et al. 2019, "CutMix"): a box of area ``1 - lam`` is pasted from the neighbour,
  the labels mixed by area;
- ``cutout`` (DeVries & Taylor 2017, "Improved Regularization of Convolutional Neural Networks with
  Cutout"): a square of half the image side, centred anywhere in the image, is set to zero (the
  dataset mean, after normalisation); the labels are unchanged.

mixup and CutMix are torchvision's ``transforms.v2.MixUp``/``CutMix``; their labels come back as
class probabilities, which ``F.cross_entropy`` takes as they are, so every method trains on them
unchanged. Each call draws its randomness from the trainer's seeded generator, so a run is
reproducible and resumes exactly. A mixed image is none of the crop/flip views whose teacher
outputs are cached (:func:`kdsrc.teachers.logit_cache`): under mixing the teacher runs on the batch itself.
"""
import torch
from torchvision.transforms import v2

from .validate import require_choice

MIXINGS = ("none", "mixup", "cutmix", "cutout")


def _cutout(x: torch.Tensor) -> torch.Tensor:
    n, _, h, w = x.shape
    half = min(h, w) // 4  # a square of side min(h, w) / 2
    cy = torch.randint(h, (n, 1, 1), device=x.device)
    cx = torch.randint(w, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= cy - half) & (rows < cy + half) & (cols >= cx - half) & (cols < cx + half)
    return x.masked_fill(hole.unsqueeze(1), 0.0)


def mix(x: torch.Tensor, y: torch.Tensor, kind: str, alpha: float, num_classes: int,
        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``x`` (normalised) and labels ``y`` after the mixing ``kind`` (one of :data:`MIXINGS`);
    labels become class probabilities for mixup and CutMix."""
    require_choice("mixing", kind, MIXINGS)
    if kind == "none":
        return x, y
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device).item())
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        if kind == "cutout":
            return _cutout(x), y
        transform = (v2.MixUp if kind == "mixup" else v2.CutMix)(alpha=alpha, num_classes=num_classes)
        return transform(x, y)
