"""label_smoothing_loss: cross-entropy against (1 - eps) one-hot + eps / K (Szegedy et al. 2016, Sec. 7)."""
import math

import pytest
import torch
import torch.nn.functional as F

from kdsrc import examples
from kdsrc.losses import label_smoothing_loss


def hand_label_smoothing(logits, labels, eps):
    """The loss in plain Python floats: mean over rows of -sum_k q'(k) log p(k)."""
    total = 0.0
    for row, label in zip(logits.tolist(), labels.tolist()):
        log_z = math.log(sum(math.exp(v) for v in row))
        k = len(row)
        total -= sum(((1 - eps) * (j == label) + eps / k) * (v - log_z) for j, v in enumerate(row))
    return total / len(logits)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
def test_matches_the_formula_written_out(eps):
    logits = examples.logits()
    labels = examples.labels()
    assert label_smoothing_loss(logits, labels, eps).item() == pytest.approx(hand_label_smoothing(logits, labels, eps),
                                                                            rel=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_equals_pytorchs_label_smoothed_cross_entropy(eps):
    logits = examples.logits()
    labels = examples.labels()
    torch.testing.assert_close(label_smoothing_loss(logits, labels, eps),
                               F.cross_entropy(logits, labels, label_smoothing=eps))


def test_soft_targets_are_smoothed_alike():
    """A one-hot row given as probabilities is the same as its class index; a mixed row is smoothed too."""
    logits = examples.logits()
    labels = examples.labels()
    one_hot = F.one_hot(labels, logits.shape[1]).double()
    torch.testing.assert_close(label_smoothing_loss(logits, one_hot, 0.1), label_smoothing_loss(logits, labels, 0.1))
    mixed = 0.7 * one_hot + 0.3 * one_hot.roll(1, dims=0)
    expected = -((0.9 * mixed + 0.1 / logits.shape[1]) * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(label_smoothing_loss(logits, mixed, 0.1), expected)


def test_runs_in_fp32_under_bf16_autocast():
    logits = examples.logits()
    labels = examples.labels()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = label_smoothing_loss(logits.bfloat16(), labels, 0.1)
    assert loss.dtype == torch.float32
