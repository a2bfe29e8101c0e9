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


def test_fsp_matrices_draw_one_panel_per_model_and_stage_pair_on_shared_scales():
    fig = plots.fsp_matrices(_features())
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 * 3 and panels[0].get_title() == "resnet14: stage 0 → 1"
    assert len(fig.axes) == 2 * 3 + 3  # a colour bar per stage pair
    for k in range(3):
        assert panels[k].images[0].get_clim() == panels[3 + k].images[0].get_clim()


def test_attention_maps_share_each_stages_colour_scale_and_show_its_bar():
    image = torch.zeros(1, 28, 28)
    fig = plots.attention_maps(_features(), image)
    maps = [ax for ax in fig.axes if ax.images and ax.get_title().startswith("stage")]
    assert len(maps) == 2 * 3
    for k in range(3):
        low, high = maps[k].images[0].get_clim()
        assert (low, high) == maps[3 + k].images[0].get_clim() and low == 0.0
    assert sum(1 for ax in fig.axes if ax.get_xlabel().startswith("attention") or ax.get_ylabel().startswith("attention")) == 3


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


def _history_run(seed, values):
    return {"config": {"seed": seed}, "history": [{"epoch": e + 1, "measurements": m} for e, m in enumerate(values)]}


def test_measurement_curves_draw_one_panel_per_measurement_and_skip_missing_keys():
    runs = {"one head": [_history_run(0, [{"cos_classifier": -0.1, "cos_backbone": 0.5}] * 2)],
            "two heads": [_history_run(0, [{"cos_backbone": 0.4, "aligned": 0.2}] * 2)]}
    fig = plots.measurement_curves(runs, {"cos_classifier": "classifier", "cos_backbone": "backbone", "aligned": "GA"})
    assert [ax.get_title() for ax in fig.axes] == ["classifier", "backbone", "GA"]


def test_accuracy_vs_cost_names_every_point_in_the_legend():
    table = pd.DataFrame({"run": ["a", "b"], "epoch time × alone": [1.0, 2.0], "last_mean": [70.0, 72.0],
                          "last_std": [0.5, 0.1]})
    ax = plots.accuracy_vs_cost(table).axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a", "b"]


def test_convergence_draws_validation_and_test_against_doubling_lengths():
    frame = pd.DataFrame([{"method": m, "epochs": e, "seed": s, "val_acc": 80 + e / 10 + s, "last_acc": 79 + e / 10 + s}
                          for m in ("vanilla", "kd") for e in (10, 20, 40) for s in range(3)])
    fig = plots.convergence(frame, chosen=20)
    left, right = fig.axes
    assert left.get_xscale() == "log" and [t.get_text() for t in left.get_xticklabels()] == ["10", "20", "40"]
    assert "validation" in left.get_title() and "test" in right.get_title()
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["vanilla", "kd"]


def test_gain_vs_cost_marks_each_method_with_its_interval_unjoined():
    gains = pd.DataFrame({"run": ["KD", "FSP"], "mean": [2.0, -0.5], "low": [1.0, -1.5], "high": [3.0, 0.5]})
    ax = plots.gain_vs_cost(gains, pd.Series({"KD": 1.1, "FSP": 1.6})).axes[0]
    assert sorted(text.get_text() for text in ax.texts) == ["FSP", "KD"]
    markers = ax.containers[0].lines[0]  # the errorbar's data line: markers, no line between them
    assert markers.get_linestyle() == "None" and list(markers.get_xdata()) == [1.1, 1.6]
    assert "training time" in ax.get_xlabel() and "paired gain" in ax.get_ylabel()


def test_plan_progress_has_one_bar_per_pair_teachers_and_students_alone_split_by_state():
    rows = pd.DataFrame({"role": ["teacher", "student alone", "distilled", "distilled"], "teacher": ["", "", "T", "T"],
                         "model": ["T", "S", "S", "S"], "state": ["stored", "missing", "in progress", "missing"]})
    ax = plots.plan_progress(rows, pd.Series([1.0, 2.0, 3.0, 4.0])).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["T → S", "students alone", "teachers"]
    widths = {(round(p.get_y(), 2), round(p.get_width(), 2)) for p in ax.patches if p.get_width() > 0}
    assert sorted(w for _, w in widths) == [1.0, 2.0, 3.0, 4.0]


def test_boundary_agreement_shows_each_stage_before_and_after_on_a_full_axis():
    runs = [{"config": {"seed": seed}, "first_stage": {"probe": {
        "before": {"same_side_stage1": 50.0 + seed, "same_side_stage2": 52.0},
        "after": {"same_side_stage1": 90.0, "same_side_stage2": 85.0 - seed}}}} for seed in (0, 1)]
    ax = plots.boundary_agreement(runs).axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
    heights = sorted(round(p.get_height(), 2) for p in ax.patches if p.get_height() > 0)
    assert heights == [50.5, 52.0, 84.5, 90.0]  # the means over the two runs
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["before the first stage", "after the first stage"]


def test_classifier_reading_pairs_own_and_teacher_classifier_per_model():
    table = pd.DataFrame({"model": ["teacher", "SRRL student"], "own classifier acc (%)": [93.0, 85.0],
                          "teacher classifier acc (%)": [93.0, 80.0]})
    ax = plots.classifier_reading(table, chance=10.0).axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    assert sorted(round(p.get_height(), 1) for p in ax.patches if p.get_height() > 0) == [80.0, 85.0, 93.0, 93.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["its own classifier", "the teacher's classifier", "chance"]


def _curve_run(seed, values):
    return {"config": {"seed": seed}, "history": [{"epoch": e + 1, "test_acc": v, "train_loss": {"ce": v / 100, "kd": v / 50},
                                                   "measurements": {"cos": 0.1 * e}} for e, v in enumerate(values)]}


def test_curves_speak_in_words_and_drop_one_entry_legends():
    runs = {"KD": [_curve_run(0, [50.0, 60.0]), _curve_run(1, [52.0, 61.0])]}
    ax = plots.learning_curves(runs).axes[0]
    assert ax.get_legend() is None and ax.get_ylabel() == "test accuracy (%)"
    fig = plots.loss_curves({**runs, "alone": [_curve_run(0, [40.0, 45.0])]}, ("ce", "kd"))
    assert [ax.get_title() for ax in fig.axes] == ["ce term", "kd term"]
    assert fig.legends and fig.legends[0].get_title().get_text() == ""
    single = plots.measurement_curves(runs, {"cos": "gradient cosine"})
    assert [ax.get_title() for ax in single.axes] == ["gradient cosine"] and not single.legends


def test_a_zoomed_accuracy_axis_says_where_it_starts():
    frame = pd.DataFrame({"run": ["a", "a", "b", "b"], "last_acc": [80.0, 81.0, 84.0, 85.0]})
    ax = plots.sweep(frame, x="run", connect=False).axes[0]
    assert any(t.get_text().startswith("axis starts at") for t in ax.texts)
    import matplotlib.pyplot as plt
    fig, full = plt.subplots()
    full.set_ylim(0, 100)
    plots.mark_cut_axis(full)
    assert not full.texts


def test_plateau_curve_shades_the_last_fifth_and_marks_the_decays():
    run = {"config": {"milestones": [3, 4]},
           "history": [{"epoch": e, "val_acc": 80.0 + e, "test_acc": 79.0 + e} for e in range(1, 6)]}
    ax = plots.plateau_curve(run).axes[0]
    shaded = [p for p in ax.patches if p.get_alpha() == 0.15]
    assert len(shaded) == 1 and shaded[0].get_x() == 4.0
    assert sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":") == [3, 4]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["last 20% of the epochs", "validation", "test"]


def test_relation_matrices_sort_the_images_by_class_on_one_shared_scale():
    matrices = {"teacher": torch.arange(9.0).view(3, 3), "student": torch.zeros(3, 3)}
    fig = plots.relation_matrices(matrices, torch.tensor([2, 0, 1]), "similarity (SP)")
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["teacher", "student"]
    assert panels[0].images[0].get_clim() == panels[1].images[0].get_clim() == (0.0, 8.0)
    assert panels[0].images[0].get_array()[0, 0] == 4.0  # image 1 (class 0) first
    assert any(ax.get_ylabel() == "similarity (SP)" for ax in fig.axes)


def test_relation_matrices_wrap_into_rows_of_three_panels():
    matrices = {f"model {k}": torch.rand(4, 4) for k in range(5)}
    fig = plots.relation_matrices(matrices, torch.arange(4), "distance")
    assert len([ax for ax in fig.axes if ax.images]) == 5 and not fig.axes[5].axison


def test_vid_variances_draw_a_sorted_line_per_layer_and_the_initial_value():
    fig = plots.vid_variances({"stage 1": torch.tensor([5.0, 0.5, 2.0]), "stage 2": torch.tensor([1.0, 3.0])}, initial=5.0)
    ax = fig.axes[0]
    assert [list(line.get_ydata()) for line in ax.lines[:2]] == [[0.5, 2.0, 5.0], [1.0, 3.0]]
    assert ax.get_yscale() == "log" and "initial variance (5)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_factor_maps_show_the_image_and_each_factor_on_one_scale():
    factors = {"teacher (paraphraser)": torch.rand(1, 4, 3, 3), "student (translator)": torch.rand(1, 2, 3, 3)}
    fig = plots.factor_maps(factors, torch.zeros(1, 28, 28))
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["image", "teacher (paraphraser)", "student (translator)"]
    assert panels[1].images[0].get_clim() == panels[2].images[0].get_clim()


def test_kernel_distributions_draw_one_curve_per_model_over_distinct_channel_pairs():
    kernels = {"teacher": torch.eye(3) + 0.5 * (1 - torch.eye(3)), "student": torch.eye(2) + 0.2 * (1 - torch.eye(2))}
    fig = plots.kernel_distributions(kernels)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_legend().get_title().get_text() == ""
    assert sorted(round(float(line.get_xdata()[-1]), 3) for line in ax.lines) == [0.2, 0.5]
