"""The cost of each method on a profile's pair: training rate, first-stage rate, memory, parameters."""
import json
import statistics
import subprocess
import sys
from dataclasses import replace

import torch

from .. import distillers
from ..config import make_config
from ..data import dataset_for
from ..distillers import ALONE
from ..engine.memory import peak_memory_mb, reset_peak_memory
from ..models import build_model, count_parameters
from .repeats import REPEATS, interleaved, spread, warn_unsteady
from .timing import images_per_second, measured_with, random_logit_cache


def method_cost(method: str, profile: str = "cpu", epochs: int = 2, device: str = "cpu") -> dict:
    """Training cost of one method on a profile's pair, measured in this process.

    Images/second of the main training (best of ``epochs`` epochs, the first a warm-up) and of a
    two-stage method's first stage, peak memory above the memory in use before training, and
    trainable parameters beyond the student's. Weights are freshly initialised; a method that
    reads cached teacher logits gets a cache of the right size filled with random values (a
    lookup costs the same whatever the values). Run each method in a fresh process
    (:func:`method_costs`) so that no method inherits another's peak.
    """
    cfg = make_config(method, profile, epochs=epochs, test_subset=1000)
    data = dataset_for(cfg)
    torch.manual_seed(0)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    teacher = build_model(cfg.teacher, data.num_classes, data.in_channels) if cfg.teacher_configs() else None
    distiller = distillers.build(method, cfg.method_params, student, teacher, data)
    if distiller.reads_only_teacher_logits and cfg.teacher_cache:
        distiller.logit_cache = random_logit_cache(data, cfg, device)
    before = reset_peak_memory(device)
    out = {"method": method, "profile": profile, "student": cfg.model, "teacher": cfg.teacher if teacher else None,
           "train_images": len(data.train), "batch_size": cfg.batch_size, "device": device,
           "threads": torch.get_num_threads(), "first_stage_img_s": None}
    stage = distiller.first_stage()
    if stage is not None:
        out["first_stage_img_s"] = images_per_second(distiller, data, cfg, device, replace(stage, epochs=epochs))
    out["img_s"] = images_per_second(distiller, data, cfg, device)
    out["peak_memory_above_start_mb"] = peak_memory_mb(device) - before
    out["memory_before_training_mb"] = before
    out["student_parameters"] = count_parameters(student)
    out["extra_parameters"] = distiller.extra_parameter_count()
    return out


def _cost_in_fresh_process(method: str, profile: str, epochs: int, device: str) -> dict:
    command = [sys.executable, "-m", "kdsrc", "bench", "method", "--method", method, "--profile", profile,
               "--epochs", str(epochs), "--device", device, "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"method: bench of {method!r} failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


DEFAULT_EPOCHS = 4


def measure_method_costs(methods, profile: str = "cpu", epochs: int = DEFAULT_EPOCHS, device: str = "cpu",
                         repeats: int = REPEATS) -> dict:
    """:func:`method_cost` of each method, each in a fresh ``python -m kdsrc bench method`` process,
    the methods in turns for ``repeats`` rounds (:func:`kdsrc.bench.repeats.interleaved`), with the
    code version, libraries and hardware that produced them. A method's rates are its medians over
    the rounds; its ``epoch_ratio`` (the student alone's rate over its own, taken within each round,
    when the student alone is measured too) keeps its median and range under ``repeats``."""
    methods = list(methods)
    rounds = interleaved({method: (lambda m=method: _cost_in_fresh_process(m, profile, epochs, device))
                          for method in methods}, repeats)
    rows, spreads = [], {}
    for method in methods:
        row = dict(rounds[0][method])
        for key in ("img_s", "first_stage_img_s"):
            if row[key] is not None:
                row[key] = statistics.median(r[method][key] for r in rounds)
        rows.append(row)
        spreads[method] = {"img_s": [r[method]["img_s"] for r in rounds]}
        if ALONE in methods:
            spreads[method]["epoch_ratio"] = spread([r[ALONE]["img_s"] / r[method]["img_s"] for r in rounds])
    warn_unsteady("cost benchmark", {f"{m}'s epoch ratio": s["epoch_ratio"] for m, s in spreads.items()
                                     if "epoch_ratio" in s and m != ALONE})
    return {"profile": profile, "epochs": epochs, "repeats": repeats, "methods": rows, "spreads": spreads,
            **measured_with(device)}
