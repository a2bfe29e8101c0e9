"""What every benchmark shares: a training rate measured on our loop, fresh models, provenance."""
import time
from dataclasses import replace
from datetime import datetime, timezone

import torch

from .. import augment
from ..engine import fit, provenance
from ..models import build_model
from ..teachers import build_logit_cache


def images_per_second(distiller, data, cfg, device, stage=None) -> float:
    """Training images/second of ``distiller`` on ``data``: the fastest epoch of ``cfg.epochs`` (the
    first a warm-up when there are more), on one stage (default the main training)."""
    history = fit(distiller, data, cfg, device, stage=stage)
    return len(data.train) / min(r["epoch_seconds"] for r in history[1:] or history)


def fresh_models(data, *names):
    """Networks of the zoo for ``data``, freshly initialised from seed 0 (speed does not depend on weights)."""
    torch.manual_seed(0)
    return [build_model(name, data.num_classes, data.in_channels) for name in names]


def random_logit_cache(data, cfg, device) -> torch.Tensor:
    """A teacher-logit cache of the right size for ``data`` and ``cfg``'s views, filled with random
    values: what a speed measurement attaches (a lookup costs the same whatever the values)."""
    views = augment.num_views(cfg.crop_padding, cfg.flip)
    return torch.randn(len(data.train) * views, data.num_classes, device=device)


def teacher_forward_images_per_second(teacher, data, cfg, device) -> float:
    """Images/second of the teacher's forward pass as :func:`kdsrc.teachers.build_logit_cache`
    runs it (one view of every training image; each further view costs the same), after a
    warm-up pass: what building a view cache costs per image and view."""
    one_view = replace(cfg, crop_padding=0, flip=False)
    teacher = teacher.to(device)
    build_logit_cache(teacher, data, one_view, device, batch_size=cfg.batch_size)  # warm-up
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    build_logit_cache(teacher, data, one_view, device, batch_size=cfg.batch_size)
    return len(data.train) / (time.perf_counter() - start)


def measured_with(device) -> dict:
    """The code version, libraries, hardware and time that produced a benchmark."""
    return {"code": provenance.code_version(), "libraries": provenance.libraries(),
            "hardware": provenance.hardware(device),
            "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
