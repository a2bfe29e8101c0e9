"""What every benchmark shares: a training rate measured on our loop, fresh models, provenance."""
from datetime import datetime, timezone

import torch

from ..engine import fit, provenance
from ..models import build_model


def images_per_second(distiller, data, cfg, device, stage=None) -> float:
    """Training images/second of ``distiller`` on ``data``: the fastest epoch of ``cfg.epochs`` (the
    first a warm-up when there are more), on one stage (default the main training)."""
    history = fit(distiller, data, cfg, device, stage=stage)
    return len(data.train) / min(r["epoch_seconds"] for r in history[1:] or history)


def fresh_models(data, *names):
    """Networks of the zoo for ``data``, freshly initialised from seed 0 (speed does not depend on weights)."""
    torch.manual_seed(0)
    return [build_model(name, data.num_classes, data.in_channels) for name in names]


def measured_with(device) -> dict:
    """The code version, libraries, hardware and time that produced a benchmark."""
    return {"code": provenance.code_version(), "libraries": provenance.libraries(),
            "hardware": provenance.hardware(device),
            "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
