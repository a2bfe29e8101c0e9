"""The trainer: seeded determinism, exact resume after a real kill, the step context, checkpoint cleanup, LR schedules."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from kdsrc import augment, experiment
from kdsrc.config import make_config
from kdsrc.data import dataset_for
from kdsrc.distillers import Distiller
from kdsrc.distillers.vanilla import VanillaConfig
from kdsrc.engine import fit, learning_rate
from kdsrc.models import build_model

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, "-m", "kdsrc", "train", "--method", "vanilla", "--profile", "smoke",
         "--set", "epochs=4", "--set", "train_subset=200", "--set", "test_subset=100", "--set", "batch_size=50"]


def _history(result):
    return [{k: v for k, v in record.items() if k != "epoch_seconds"} for record in result["history"]]


def test_same_config_and_seed_give_identical_history(tiny_config, tmp_path):
    cfg = tiny_config("vanilla")
    first = experiment.run(cfg, root=tmp_path / "a")
    second = experiment.run(cfg, root=tmp_path / "b")
    assert _history(first) == _history(second)
    assert len(first["history"]) == cfg.epochs


def test_different_seed_gives_different_history(tiny_config, tmp_path):
    first = experiment.run(tiny_config("vanilla", seed=0), root=tmp_path)
    other = experiment.run(tiny_config("vanilla", seed=1), root=tmp_path)
    assert [r["train_loss"] for r in _history(first)] != [r["train_loss"] for r in _history(other)]


def test_checkpoint_is_removed_once_the_run_is_stored(tiny_config, tmp_path):
    experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path)
    assert list((tmp_path / "runs").rglob("*.json"))
    assert not list((tmp_path / "checkpoints").rglob("*.ckpt"))


def _stored(results):
    [path] = list((results / "runs").rglob("*.json"))
    return json.loads(path.read_text())


def test_run_killed_after_an_epoch_resumes_to_the_uninterrupted_result(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(TRAIN + ["--results", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    epochs_done, deadline = 0, time.monotonic() + 120
    while epochs_done < 1 and proc.poll() is None and time.monotonic() < deadline:
        for ckpt in (killed / "checkpoints").rglob("*.ckpt"):
            epochs_done = len(torch.load(ckpt, weights_only=True)["history"])
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup runs
    _, stderr = proc.communicate()
    assert epochs_done >= 1, f"no checkpoint with a finished epoch appeared (rc {proc.returncode}): {stderr[-2000:]}"
    assert proc.returncode == -9, "the run finished before it could be killed; make its epochs longer"
    assert not list((killed / "runs").rglob("*.json"))
    [ckpt] = list((killed / "checkpoints").rglob("*.ckpt"))
    assert 1 <= len(torch.load(ckpt, weights_only=True)["history"]) < 4

    subprocess.run(TRAIN + ["--results", str(killed)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(TRAIN + ["--results", str(clean)], cwd=ROOT, check=True, capture_output=True)
    resumed, uninterrupted = _stored(killed), _stored(clean)
    assert _history(resumed) == _history(uninterrupted)
    assert resumed["last_test_acc"] == uninterrupted["last_test_acc"]
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3, 4]
    assert not list((killed / "checkpoints").rglob("*.ckpt"))


@pytest.fixture
def paper():
    return make_config("vanilla", "paper")


@pytest.mark.parametrize("epoch,expected", [(0, 0.05), (149, 0.05), (150, 0.005), (179, 0.005),
                                            (180, 5e-4), (209, 5e-4), (210, 5e-5), (239, 5e-5)])
def test_step_schedule_decays_after_repdistillers_milestones(paper, epoch, expected):
    # RepDistiller: lr * 0.1 ** #(e > m) for the 1-based epoch e = epoch + 1, the same for every step.
    for step in (0, 99):
        assert learning_rate(paper, epoch, step, 100) == pytest.approx(expected, rel=1e-12)


def test_cosine_schedule_goes_from_lr_down_to_nearly_zero():
    cfg = make_config("vanilla", "cpu", epochs=10, lr=0.1)
    lrs = [learning_rate(cfg, e, s, 20) for e in range(10) for s in range(20)]
    assert lrs[0] == pytest.approx(0.1)
    assert 0 < lrs[-1] < 1e-3 * 0.1
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert learning_rate(cfg, 5, 0, 20) == pytest.approx(0.05)  # halfway


class _Spy(Distiller):
    """The student alone, recording the step context it is handed and drawing from its generator as
    a method with random negatives would; optionally interrupted at one (epoch, step)."""

    Config = VanillaConfig

    def __init__(self, student, interrupt_at=None):
        super().__init__(student)
        self.seen, self.interrupt_at = [], interrupt_at

    def forward_train(self, x, y, step=None):
        if (step.epoch, step.index) == self.interrupt_at:
            raise KeyboardInterrupt
        draw = torch.rand((), generator=step.generator).item()
        self.seen.append((step.epoch, step.index, step.steps, step.epochs, step.progress, step.indices.tolist(),
                          step.cache_rows.tolist(), draw))
        logits = self.student(x)
        return logits, {"ce": F.cross_entropy(logits, y)}


def _spy(**kwargs):
    torch.manual_seed(0)
    return _Spy(build_model("resnet8", 10, 1), **kwargs)


def test_the_step_context_names_the_batch_its_cache_rows_and_the_progress(tiny_config):
    cfg = tiny_config("vanilla", epochs=2)
    data = dataset_for(cfg)
    spy = _spy()
    fit(spy, data, cfg)
    views = augment.num_views(cfg.crop_padding, cfg.flip)
    steps = -(-len(data.train) // cfg.batch_size)
    assert [(e, i, s, n) for e, i, s, n, *_ in spy.seen] == [(e, i, steps, 2) for e in range(2) for i in range(steps)]
    assert [p for *_, p, _, _, _ in spy.seen] == [k / (2 * steps) for k in range(2 * steps)]
    for epoch in range(2):
        seen = [s for s in spy.seen if s[0] == epoch]
        assert sorted(i for s in seen for i in s[5]) == list(range(len(data.train)))  # every image once
        for *_, indices, rows, _ in seen:
            assert [r // views for r in rows] == indices and all(0 <= r % views < views for r in rows)


def test_what_a_method_draws_from_the_step_generator_survives_an_interrupted_and_resumed_run(tiny_config, tmp_path):
    cfg = tiny_config("vanilla", epochs=3)
    data = dataset_for(cfg)
    whole = _spy()
    uninterrupted = fit(whole, data, cfg)
    checkpoint = tmp_path / "spy.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(_spy(interrupt_at=(1, 1)), data, cfg, checkpoint=checkpoint)
    resumed_spy = _spy()
    resumed = fit(resumed_spy, data, cfg, checkpoint=checkpoint)
    assert [s for s in whole.seen if s[0] >= 1] == resumed_spy.seen
    assert [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in resumed] == \
        [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in uninterrupted]


@pytest.mark.parametrize("epochs, evaluations, expected", [(10, 0, set(range(1, 11))), (40, 10, set(range(4, 41, 4))),
                                                          (10, 3, {3, 7, 10}), (3, 5, {1, 2, 3}), (7, 1, {7})])
def test_the_evaluated_epochs_are_evenly_spaced_and_end_with_the_last(epochs, evaluations, expected):
    from kdsrc.engine.fit import evaluation_epochs
    assert evaluation_epochs(epochs, evaluations) == expected


def test_fewer_evaluations_record_fewer_accuracies_and_train_exactly_the_same(tiny_config, tmp_path):
    every = experiment.run(tiny_config("kd", epochs=4, val_size=50), tmp_path)
    sparse_cfg = tiny_config("kd", epochs=4, val_size=50, evaluations=2)
    sparse = experiment.run(sparse_cfg, tmp_path)
    assert sparse_cfg.teacher_config() == tiny_config("kd", epochs=4, val_size=50).teacher_config()
    assert [h["test_acc"] is not None for h in sparse["history"]] == [False, True, False, True]
    assert [h["val_acc"] is not None for h in sparse["history"]] == [False, True, False, True]
    assert [h["train_loss"] for h in sparse["history"]] == [h["train_loss"] for h in every["history"]]
    assert (sparse["last_test_acc"], sparse["last_val_acc"]) == (every["last_test_acc"], every["last_val_acc"])
    assert sparse["best_test_acc"] == max(every["history"][i]["test_acc"] for i in (1, 3))
    assert sparse["best_epoch"] in (2, 4)
