"""The probes the chapters tabulate: activation-boundary statistics and classifiers read across models."""
import pytest
import torch

from kdsrc.losses import pkt_probabilities, rkd_distances, sp_similarities
from kdsrc.models import Features
from kdsrc.probes import boundary_table, channel_kernels, relation_gaps, relation_matrices


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


def test_relation_matrices_are_each_methods_own_batch_matrix_and_the_gaps_are_zero_for_the_teacher_itself():
    torch.manual_seed(0)
    def features():
        return Features(logits=torch.randn(6, 10), stages=[torch.randn(6, 4, 3, 3)], preacts=[], pooled=torch.randn(6, 8))
    teacher, student = features(), features()
    found = {kind: relation_matrices({"teacher": teacher}, kind)["teacher"] for kind in ("similarity", "distance", "probability")}
    torch.testing.assert_close(found["similarity"], sp_similarities(teacher.stages[-1]))
    torch.testing.assert_close(found["distance"], rkd_distances(teacher.pooled))
    torch.testing.assert_close(found["probability"], pkt_probabilities(teacher.pooled))
    gaps = relation_gaps({"teacher": teacher, "copy": teacher, "student": student})
    assert set(gaps.model) == {"copy", "student"} and len(gaps) == 6
    assert (gaps[gaps.model == "copy"].iloc[:, -1] == 0).all() and (gaps[gaps.model == "student"].iloc[:, -1] > 0).all()
    with pytest.raises(ValueError, match="^kind:"):
        relation_matrices({"teacher": teacher}, "correlation")


def test_channel_kernels_are_one_on_the_diagonal_and_symmetric():
    torch.manual_seed(0)
    feats = Features(logits=None, stages=[torch.randn(3, 5, 4, 4)], preacts=[], pooled=None)
    kernel = channel_kernels({"net": feats})["net"]
    assert kernel.shape == (5, 5)
    torch.testing.assert_close(torch.diagonal(kernel), torch.ones(5))
    torch.testing.assert_close(kernel, kernel.T)
