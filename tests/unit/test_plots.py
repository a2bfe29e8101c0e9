"""The book's figures draw from tensors and frames without training."""
import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from kdsrc import plots  # noqa: E402
from kdsrc.models import build_model  # noqa: E402


def _features():
    torch.manual_seed(0)
    with torch.no_grad():
        return {name: build_model(name, 10, 1).eval().forward_features(torch.randn(4, 1, 28, 28))
                for name in ("resnet14", "resnet8")}


def test_fsp_matrices_draw_one_panel_per_model_and_stage_pair():
    fig = plots.fsp_matrices(_features())
    assert len(fig.axes) == 2 * 3 and fig.axes[0].get_title() == "resnet14: stage 0 → 1"


def test_preactivations_shade_the_margin_band_in_every_stage_panel():
    fig = plots.preactivations(_features(), margin=1.0)
    assert len(fig.axes) == 3 and all(ax.patches for ax in fig.axes)


def test_sweep_can_leave_categories_unjoined():
    frame = pd.DataFrame({"run": ["a", "a", "b", "b"], "last_acc": [1.0, 2.0, 3.0, 4.0]})
    def mean_line_style(connect):  # the line through the means spans both categories
        ax = plots.sweep(frame, x="run", connect=connect).axes[0]
        [line] = [line for line in ax.lines if len(set(line.get_xdata())) == 2]
        return line.get_linestyle()
    assert mean_line_style(True) == "-" and mean_line_style(False) == "None"


def test_binary_kl_curves_draw_both_losses_for_each_temperature():
    fig = plots.binary_kl_curves(gaps=[-2.0, 0.0, 2.0], temperatures=(1, 4))
    assert [ax.get_title() for ax in fig.axes] == ["BinaryKL", "BinaryKL-Norm"]
    assert all(len(ax.lines) >= 2 for ax in fig.axes)
