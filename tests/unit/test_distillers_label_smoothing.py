"""The label-smoothing distiller: the student alone on smoothed targets, its parameter checked."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kdsrc import distillers
from kdsrc.config import ConfigError, make_config
from kdsrc.losses import label_smoothing_loss
from kdsrc.models import build_model

ROOT = Path(__file__).resolve().parents[2]


def test_trains_the_student_alone_on_the_smoothed_cross_entropy():
    torch.manual_seed(0)
    student = build_model("resnet8", 10, 1)
    smoothing = distillers.build("label_smoothing", {"epsilon": 0.2}, student, build_model("resnet14", 10, 1),
                                 distillers.example_summary(num_classes=10, in_channels=1, size=28))
    assert smoothing.teacher is None and smoothing.extra_parameter_count() == 0
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 3, 9])
    logits, losses = smoothing.eval().forward_train(x, y)
    assert set(losses) == {"ce"}
    torch.testing.assert_close(losses["ce"], label_smoothing_loss(logits, y, 0.2))


def test_defaults_to_the_papers_epsilon_and_refuses_one_outside_zero_to_one():
    assert make_config("label_smoothing", "cpu").method_params == {"epsilon": 0.1}
    for bad in (-0.1, 1.5, float("nan"), "0.1"):
        with pytest.raises(ConfigError, match="^epsilon: must be a finite number >= 0 and <= 1"):
            make_config("label_smoothing", "smoke", epsilon=bad)


def test_the_command_line_trains_it_at_the_smoke_profile(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kdsrc", "train", "--method", "label_smoothing", "--profile", "smoke",
                           "--set", "epochs=1", "--set", "train_subset=100", "--set", "test_subset=100",
                           "--results", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "runs" / "smoke" / "label_smoothing").glob("resnet8_seed0_*.json"))
