"""Every registered method, new ones included without editing this file: one SGD step through the
trainer's step context, and a short run on tiny Fashion-MNIST through experiment.run."""
import math

import pytest
import torch

from kdsrc import distillers, experiment
from kdsrc.data import dataset_for, to_model_input
from kdsrc.engine import Step
from kdsrc.models import build_model


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory):
    """One results folder for the module, so the tiny teacher trains once for every method."""
    return tmp_path_factory.mktemp("every_method")


@pytest.mark.parametrize("method", list(distillers.METHODS))
def test_one_step_moves_the_students_parameters_with_finite_losses(tiny_config, method):
    cfg = tiny_config(method)
    data = dataset_for(cfg)
    torch.manual_seed(0)
    teacher = build_model(cfg.teacher, data.num_classes, data.in_channels) if cfg.teacher_configs() else None
    distiller = distillers.build(method, cfg.method_params, build_model(cfg.model, data.num_classes, data.in_channels),
                                 teacher, data).train()
    before = [p.detach().clone() for p in distiller.student.parameters()]
    optimizer = torch.optim.SGD(distiller.trainable_parameters(), lr=0.1)
    index = torch.arange(8)
    x = to_model_input(data.train.images[index], data.mean, data.std)
    step = Step(0, 1, 0, 1, indices=index, batch_indices=index, cache_rows=None, generator=torch.Generator().manual_seed(0))
    logits, losses = distiller.forward_train(x, data.train.labels[index], step)
    assert logits.shape == (8, data.num_classes) and losses
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values()), losses
    distiller.backward(losses)
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, distiller.student.parameters()))
    assert all(p.grad is None for p in (teacher.parameters() if teacher is not None else ()))


@pytest.mark.parametrize("method", list(distillers.METHODS))
def test_a_short_run_is_trained_and_stored(tiny_config, shared_root, method):
    cfg = tiny_config(method, epochs=1)
    run = experiment.run(cfg, shared_root)
    assert run["run_id"] == cfg.run_id() and run["config"]["method"] == method
    assert len(run["history"]) == 1 and 0 <= run["last_test_acc"] <= 100
    assert all(math.isfinite(v) for v in run["history"][0]["train_loss"].values())
    data = dataset_for(cfg)
    models = [build_model(name, data.num_classes, data.in_channels) for name in (cfg.model, cfg.teacher)]
    stage = distillers.build(method, cfg.method_params, *models, data).first_stage()
    if stage is None:
        assert run["first_stage"] is None
    else:
        assert len(run["first_stage"]["history"]) == stage.epochs >= 1
    assert experiment.run(cfg, shared_root) == run  # read back, not trained again
