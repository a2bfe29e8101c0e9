"""``run(config)``: return the stored result of a configuration, training it first if needed.

The book's entry point. It wires the store, data, models, distillers, teachers and the trainer.
A teacher is itself a run (``config.teacher_config()``), trained and cached the same way; its
final weights are kept beside its JSON so every student distilled from it loads the same network
(``weights_only=True``). A teacher can instead be read from a RepDistiller/mdistiller checkpoint
(``teacher_checkpoint``, :mod:`kdsrc.checkpoints`); either way it is recorded in the profile's
teacher manifest (:mod:`kdsrc.teachers`).

Under ``torchrun`` (:mod:`kdsrc.engine.distributed`) every process runs the same calls and trains
together; process 0 alone writes results, weights, caches and manifests, and the others wait for
it where they read them next.
"""
import contextlib
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import distillers, store, teachers
from .config import RunConfig
from .data import dataset_for
from .engine import TRAINING_REVISION, distributed, fit, memory, provenance
from .engine import numerics
from .engine.inference import model_input, predicted_classes
from .engine.numerics import default_device, resolve_precision
from .models import build_model, count_parameters
from .store import MissingRun, use
from .validate import require_int


def stored_run(cfg: RunConfig, root: Path | None = None) -> dict | None:
    """The stored result of ``cfg``, or None; never trains."""
    path = store.run_path(cfg, root)
    return store.read_run(path) if path.exists() else None


def run_state(cfg: RunConfig, root: Path | None = None) -> str:
    """``stored`` (its result exists), ``in progress`` (a checkpoint of it exists: :func:`run`
    resumes from it) or ``missing``."""
    if store.run_path(cfg, root).exists():
        return "stored"
    files = (store.checkpoint_path(cfg, root), *store.stage_paths(cfg, root))
    return "in progress" if any(p.exists() for p in files) else "missing"


def ensemble_run(cfg: RunConfig, root: Path | None = None, device: str | None = None) -> dict:
    """The stored record of ``cfg``'s ensemble teacher (its members' runs and its own test
    accuracy); its members are trained first (cached runs, one per seed) when needed."""
    path = teachers.ensemble_path(cfg, root)
    if path.exists():
        return store.read_run(path)
    store.require_computable(f"stored ensemble of {cfg.teacher_ensemble} x {cfg.teacher}", path)
    device = device or default_device()
    members = [run(member, root, device) for member in cfg.teacher_configs()]
    return teachers.ensemble_record(cfg, members, root, device)


def _prepare_teacher(cfg: RunConfig, net, root: Path | None, device) -> tuple[str, float]:
    """Train (or read) ``cfg``'s teacher runs, or read its checkpoint, load the weights into
    ``net`` and record it in the teacher manifest; its id and test accuracy."""
    if cfg.teacher_checkpoint:
        return teachers.imported(cfg, net, root, device)
    members = [run(member, root, device) for member in cfg.teacher_configs()]
    record = members[0] if cfg.teacher_ensemble == 1 else teachers.ensemble_record(cfg, members, root, device)
    teachers.load_teacher(cfg, root, net)
    teachers.record_members(cfg, members, root)
    return record["run_id"], record["last_test_acc"]


def _mean_epoch_seconds(history: list[dict]) -> float:
    return sum(r["epoch_seconds"] for r in history) / len(history)


def _first_stage(distiller, data, cfg: RunConfig, device, root: Path | None) -> dict | None:
    """Train a two-stage method's first stage (resumable; skipped once finished); its record."""
    stage = distiller.first_stage()
    if stage is None:
        return None
    checkpoint, finished = store.stage_paths(cfg, root)
    before = _probe(distiller, data, cfg, device)  # the distiller as built: the first stage's starting point
    if finished.exists():
        state = store.load_tensors(finished)
        distiller.load_trainable_state(state["model"])
        history = state["history"]
    else:
        history = fit(distiller, data, cfg, device, checkpoint, desc=f"{cfg.method}:{stage.name}", stage=stage)
        if distributed.is_main():
            store.save_tensors({"model": distiller.trainable_state(), "history": history}, finished)
    record = {"name": stage.name, "epochs": stage.epochs, "history": history,
              "seconds_per_epoch": _mean_epoch_seconds(history)}
    if before is not None:
        record["probe"] = {"before": before, "after": _probe(distiller, data, cfg, device)}
    return record


def _probe(distiller, data, cfg: RunConfig, device, batch_size: int = 500) -> dict[str, float] | None:
    """The distiller's first-stage probe on the test images, averaged over them; eval mode, and
    the distiller's modes restored after."""
    was_training = distiller.training
    distiller.eval()
    sums, images = {}, len(data.test)
    for start in range(0, images, batch_size):
        x = model_input(data.test.images[start:start + batch_size], data, cfg, device)
        with numerics.autocast(cfg.precision, device):
            measured = distiller.first_stage_probe(x)
        if measured is None:
            break
        for name, value in measured.items():
            sums[name] = sums.get(name, 0.0) + value * len(x)
    distiller.train(was_training)
    return {name: total / images for name, total in sums.items()} or None


def _record(cfg: RunConfig, distiller, teacher: tuple, history: list[dict], first: dict | None, code: dict,
            memory_before: float, started: float, device) -> store.RunRecord:
    best = max((r for r in history if r["test_acc"] is not None), key=lambda r: r["test_acc"])
    record: store.RunRecord = {
        "run_id": cfg.run_id(),
        "config": cfg.to_dict(),
        "training_revision": TRAINING_REVISION,
        "teacher_run_id": teacher[0],
        "teacher_test_acc": teacher[1],
        "history": history,
        "first_stage": first,
        "last_test_acc": history[-1]["test_acc"],
        "best_test_acc": best["test_acc"],
        "best_epoch": best["epoch"],
        "last_val_acc": history[-1]["val_acc"],
        "seconds_per_epoch": _mean_epoch_seconds(history),
        "wall_seconds_this_session": time.perf_counter() - started,
        "peak_memory_mb": memory.peak_memory_mb(device),
        "memory_before_training_mb": memory_before,
        "peak_memory_kind": memory.peak_memory_kind(device),
        "numerics": {"precision": resolve_precision(cfg.precision, device), "channels_last": cfg.channels_last,
                     "compile": cfg.compile},
        "parameters": count_parameters(distiller.student),
        "extra_parameters": distiller.extra_parameter_count(),
        "code": code,
        "libraries": provenance.libraries(),
        "hardware": provenance.hardware(device),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if distributed.active():  # absent from one-process runs, which are stored as they always were
        record["distributed"] = distributed.describe()
    return record


def _classes(student, data, cfg: RunConfig, device) -> dict[str, torch.Tensor]:
    splits = {"test": data.test, "val": data.val}
    return {name: predicted_classes(student, split, data, cfg, device) for name, split in splits.items() if split}


# The seed whose trained networks a distilled run keeps (the student and the method's own modules,
# connectors or heads, not the teacher), so that the chapters' figures can show what the method did
# to the student (:func:`trained_distiller`). Every vanilla run keeps its weights: it may teach.
FIGURE_SEED = 0


def _kept_state(cfg: RunConfig, distiller) -> dict[str, torch.Tensor] | None:
    """What a finished run keeps of its networks (:data:`FIGURE_SEED`): a vanilla run its
    student's state, a distilled run of the figure seed its distiller's state without the
    teacher's, anything else nothing."""
    if cfg.method == distillers.ALONE:
        return {k: v.cpu() for k, v in distiller.student.state_dict().items()}
    if cfg.seed == FIGURE_SEED:
        return {k: v.cpu() for k, v in distiller.state_dict().items() if not k.startswith("teacher.")}
    return None


def _store(cfg: RunConfig, record: store.RunRecord, distiller, data, root: Path | None, device) -> None:
    """Write the run (process 0) with its predictions and the networks it keeps
    (:func:`_kept_state`), and remove its checkpoints."""
    student = distiller.student
    if distributed.is_main():
        kept = _kept_state(cfg, distiller)
        if kept is not None:
            store.save_tensors(kept, store.weights_path(cfg, root))
        store.save_tensors(_classes(student, data, cfg, device), store.predictions_path(cfg, root))
        store.write_json(record, store.run_path(cfg, root))
        for leftover in (store.checkpoint_path(cfg, root), *store.stage_paths(cfg, root)):
            leftover.unlink(missing_ok=True)
    distributed.barrier()  # the others may read these files next (a teacher's weights)


def run(cfg: RunConfig, root: Path | None = None, device: str | None = None) -> dict:
    """The stored result of ``cfg``; trains it (and its teacher) first when none is stored.

    A partial run left by an interruption resumes from its checkpoint. ``root`` defaults to the
    folder chosen by :func:`use`, else :func:`kdsrc.store.results_dir`.
    """
    path = store.run_path(cfg, root)
    if path.exists():
        return store.read_run(path)
    store.require_computable(f"stored run of {cfg.method}/{cfg.model} seed {cfg.seed}", path)
    # Another process training this run (a second worker on the same results folder) is waited
    # for; under torchrun the processes train it together, so none waits for another.
    with contextlib.nullcontext() if distributed.launched() else store.exclusive(path):
        if path.exists():  # trained meanwhile by the process that held the lock
            return store.read_run(path)
        return _train(cfg, root, device or default_device())


def _train(cfg: RunConfig, root: Path | None, device) -> dict:
    """Train ``cfg`` (its teacher first, when it has none stored), store it and return its record."""
    code = provenance.code_version()  # the code as it was when training started
    data = dataset_for(cfg)
    net = teachers.network(cfg, data) if cfg.teacher_checkpoint or cfg.teacher_configs() else None
    torch.manual_seed(cfg.seed)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    distiller = distillers.build(cfg.method, cfg.method_params, student, net, data,
                                 processes=distributed.world_size())  # refused before its teacher trains
    teacher = (None, None) if net is None else _prepare_teacher(cfg, net, root, device)
    if net is not None and distiller.reads_only_teacher_logits and cfg.teacher_cache \
            and cfg.mixing == "none":  # mixed images are no cached views
        distiller.logit_cache = teachers.logit_cache(cfg, net, root, device).to(device)

    memory_before = memory.reset_peak_memory(device)  # data, teacher and caches are loaded: count training alone
    started = time.perf_counter()
    first = _first_stage(distiller, data, cfg, device, root)
    history = fit(distiller, data, cfg, device, store.checkpoint_path(cfg, root),
                  desc=f"{cfg.method}:{cfg.model}:s{cfg.seed}")
    record = _record(cfg, distiller, teacher, history, first, code, memory_before, started, device)
    _store(cfg, record, distiller, data, root, device)
    return record


def trained_distiller(cfg: RunConfig, root: Path | None = None):
    """The trained distiller of a stored run that kept its networks (a vanilla run, or a distilled
    run of seed :data:`FIGURE_SEED`): its student and the method's own modules as the run left
    them, its teacher loaded from the teacher's stored run; in eval mode, on the CPU. Never trains."""
    path = store.weights_path(cfg, root)
    if not path.exists():
        raise MissingRun(f"trained_distiller: no kept networks at {path} (a distilled run keeps them for seed "
                         f"{FIGURE_SEED} only; a run stored before runs kept them must be trained again)")
    distiller = initial_distiller(cfg, root)
    state = store.load_tensors(path)
    if cfg.method == distillers.ALONE:
        distiller.student.load_state_dict(state)
    else:
        missing, unexpected = distiller.load_state_dict(state, strict=False)
        if unexpected or any(not key.startswith("teacher.") for key in missing):
            raise ValueError(f"trained_distiller: {path} does not match {cfg.method}'s networks "
                             f"(missing {[k for k in missing if not k.startswith('teacher.')][:3]}, unexpected {unexpected[:3]})")
    return distiller.eval()


def initial_distiller(cfg: RunConfig, root: Path | None = None):
    """The distiller of ``cfg`` as its run started: the student and the method's modules drawn from
    the run's seed exactly as training draws them, the teacher loaded from its stored run; in
    eval mode, on the CPU. What a method changed is :func:`trained_distiller` against this. Never trains."""
    data = dataset_for(cfg)
    net = teachers.load_teacher(cfg, root) if cfg.teacher_checkpoint or cfg.teacher_configs() else None
    torch.manual_seed(cfg.seed)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    return distillers.build(cfg.method, cfg.method_params, student, net, data).eval()


def predictions(cfg: RunConfig, root: Path | None = None) -> dict[str, torch.Tensor]:
    """A stored run's top-1 predictions, ``{"test": ..., "val": ...}`` (one class per image, in the
    split's order): read from the file the run stored, or, for a vanilla run stored before runs
    kept their predictions, computed once from its weights and stored. Never trains."""
    path = store.predictions_path(cfg, root)
    if path.exists():
        return store.load_tensors(path)
    if not store.run_path(cfg, root).exists():
        raise MissingRun(f"predictions: no stored run of {cfg.method}/{cfg.model} seed {cfg.seed} at {store.run_path(cfg, root)}")
    if cfg.method != distillers.ALONE:
        raise MissingRun(f"predictions: the stored run at {store.run_path(cfg, root)} kept neither its predictions nor its weights")
    data = dataset_for(cfg)
    model = teachers.load_weights(cfg, root)
    classes = _classes(model, data, cfg, torch.device("cpu"))
    store.save_tensors(classes, path)
    return classes


def run_seeds(cfg: RunConfig, seeds: int, root: Path | None = None, device: str | None = None) -> list[dict]:
    """``run`` for seeds 0 .. seeds-1 of the same configuration."""
    require_int("seeds", seeds, minimum=1)
    return [run(replace(cfg, seed=s), root, device) for s in range(seeds)]


__all__ = ["run", "run_seeds", "predictions", "stored_run", "run_state", "ensemble_run", "use", "dataset_for", "MissingRun"]
