"""The training loop shared by every method: SGD, LR schedule, evaluation, checkpoint and resume.

It knows no method: it sums the loss dictionary the distiller returns. Everything random
(initialisation aside) draws from one generator whose state is checkpointed, so a killed run
resumed from its last checkpoint ends exactly where an uninterrupted run does.

The step is the same on every device (the "fast path"): the data sit on the device as uint8 and
are augmented there in batches; model and batches are channels-last when ``cfg.channels_last``;
forward passes run under the autocast of ``cfg.precision`` (:mod:`kdsrc.numerics`); the frozen
teacher runs under ``inference_mode``; ``cfg.compile`` compiles the step's forward with
``torch.compile``; and nothing inside a step waits for the device: losses and accuracy are summed
on the device and read once an epoch.

Under ``torchrun`` (:mod:`kdsrc.distributed`) every process draws the same global batch and
trains on its shard through DistributedDataParallel; the epoch's sums and the test counts are
summed over the processes, so every process keeps the same history, and only process 0 writes
the checkpoint.
"""
import math
import os
import resource
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import augment, distributed, numerics
from .data import Dataset, Split, to_model_input
from .distillers import Distiller, Stage
from .mixing import mix


def learning_rate(cfg, epoch: int, step: int, steps_per_epoch: int) -> float:
    """LR at 0-based ``epoch`` and ``step``: cosine to 0 per step, or RepDistiller's step decay.

    RepDistiller's rule: ``lr * decay ** #(e > m for m in milestones)`` for the 1-based epoch e.
    """
    if cfg.schedule == "cosine":
        progress = (epoch * steps_per_epoch + step) / (cfg.epochs * steps_per_epoch)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * cfg.lr_decay ** sum(epoch + 1 > m for m in cfg.milestones)


def _as_input(images, data: Dataset, cfg, device, views=None):
    x = to_model_input(images.to(device, non_blocking=True), data.mean, data.std, views,
                       cfg.crop_padding, cfg.flip)
    return numerics.memory_format(x, cfg.channels_last)


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: Split, data: Dataset, cfg, device, batch_size: int = 256) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on ``split`` without augmentation, computed in
    the precision the run trains in; under several processes each counts its shard of ``split``."""
    was_training = model.training
    model.eval()
    images, labels = distributed.shard(split.images), distributed.shard(split.labels)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, len(images), batch_size):
        x = _as_input(images[start:start + batch_size], data, cfg, device)
        with numerics.autocast(cfg.precision, device):
            logits = model(x)
        correct += (logits.argmax(1) == labels[start:start + batch_size].to(device)).sum()
    model.train(was_training)
    return 100.0 * distributed.all_sum(correct).item() / len(split)


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mb(device) -> float:
    """Peak CUDA memory allocated on a GPU; on a CPU the peak resident memory of this process since
    :func:`reset_peak_memory` (Linux's VmHWM), else since the process started."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else _max_rss_mb()


def reset_peak_memory(device) -> float:
    """Restart the peak-memory count (CUDA statistics; Linux's VmHWM through ``clear_refs``); return
    the memory in use now, in MB, the baseline a run's peak is compared with."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    now = _proc_status_mb("VmRSS")
    return now if now is not None else _max_rss_mb()


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint with ``weights_only=True``; a clear error if it is unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"checkpoint: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "delete it to start the run afresh") from None


def fit(distiller: Distiller, data: Dataset, cfg, device="cpu", checkpoint: Path | None = None,
        desc: str = "", stage: Stage | None = None) -> list[dict]:
    """Train ``distiller`` on ``data.train``; return the per-epoch history.

    ``cfg`` supplies the optimisation fields of a :class:`kdsrc.config.RunConfig`. Without
    ``stage`` this is the main training: ``cfg.epochs`` epochs of the distiller's
    ``forward_train`` with the configured schedule. With a :class:`~kdsrc.distillers.Stage` it is
    that first stage: its epochs, its modules' parameters, its loss, a constant learning rate.
    When ``checkpoint`` exists the run resumes from it; a checkpoint is written atomically after
    every epoch. Under several processes (:mod:`kdsrc.distributed`) each trains on its shard of
    every batch and process 0 alone writes the checkpoint.
    """
    distiller.to(device)
    if cfg.channels_last:
        distiller.to(memory_format=torch.channels_last)
    if stage is None:
        distributed.require_plain_backward(distiller)
        params, epochs, modules = distiller.trainable_parameters(), cfg.epochs, [distiller]
    else:
        params = list({id(p): p for m in stage.modules for p in m.parameters() if p.requires_grad}.values())
        epochs, modules = stage.epochs, stage.modules
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    forward = distributed.data_parallel(distiller.forward_train if stage is None else stage.loss, modules, device)
    if cfg.compile:
        forward = torch.compile(forward)
    generator = torch.Generator(device=device).manual_seed(10_000 + cfg.seed)
    history: list[dict] = []
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        distiller.load_trainable_state(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history = state["history"]

    train = data.train
    n, augmenting, mixing = len(train), cfg.crop_padding > 0 or cfg.flip, cfg.mixing != "none"
    views_per_image = augment.num_views(cfg.crop_padding, cfg.flip)
    steps = math.ceil(n / cfg.batch_size)
    last, world = n - (steps - 1) * cfg.batch_size, distributed.world_size()
    if min(cfg.batch_size, last) < world:
        raise ValueError(f"batch_size: {world} processes need at least {world} images in every batch, but "
                         f"{cfg.batch_size} leaves {last} in the last of {n}; choose another batch_size")
    images, labels = train.images.to(device), train.labels.to(device)
    bar = tqdm(range(len(history), epochs), desc=desc, initial=len(history), total=epochs,
               disable=None if distributed.is_main() else True, leave=False)
    for epoch in bar:
        distiller.train(stage is None)
        for module in stage.modules if stage else ():
            module.train()
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        sums: dict[str, torch.Tensor] = {}
        measured: dict[str, list[float]] = {}
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for step in range(steps):
            index = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            views = augment.random_views(len(index), cfg.crop_padding, cfg.flip, generator) if augmenting else None
            x = _as_input(images[index], data, cfg, device, views)
            y = labels[index]
            keys = index * views_per_image + (views if augmenting else 0)
            if mixing:  # a mixed image is no cached view: the teacher must see the batch itself
                x, y = mix(x, y, cfg.mixing, cfg.mixing_alpha, data.num_classes, generator)
                x, keys = numerics.memory_format(x, cfg.channels_last), None
            # this process's rows of the global batch; its mean loss weighted by their share
            x, y = distributed.shard(x), distributed.shard(y)
            keys = None if keys is None else distributed.shard(keys)
            weight = distributed.shard_weight(len(y), len(index))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, epoch, step, steps) if stage is None else cfg.lr
            with numerics.autocast(cfg.precision, device):
                logits, losses = forward(x, y, keys) if stage is None else (None, forward(x, y))
            optimizer.zero_grad(set_to_none=True)
            weighted = losses if weight == 1 else {k: v * weight for k, v in losses.items()}
            if stage is None:
                for name, value in (distiller.backward(weighted) or {}).items():
                    measured.setdefault(name, []).append(value)
            else:
                sum(weighted.values()).backward()
            optimizer.step()
            for name, value in losses.items():
                sums[name] = sums.get(name, 0) + value.detach() * len(y)
            if logits is not None:  # against the dominant label when labels are mixed
                correct += (logits.argmax(1) == (y.argmax(1) if y.ndim == 2 else y)).sum()
        seconds = time.perf_counter() - start
        distributed.broadcast_buffers(distiller)  # process 0's BatchNorm statistics, as DDP keeps them
        *loss_sums, right = distributed.all_sum(torch.stack([v.double() for v in (*sums.values(), correct)])).tolist()
        record = {
            "epoch": epoch + 1,
            "lr_last": learning_rate(cfg, epoch, steps - 1, steps) if stage is None else cfg.lr,
            "train_loss": {k: v / n for k, v in zip(sums, loss_sums)},
            "train_acc": 100.0 * right / n if stage is None else None,
            "test_acc": evaluate(distiller.student, data.test, data, cfg, device),
            "val_acc": evaluate(distiller.student, data.val, data, cfg, device) if data.val else None,
            "epoch_seconds": seconds,
        }
        record["train_loss"]["total"] = sum(record["train_loss"].values())
        if measured:  # what the distiller's backward measured, mean over the epoch's steps
            record["measurements"] = {k: sum(v) / len(v) for k, v in measured.items()}
        history.append(record)
        bar.set_postfix(loss=f"{record['train_loss']['total']:.3f}", acc=f"{record['test_acc']:.2f}")
        if checkpoint is not None and distributed.is_main():
            save_atomic({"model": distiller.trainable_state(), "optimizer": optimizer.state_dict(),
                         "generator": generator.get_state(), "history": history}, checkpoint)
    return history
