"""Batched, seeded augmentation on tensors: random crop with zero padding and horizontal flip.

Each augmented image is one of a finite set of *views* of its source image: a crop offset
(dy, dx) in [0, 2p]^2 and a flip bit, so (2p+1)^2 * 2 views in all. Returning the view id beside
the batch lets a frozen teacher's outputs be computed once per view and looked up afterwards
(see :func:`kdsrc.teachers.logit_cache`).
"""
import torch


def num_views(padding: int, flip: bool) -> int:
    """How many distinct views crop-with-``padding`` and optional flip can produce."""
    return (2 * padding + 1) ** 2 * (2 if flip else 1)


def apply_views(images: torch.Tensor, view_ids: torch.Tensor, padding: int, flip: bool) -> torch.Tensor:
    """Render view ``view_ids[i]`` of ``images[i]`` (float NCHW, unnormalised)."""
    if padding == 0 and not flip:
        return images
    n, _, h, w = images.shape
    side = 2 * padding + 1
    flips = view_ids % 2 if flip else torch.zeros_like(view_ids)
    offsets = view_ids // 2 if flip else view_ids
    dy, dx = offsets // side, offsets % side
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    return torch.where(flips.bool()[:, None, None, None], out.flip(-1), out)


def random_views(n: int, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Draw a uniformly random view id for each of ``n`` images."""
    return torch.randint(num_views(padding, flip), (n,), generator=generator, device=generator.device)
