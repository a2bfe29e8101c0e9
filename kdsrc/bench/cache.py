"""The teacher-logit cache's worth: the cpu-profile student alone against KD with the teacher's
logits computed on every batch or looked up in the view cache (:func:`kdsrc.teachers.logit_cache`),
measured in interleaved rounds (:mod:`.repeats`)."""
import time
from dataclasses import replace

import torch

from .. import distillers
from ..config import make_config
from ..data import dataset_for
from ..distillers import ALONE, KD_METHOD
from ..engine.memory import peak_memory_mb
from ..teachers import build_logit_cache
from .repeats import REPEATS, interleaved, medians, round_ratios, warn_unsteady
from .timing import fresh_models, images_per_second, measured_with


def teacher_cache(profile: str = "cpu", epochs: int = 4, device: str = "cpu", repeats: int = REPEATS,
                  **overrides) -> dict:
    """Training images/second of each mode, their ratio to the student alone, and peak memory.

    The three modes are measured in turns, ``repeats`` rounds (:func:`kdsrc.bench.repeats.interleaved`);
    each rate is the median over rounds and each ratio the median of the ratios within a round,
    with their ranges under ``repeats``. Weights are freshly initialised for every measurement
    (speed does not depend on them); the first epoch is a warm-up when ``epochs`` > 1. The cache
    is built once. Peak memory is the process's peak after each mode's first measurement, so it
    only grows mode by mode.
    """
    base = make_config(KD_METHOD, profile, epochs=epochs, test_subset=1000, **overrides)
    data = dataset_for(base)
    out = {"profile": profile, "epochs": epochs, "student": base.model, "teacher": base.teacher,
           "train_images": len(data.train), "device": device, "threads": torch.get_num_threads()}

    def models():
        return fresh_models(data, base.model, base.teacher)

    _, teacher = models()
    start = time.perf_counter()
    cache = build_logit_cache(teacher.to(device), data, base, device).to(device)
    out["cache_build_seconds"] = time.perf_counter() - start

    def alone():
        student, _ = models()
        return images_per_second(distillers.build(ALONE, {}, student, None, data), data, base, device)

    def on_the_fly():
        kd = distillers.build(KD_METHOD, {}, *models(), data)
        return images_per_second(kd, data, replace(base, teacher_cache=False), device)

    def cached():
        kd = distillers.build(KD_METHOD, {}, *models(), data)
        kd.logit_cache = cache
        return images_per_second(kd, data, base, device)

    modes = {"student_alone": alone, "kd_on_the_fly": on_the_fly, "kd_cached": cached}
    peaks = {}

    def measured(name):
        def measure():
            rate = modes[name]()
            peaks.setdefault(name, peak_memory_mb(device))
            return rate
        return measure

    rounds = interleaved({name: measured(name) for name in modes}, repeats)
    for name, rate in medians(rounds).items():
        out[f"{name}_img_s"] = rate
        out[f"{name}_peak_mb"] = peaks[name]
    ratios = {f"{mode}_epoch_ratio": round_ratios(rounds, "student_alone", mode) for mode in ("kd_on_the_fly", "kd_cached")}
    out.update({name: s["median"] for name, s in ratios.items()})
    out["repeats"] = {"rounds": rounds, **ratios}
    warn_unsteady("teacher-cache benchmark", ratios)
    return {**out, **measured_with(device)}
