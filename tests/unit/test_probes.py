"""The probes the chapters tabulate: activation-boundary statistics and classifiers read across models."""
import torch

from kdsrc.models import Features
from kdsrc.probes import boundary_table


def test_boundary_table_counts_on_neurons_and_the_margin_band():
    pre = torch.tensor([-2.0, -0.5, 0.5, 3.0]).view(1, 4, 1, 1)
    features = {"net": Features(None, [], [None, pre], None)}
    row = boundary_table(features, margin=1.0, stages=(1,)).iloc[0]
    assert (row["on (%)"], row["inside ±margin (%)"], row["channels"]) == (50.0, 50.0, 4)


def test_classifier_table_scores_each_models_own_head_and_a_foreign_classifier():
    from kdsrc.probes import classifier_table
    labels = torch.tensor([0, 1, 1, 0])
    pooled = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    own_logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])  # all right
    swap = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        swap.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # reads the channels the other way round
    row = classifier_table({"net": Features(own_logits, [], [], pooled)}, swap, labels).iloc[0]
    assert row["own classifier acc (%)"] == 100.0 and row["teacher classifier acc (%)"] == 25.0
