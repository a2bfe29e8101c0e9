"""Precomputed teacher logits for every augmented view of every training image.

With crop-with-padding p and flip, an image has only (2p+1)^2 * 2 views (50 for Fashion-MNIST's
p=2). A frozen teacher in eval mode gives each view the same logits every time, so logit-based
methods can look them up instead of running the teacher on every batch: the cost is one pass
over all views, shared by every seed and every run that uses the same teacher and data.
"""
import torch

from . import augment, numerics
from .data import Dataset, to_model_input


@torch.inference_mode()
def build_logit_cache(teacher: torch.nn.Module, data: Dataset, cfg, device, batch_size: int = 256) -> torch.Tensor:
    """Teacher logits for all views, shaped (images * views) x classes, row = image * views + view,
    computed in the run's precision (``cfg.precision``) and stored as fp32."""
    teacher.eval()
    images = data.train.images
    views = augment.num_views(cfg.crop_padding, cfg.flip)
    out = torch.empty(len(images), views, data.num_classes)
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].to(device)
        for view in range(views):
            ids = torch.full((len(chunk),), view, device=device) if views > 1 else None
            x = to_model_input(chunk, data.mean, data.std, ids, cfg.crop_padding, cfg.flip)
            with numerics.autocast(cfg.precision, device):
                logits = teacher(numerics.memory_format(x, cfg.channels_last))
            out[start:start + len(chunk), view] = logits.float().cpu()
    return out.reshape(-1, data.num_classes)
