"""The training loop shared by every method: SGD, LR schedule, evaluation, checkpoint and resume.

It knows no method. A distiller hands it :class:`~kdsrc.engine.stage.Stage` s (its main training,
and a two-stage method's first stage); :func:`fit` trains one stage, epoch by epoch
(:func:`_epoch`), step by step (:func:`_step`), recording every epoch (:func:`_record`) and
checkpointing after it (:func:`_save`). Processes are dealt with in two of them: :func:`fit` sets
them up, :func:`_epoch` shards each batch and sums the epoch over them. Everything random (initialisation aside) draws from one
generator whose state is checkpointed, so a killed run resumed from its last checkpoint ends
exactly where an uninterrupted run does; methods draw from it through the step context.

The step is the same on every device (the "fast path"): the data sit on the device as uint8 and
are augmented there in batches; model and batches are channels-last when ``cfg.channels_last``;
forward passes run under the autocast of ``cfg.precision`` (:mod:`kdsrc.engine.numerics`); the
frozen teacher runs under ``inference_mode``; ``cfg.compile`` compiles the stage's loss with
``torch.compile``; and nothing inside a step waits for the device: losses and accuracy are summed
on the device and read once an epoch.

Under ``torchrun`` (:mod:`kdsrc.engine.distributed`) every process draws the same global batch
and trains on its shard through DistributedDataParallel; the epoch's sums and the test counts are
summed over the processes, so every process keeps the same history, and only process 0 writes
the checkpoint.

**The training revision.** :data:`TRAINING_REVISION` enters every run's identity
(:meth:`kdsrc.config.RunConfig.run_id`). Bump it in the same commit as any change that alters
what training computes for an unchanged configuration: the order of random draws, a loss's
arithmetic, the batching, the schedule, evaluation. The stored runs of older revisions are then
never mistaken for the new code's (they stay readable; they are simply other runs). Revision 1
is the loop that trained the runs stored before the revision existed, so its runs keep the ids
they were stored under (:mod:`kdsrc.config`).
"""
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .. import augment, retraining, store
from ..data import Dataset
from ..mixing import mix
from ..validate import ConfigError
from . import distributed, numerics
from .inference import evaluate, model_input
from .schedule import learning_rate
from .stage import Stage, Step

TRAINING_REVISION = retraining.REVISION if retraining.ACTIVE else 1  # kdsrc.retraining: the next one's runs


class _Batches:
    """The training images on the device and how an epoch cuts them into global batches, each of
    which ``processes`` processes share."""

    def __init__(self, data: Dataset, cfg, device, processes: int):
        self.data, self.cfg, self.device = data, cfg, device
        self.n = len(data.train)
        self.steps = math.ceil(self.n / cfg.batch_size)
        last = self.n - (self.steps - 1) * cfg.batch_size
        if min(cfg.batch_size, last) < processes:
            raise ConfigError(f"batch_size: {processes} processes need at least {processes} images in every batch, "
                              f"but {cfg.batch_size} leaves {last} in the last of {self.n}; choose another batch_size")
        self.images, self.labels = data.train.images.to(device), data.train.labels.to(device)
        self.augmenting = cfg.crop_padding > 0 or cfg.flip
        self.views_per_image = augment.num_views(cfg.crop_padding, cfg.flip)

    def draw(self, index: torch.Tensor, generator: torch.Generator):
        """The augmented (and mixed) batch of dataset indices ``index``: images, labels, and each
        image's row in a teacher's view cache (None for a mixed batch, whose images are no view)."""
        cfg = self.cfg
        views = augment.random_views(len(index), cfg.crop_padding, cfg.flip, generator) if self.augmenting else None
        x = model_input(self.images[index], self.data, cfg, self.device, views)
        y = self.labels[index]
        rows = index * self.views_per_image + (views if self.augmenting else 0)
        if cfg.mixing != "none":
            x, y = mix(x, y, cfg.mixing, cfg.mixing_alpha, self.data.num_classes, generator)
            x, rows = numerics.memory_format(x, cfg.channels_last), None
        return x, y, rows


def _resume(checkpoint: Path | None, distiller, optimizer, generator) -> list[dict]:
    """The history so far, with model, optimizer and generator restored, when ``checkpoint`` exists."""
    if checkpoint is None or not checkpoint.exists():
        return []
    state = store.load_tensors(checkpoint)
    distiller.load_trainable_state(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["history"]


def _save(checkpoint: Path, distiller, optimizer, generator, history: list[dict]) -> None:
    store.save_tensors({"model": distiller.trainable_state(), "optimizer": optimizer.state_dict(),
                        "generator": generator.get_state(), "history": history}, checkpoint)


def _stage_lr(stage: Stage, cfg, epoch: int, index: int, steps: int) -> float:
    if stage.scheduled:
        return learning_rate(cfg, epoch, index, steps)
    return cfg.lr if stage.lr is None else stage.lr


def _step(stage: Stage, loss, optimizer, x, y, step: Step, weight: float, cfg, device, sums: dict,
          measured: dict):
    """One SGD step on a batch (this process's shard of it), its mean loss scaled by ``weight``;
    the loss terms are added to ``sums`` (weighted by images) and the backward pass's measurements
    to ``measured``. The logits."""
    for group in optimizer.param_groups:
        group["lr"] = _stage_lr(stage, cfg, step.epoch, step.index, step.steps)
    with numerics.autocast(cfg.precision, device):
        logits, losses = loss(x, y, step)
    optimizer.zero_grad(set_to_none=True)
    weighted = losses if weight == 1 else {k: v * weight for k, v in losses.items()}
    for name, value in (stage.backward(weighted) or {}).items():
        measured.setdefault(name, []).append(value)
    optimizer.step()
    for name, value in losses.items():
        sums[name] = sums.get(name, 0) + value.detach() * len(y)
    return logits


def _epoch(distiller, stage: Stage, loss, optimizer, batches: _Batches, generator, epoch: int, epochs: int,
           device) -> dict:
    """Train one epoch of ``stage``: every process draws the same global batches and trains on its
    shard of each, its mean loss weighted by the shard's share
    (:func:`kdsrc.engine.distributed.shard_weight`); then the processes take process 0's BatchNorm
    statistics, as DDP keeps them, and sum what they counted. The epoch's mean loss terms,
    training accuracy (None for a stage that returns no logits), measurements and seconds."""
    distiller.train(False)
    for module in stage.modules:
        module.train()
    start = time.perf_counter()
    cfg, steps = batches.cfg, batches.steps
    order = torch.randperm(batches.n, generator=generator, device=device)
    sums: dict[str, torch.Tensor] = {}
    measured: dict[str, list[float]] = {}
    correct, predicted = torch.zeros((), dtype=torch.int64, device=device), False
    for index in range(steps):
        batch = order[index * cfg.batch_size:(index + 1) * cfg.batch_size]
        x, y, rows = batches.draw(batch, generator)
        step = Step(epoch, epochs, index, steps, distributed.shard(batch), batch,
                    None if rows is None else distributed.shard(rows), generator)
        x, y = distributed.shard(x), distributed.shard(y)
        weight = distributed.shard_weight(len(y), len(batch))
        logits = _step(stage, loss, optimizer, x, y, step, weight, cfg, device, sums, measured)
        if logits is not None:  # against the dominant label when labels are mixed
            predicted = True
            correct += (logits.argmax(1) == (y.argmax(1) if y.ndim == 2 else y)).sum()
    seconds = time.perf_counter() - start
    distributed.broadcast_buffers(distiller)
    counted = [*sums.values()] + ([correct] if predicted else [])
    totals = distributed.all_sum(torch.stack([v.double() for v in counted])).tolist() if counted else []
    return {"train_loss": {k: v / batches.n for k, v in zip(sums, totals)},
            "train_acc": 100.0 * totals[-1] / batches.n if predicted else None,
            "measured": measured, "seconds": seconds}


def evaluation_epochs(epochs: int, evaluations: int) -> set[int]:
    """The epochs (1-based) after which a stage of ``epochs`` evaluates: ``evaluations`` evenly
    spaced ones ending with the last, or every epoch when ``evaluations`` is 0 or not fewer."""
    if evaluations == 0 or evaluations >= epochs:
        return set(range(1, epochs + 1))
    return {round(k * epochs / evaluations) for k in range(1, evaluations + 1)}


def _record(distiller, stage: Stage, done: dict, epoch: int, batches: _Batches, cfg, device) -> dict:
    """The epoch's history entry: its learning rate, mean loss terms and training accuracy, test
    and validation accuracy (None after an epoch that does not evaluate, :func:`evaluation_epochs`),
    seconds, and the backward's measurements."""
    data = batches.data
    evaluated = epoch + 1 in evaluation_epochs(stage.epochs, cfg.evaluations)
    record = {
        "epoch": epoch + 1,
        "lr_last": _stage_lr(stage, cfg, epoch, batches.steps - 1, batches.steps),
        "train_loss": done["train_loss"],
        "train_acc": done["train_acc"],
        "test_acc": evaluate(distiller.student, data.test, data, cfg, device) if evaluated else None,
        "val_acc": evaluate(distiller.student, data.val, data, cfg, device) if evaluated and data.val else None,
        "epoch_seconds": done["seconds"],
    }
    record["train_loss"]["total"] = sum(record["train_loss"].values())
    if done["measured"]:  # what the distiller's backward measured, mean over the epoch's steps
        record["measurements"] = {k: float(sum(v) / len(v)) for k, v in done["measured"].items()}
    return record


def fit(distiller, data: Dataset, cfg, device="cpu", checkpoint: Path | None = None,
        desc: str = "", stage: Stage | None = None) -> list[dict]:
    """Train ``distiller`` on ``data.train`` for one stage; return the per-epoch history.

    ``cfg`` supplies the optimisation fields of a :class:`kdsrc.config.RunConfig`. ``stage``
    defaults to the distiller's main training (:meth:`~kdsrc.distillers.Distiller.main_stage`:
    ``cfg.epochs`` epochs of ``forward_train`` on the configured schedule); a two-stage method's
    first stage trains its modules at a constant learning rate. When ``checkpoint`` exists the
    stage resumes from it; a checkpoint is written atomically after every epoch. Under several
    processes (:mod:`kdsrc.engine.distributed`) each trains on its shard of every batch and
    process 0 alone writes the checkpoint.
    """
    stage = stage or distiller.main_stage(cfg.epochs)
    distiller.to(device)
    if cfg.channels_last:
        distiller.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(stage.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    loss = distributed.data_parallel(stage.loss, stage.modules, device)
    if cfg.compile:
        loss = torch.compile(loss)
    generator = torch.Generator(device=device).manual_seed(10_000 + cfg.seed)
    history = _resume(checkpoint, distiller, optimizer, generator)
    batches = _Batches(data, cfg, device, distributed.world_size())
    main = distributed.is_main()  # the process that shows progress and writes the checkpoint
    bar = tqdm(range(len(history), stage.epochs), desc=desc, initial=len(history), total=stage.epochs,
               disable=None if main else True, leave=False)
    for epoch in bar:
        done = _epoch(distiller, stage, loss, optimizer, batches, generator, epoch, stage.epochs, device)
        history.append(_record(distiller, stage, done, epoch, batches, cfg, device))
        bar.set_postfix(loss=f"{history[-1]['train_loss']['total']:.3f}", acc=history[-1]["test_acc"])
        if checkpoint is not None and main:
            _save(checkpoint, distiller, optimizer, generator, history)
    return history
