"""The teacher-logit cache's worth: the cpu-profile student alone against KD with the teacher's
logits computed on every batch or looked up in the view cache (:func:`kdsrc.teachers.logit_cache`)."""
import time
from dataclasses import replace

import torch

from .. import distillers
from ..config import make_config
from ..data import dataset_for
from ..distillers import ALONE, KD_METHOD
from ..engine.memory import peak_memory_mb
from ..teachers import build_logit_cache
from .timing import fresh_models, images_per_second, measured_with


def teacher_cache(profile: str = "cpu", epochs: int = 4, device: str = "cpu", **overrides) -> dict:
    """Training images/second of each mode, their ratio to the student alone, and peak memory.

    Weights are freshly initialised (speed does not depend on them); the first epoch is a warm-up
    when ``epochs`` > 1. Peak memory is the process's peak so far, so it only grows mode by mode.
    """
    base = make_config(KD_METHOD, profile, epochs=epochs, test_subset=1000, **overrides)
    data = dataset_for(base)
    out = {"profile": profile, "epochs": epochs, "student": base.model, "teacher": base.teacher,
           "train_images": len(data.train), "device": device, "threads": torch.get_num_threads()}

    def models():
        return fresh_models(data, base.model, base.teacher)

    student, _ = models()
    out["student_alone_img_s"] = images_per_second(distillers.build(ALONE, {}, student, None, data), data, base, device)
    out["student_alone_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    kd = distillers.build(KD_METHOD, {}, student, teacher, data)
    out["kd_on_the_fly_img_s"] = images_per_second(kd, data, replace(base, teacher_cache=False), device)
    out["kd_on_the_fly_peak_mb"] = peak_memory_mb(device)

    student, teacher = models()
    start = time.perf_counter()
    cache = build_logit_cache(teacher.to(device), data, base, device)
    out["cache_build_seconds"] = time.perf_counter() - start
    kd = distillers.build(KD_METHOD, {}, student, teacher, data)
    kd.logit_cache = cache.to(device)
    out["kd_cached_img_s"] = images_per_second(kd, data, base, device)
    out["kd_cached_peak_mb"] = peak_memory_mb(device)
    for mode in ("kd_on_the_fly", "kd_cached"):
        out[f"{mode}_epoch_ratio"] = out["student_alone_img_s"] / out[f"{mode}_img_s"]
    return {**out, **measured_with(device)}
