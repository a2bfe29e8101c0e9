"""Throughput of the cpu-profile pair: the student alone vs KD, with the teacher's logits computed
on the fly or looked up in the view cache (:mod:`kdsrc.teacher_cache`)."""
import time
from dataclasses import replace

import torch

from .config import make_config
from .distillers import METHODS
from .experiment import dataset_for
from .models import build_model
from .teacher_cache import build_logit_cache
from .train import fit, peak_memory_mb


def _images_per_second(distiller, data, cfg, device) -> float:
    history = fit(distiller, data, cfg, device)
    return len(data.train) / min(r["epoch_seconds"] for r in history[1:] or history)


def bench(profile: str = "cpu", epochs: int = 2, device: str = "cpu", **overrides) -> dict:
    """Training images/second of each mode, their ratio to the student alone, and peak memory.

    Weights are freshly initialised (speed does not depend on them); the first epoch is a warm-up
    when ``epochs`` > 1. Peak memory is the process's peak so far, so it only grows mode by mode.
    """
    base = make_config("kd", profile, epochs=epochs, test_subset=1000, **overrides)
    data = dataset_for(base)
    out = {"profile": profile, "student": base.model, "teacher": base.teacher,
           "train_images": len(data.train), "device": device, "threads": torch.get_num_threads()}

    def models():
        torch.manual_seed(0)
        return (build_model(base.model, data.num_classes, data.in_channels),
                build_model(base.teacher, data.num_classes, data.in_channels))

    student, _ = models()
    out["student_alone_img_s"] = _images_per_second(METHODS["vanilla"](student), data, base, device)
    out["student_alone_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    kd = METHODS["kd"](student, teacher)
    out["kd_on_the_fly_img_s"] = _images_per_second(kd, data, replace(base, teacher_cache=False), device)
    out["kd_on_the_fly_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    start = time.perf_counter()
    cache = build_logit_cache(teacher.to(device), data, base, device)
    out["cache_build_seconds"] = time.perf_counter() - start
    kd = METHODS["kd"](student, teacher)
    kd.logit_cache = cache.to(device)
    out["kd_cached_img_s"] = _images_per_second(kd, data, base, device)
    out["kd_cached_peak_mb"] = peak_memory_mb(device)
    for mode in ("kd_on_the_fly", "kd_cached"):
        out[f"{mode}_epoch_ratio"] = out["student_alone_img_s"] / out[f"{mode}_img_s"]
    return out
