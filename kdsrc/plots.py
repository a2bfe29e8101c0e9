"""Figures for the book. They read stored runs and tensors; they never train."""
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from .losses import attention_map, binary_kl, binary_kl_norm, fsp_matrix, ft_factor

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def mark_cut_axis(ax) -> None:
    """Say so on ``ax`` when its accuracy axis does not start at zero (a zoomed axis makes small
    differences look large): a note "axis starts at ..." in its lower left corner."""
    low = ax.get_ylim()[0]
    if low > 0:
        ax.text(0.01, 0.01, f"axis starts at {low:.1f}", transform=ax.transAxes, fontsize=7, color="gray",
                ha="left", va="bottom")


def sample_grid(split, per_class: int = 6, class_names=FASHION_CLASSES):
    """A grid of the first ``per_class`` images of every class."""
    classes = int(split.labels.max()) + 1
    fig, axes = plt.subplots(classes, per_class, figsize=(per_class * 0.9, classes * 0.95))
    for c in range(classes):
        index = torch.nonzero(split.labels == c).flatten()[:per_class]
        for ax, i in zip(axes[c], index):
            image = split.images[i]
            ax.imshow(image[0] if image.shape[0] == 1 else image.permute(1, 2, 0), cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([])
        axes[c][0].set_ylabel(class_names[c] if class_names else c, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(runs: dict[str, list[dict]], metric: str = "test_acc"):
    """Per-epoch ``metric`` of each labelled group of runs: mean line and the band of seeds."""
    rows = [{"label": label, "seed": r["config"]["seed"], "epoch": h["epoch"], metric: h[metric]}
            for label, group in runs.items() for r in group for h in r["history"] if h[metric] is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sns.lineplot(pd.DataFrame(rows), x="epoch", y=metric, hue="label", errorbar=("pi", 100), ax=ax)
    ax.set_ylabel({"test_acc": "test accuracy (%)", "val_acc": "validation accuracy (%)",
                   "train_acc": "training accuracy (%)"}.get(metric, metric.replace("_", " ")))
    if len(runs) > 1:
        ax.legend(title=None)
    else:
        ax.get_legend().remove()
    mark_cut_axis(ax)
    fig.tight_layout()
    return fig


def convergence(frame: pd.DataFrame, chosen: int | None = None):
    """Final validation and test accuracy against the training length (doubling steps, log
    scale), one line per method: mean over seeds, error bars one sample standard deviation;
    ``chosen`` marks the length the profile uses."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, (metric, title) in zip(axes, (("val_acc", "validation (chooses the length)"),
                                          ("last_acc", "test (reported only)"))):
        sns.lineplot(frame, x="epochs", y=metric, hue="method", style="method", markers=True, dashes=False,
                     errorbar="sd", err_style="bars", ax=ax)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(frame.epochs.unique()), [str(e) for e in sorted(frame.epochs.unique())])
        ax.set_xlabel("epochs")
        ax.set_ylabel("final accuracy (%), mean ± 1 s.d. over seeds")
        ax.set_title(title)
        if chosen is not None:
            ax.axvline(chosen, color="grey", linestyle=":", linewidth=1)
        ax.legend(title=None)
        mark_cut_axis(ax)
    fig.tight_layout()
    return fig


def softmax_temperatures(logits, temperatures=(1, 2, 4, 8, 20), class_names=None):
    """How a softmax over ``logits`` flattens as the temperature grows."""
    logits = torch.as_tensor(logits, dtype=torch.float64)
    rows = [{"T": f"T={t}", "class": (class_names[i] if class_names else str(i)), "probability": p}
            for t in temperatures for i, p in enumerate(torch.softmax(logits / t, 0).tolist())]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sns.barplot(pd.DataFrame(rows), x="class", y="probability", hue="T", ax=ax)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def sweep(frame: pd.DataFrame, x: str, y: str = "last_acc", baseline: float | None = None,
          baseline_label: str = "student alone", label_rotation: int = 0, connect: bool = True):
    """Accuracy against one swept parameter (mean and range over seeds), the points joined by a
    line unless ``connect`` is False (categories that are not a scale); an optional horizontal line
    for a baseline."""
    fig, ax = plt.subplots(figsize=(5, 3.2) if not label_rotation else (6.5, 4))
    sns.pointplot(frame, x=x, y=y, errorbar=("pi", 100), ax=ax, linestyles="-" if connect else "none")
    ax.tick_params(axis="x", rotation=label_rotation)
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="gray", label=baseline_label)
        ax.legend()
    ax.set_ylabel("last-epoch test accuracy (%)")
    mark_cut_axis(ax)
    fig.tight_layout()
    return fig


def loss_curves(runs: dict[str, list[dict]], terms: tuple[str, ...]):
    """Per-epoch training loss terms (as weighted in the loss) of each labelled group of runs."""
    rows = [{"label": label, "term": term, "seed": r["config"]["seed"], "epoch": h["epoch"],
             "loss": h["train_loss"][term]}
            for label, group in runs.items() for r in group for h in r["history"]
            for term in terms if term in h["train_loss"]]
    grid = sns.relplot(pd.DataFrame(rows), x="epoch", y="loss", hue="label", col="term", kind="line",
                       errorbar=("pi", 100), facet_kws={"sharey": False}, height=3, aspect=1.2)
    grid.set_titles("{col_name} term")
    grid.set_axis_labels("epoch", "training loss (weighted, epoch mean)")
    _legend_without_title(grid)
    return grid.figure


def _legend_without_title(grid) -> None:
    """A seaborn grid's legend without the title naming its data column; no legend for one entry."""
    if grid.legend is None:
        return
    if len(grid.legend.texts) < 2:
        grid.legend.remove()
    else:
        grid.legend.set_title(None)


def attention_maps(features: dict, image: torch.Tensor, stages=(1, 2, 3), p: float = 2):
    """Attention maps (channel mean of |F|^p, normalised; :func:`kdsrc.losses.attention_map`) of
    each model's :class:`~kdsrc.models.Features` at each stage, for the first image of the batch:
    one column a stage, on one colour scale shared by the models, with its colour bar."""
    maps = {name: {stage: attention_map(feats.stages[stage], p)[0].view(*feats.stages[stage].shape[-2:]).numpy()
                   for stage in stages} for name, feats in features.items()}
    top = {stage: max(m[stage].max().item() for m in maps.values()) for stage in stages}
    fig, axes = plt.subplots(len(features), len(stages) + 1, figsize=(2.3 * (len(stages) + 1), 2.2 * len(features) + 0.6),
                             squeeze=False, layout="constrained")
    for row, (name, by_stage) in zip(axes, maps.items()):
        row[0].imshow(image[0], cmap="gray_r")
        row[0].set_ylabel(name)
        for ax, stage in zip(row[1:], stages):
            ax.imshow(by_stage[stage], cmap="magma", vmin=0.0, vmax=top[stage])
            ax.set_title(f"stage {stage}", fontsize=9)
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
    for column, stage in enumerate(stages, 1):
        fig.colorbar(axes[-1, column].images[0], ax=axes[:, column], location="bottom", shrink=0.9,
                     label=f"attention, stage {stage}")
    return fig


def fsp_matrices(features: dict, pool: str = "avg"):
    """FSP matrices (:func:`kdsrc.losses.fsp_matrix`, batch mean) between the input and the output of
    each stage, one row per model's :class:`~kdsrc.models.Features`: one column a stage pair, on
    one colour scale shared by the models, with its colour bar."""
    pairs = len(next(iter(features.values())).stages) - 1
    matrices = {name: [fsp_matrix(feats.stages[k], feats.stages[k + 1], pool).mean(0).numpy() for k in range(pairs)]
                for name, feats in features.items()}
    low = [min(m[k].min().item() for m in matrices.values()) for k in range(pairs)]
    high = [max(m[k].max().item() for m in matrices.values()) for k in range(pairs)]
    fig, axes = plt.subplots(len(features), pairs, figsize=(3 * pairs, 2.8 * len(features) + 0.6), squeeze=False,
                             layout="constrained")
    for row, (name, by_pair) in zip(axes, matrices.items()):
        for k, (ax, matrix) in enumerate(zip(row, by_pair)):
            ax.imshow(matrix, cmap="viridis", aspect="auto", vmin=low[k], vmax=high[k])
            ax.set_title(f"{name}: stage {k} → {k + 1}", fontsize=9)
            ax.set_xlabel(f"output channel ({matrix.shape[1]})", fontsize=8)
            ax.set_ylabel(f"input channel ({matrix.shape[0]})", fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
    for k in range(pairs):
        fig.colorbar(axes[-1, k].images[0], ax=axes[:, k], location="bottom", shrink=0.9, label="FSP entry")
    return fig


def preactivations(features: dict, margin: float = 1.0, stages=(1, 2, 3)):
    """Histograms of pre-ReLU stage outputs per model, with the activation boundary (0) and the
    margin band of the AB loss (Heo et al. 2019) shaded."""
    rows = [{"model": name, "stage": f"stage {s}", "pre-activation": v}
            for name, feats in features.items() for s in stages
            for v in feats.preacts[s].flatten()[::max(1, feats.preacts[s].numel() // 20000)].tolist()]
    grid = sns.displot(pd.DataFrame(rows), x="pre-activation", hue="model", col="stage", kind="hist",
                       stat="density", common_norm=False, element="step", bins=80, height=2.8, aspect=1.2,
                       facet_kws={"sharey": False})
    grid.set_titles("{col_name}")
    for ax in grid.axes.flat:
        ax.axvspan(-margin, margin, color="gray", alpha=0.15)
        ax.axvline(0, color="black", lw=0.8)
    return grid.figure


def binary_kl_curves(gaps=None, temperatures=(1, 2, 4, 8), teacher_logit: float = 0.0):
    """BinaryKL and BinaryKL-Norm (Yang et al. 2024) for one class, as the student's logit moves
    away from the teacher's (``teacher_logit``) by ``gaps``, one curve per temperature."""
    gaps = torch.linspace(-20, 20, 401) if gaps is None else torch.as_tensor(gaps, dtype=torch.float32)
    teacher = torch.full((len(gaps), 1), float(teacher_logit))
    student = teacher + gaps.view(-1, 1)
    rows = [{"loss": name, "T": f"T={t}", "student logit − teacher logit": g.item(),
             "value per class": (fn(student[i:i + 1], teacher[i:i + 1], t)).item()}
            for name, fn in (("BinaryKL", binary_kl), ("BinaryKL-Norm", binary_kl_norm))
            for t in temperatures for i, g in enumerate(gaps)]
    grid = sns.relplot(pd.DataFrame(rows), x="student logit − teacher logit", y="value per class", hue="T",
                       col="loss", kind="line", facet_kws={"sharey": False}, height=3, aspect=1.3)
    grid.set_titles("{col_name}")
    return grid.figure


def measurement_curves(runs: dict[str, list[dict]], keys: dict[str, str], reference: float | None = 0.0):
    """Per-epoch training measurements of each labelled group of runs (the run history's
    ``measurements``, e.g. gradient cosines): one panel per key of ``keys`` (its value the panel
    title), mean line and the band of seeds, with a horizontal reference line."""
    rows = [{"label": label, "measurement": title, "seed": r["config"]["seed"], "epoch": h["epoch"],
             "value": h["measurements"][key]}
            for label, group in runs.items() for r in group for h in r["history"]
            for key, title in keys.items() if key in h.get("measurements", {})]
    grid = sns.relplot(pd.DataFrame(rows), x="epoch", y="value", hue="label", col="measurement", kind="line",
                       errorbar=("pi", 100), height=3, aspect=1.2)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("epoch", "value (mean; band: the seeds' range)")
    _legend_without_title(grid)
    if reference is not None:
        grid.refline(y=reference, color="gray", ls="--")
    return grid.figure


COST_LABELS = {"run time × alone": "whole run's training time × student alone (first stage included)",
               "epoch time × alone": "training epoch time × student alone"}


def accuracy_vs_cost(table: pd.DataFrame, x: str = "epoch time × alone", y: str = "last_mean",
                     error: str = "last_std", label: str = "run"):
    """Accuracy (mean, with ± std bars over seeds) against a cost column, one marker per row,
    named in the legend."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.errorbar(table[x], table[y], yerr=table[error], fmt="none", ecolor="gray", capsize=3, zorder=1)
    sns.scatterplot(table, x=x, y=y, hue=label, style=label, s=80, ax=ax, zorder=2)
    ax.legend(title=None, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_xlabel(COST_LABELS.get(x, x))
    ax.set_ylabel("last-epoch test accuracy (%)")
    mark_cut_axis(ax)
    fig.tight_layout()
    return fig


def gain_vs_cost(gains: pd.DataFrame, cost: pd.Series, cost_label: str = "whole run's training time × student alone"):
    """Each method's paired gain over the student alone (:func:`kdsrc.results.paired_gains`: the
    marker its mean, the bar its t-interval) against what its whole run costs (``cost``, indexed
    by the same ``run`` labels), one labelled marker per method, nothing joined."""
    frame = gains.assign(cost=gains.run.map(cost))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(0, color="gray", lw=1, ls="--")
    ax.errorbar(frame.cost, frame["mean"], yerr=[frame["mean"] - frame.low, frame.high - frame["mean"]],
                fmt="o", color="black", ecolor="gray", capsize=3)
    for row in frame.itertuples():
        ax.annotate(row.run, (row.cost, row.mean), xytext=(6, 4), textcoords="offset points", fontsize=9)
    ax.set_xlabel(cost_label)
    ax.set_ylabel("paired gain over the student alone (points)")
    fig.tight_layout()
    return fig


PLAN_STATES = {"stored": "tab:green", "in progress": "tab:orange", "missing": "lightgray"}


def plan_progress(plan_rows: pd.DataFrame, hours: pd.Series):
    """A plan's projected training hours (:func:`kdsrc.results.run_hours`) per teacher-student
    pair, its teachers and its students alone on rows of their own, each bar split by whether
    the runs are stored, in progress or missing (:func:`kdsrc.reproduce.status`)."""
    groups = [f"{teacher} → {model}" if role == "distilled" else f"{role}s" if role == "teacher" else "students alone"
              for role, teacher, model in zip(plan_rows.role, plan_rows.teacher, plan_rows.model)]
    frame = plan_rows.assign(group=groups, hours=hours)
    wide = frame.pivot_table(index="group", columns="state", values="hours", aggfunc="sum", fill_value=0.0, sort=False)
    wide = wide.reindex(columns=list(PLAN_STATES), fill_value=0.0).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(wide) + 1.2))
    wide.plot.barh(stacked=True, color=list(PLAN_STATES.values()), ax=ax, width=0.75)
    ax.set_xlabel("projected training hours")
    ax.set_ylabel(None)
    ax.legend(title="runs", loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def boundary_agreement(runs: list[dict]):
    """AB's first-stage probe (:meth:`kdsrc.distillers.ab.AB.first_stage_probe`, recorded in each
    run's ``first_stage["probe"]``): the share of the student's neurons, through their connector,
    on the teacher's side of its activation boundary, per stage, before and after the first stage.
    A bar is the mean over the runs, a dot one run (its seed); nothing is joined."""
    rows = [{"stage": key.removeprefix("same_side_stage"), "when": f"{when} the first stage", "seed": run["config"]["seed"],
             "agreement": value}
            for run in runs for when in ("before", "after") for key, value in run["first_stage"]["probe"][when].items()]
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.barplot(frame, x="stage", y="agreement", hue="when", errorbar=None, alpha=0.6, ax=ax)
    sns.stripplot(frame, x="stage", y="agreement", hue="when", dodge=True, color="black", size=4, legend=False, ax=ax)
    ax.set_ylim(0, 100)
    ax.set_xlabel("stage")
    ax.set_ylabel("neurons on the teacher's side (%)")
    ax.legend(title=None, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def classifier_reading(table: pd.DataFrame, chance: float | None = None):
    """Test accuracy of each model's own classifier and of the teacher's classifier reading its
    feature (:func:`kdsrc.probes.classifier_table`, :func:`~kdsrc.probes.teacher_reading`), one
    pair of bars per model, on the full 0-100 axis, with the chance level dashed when given."""
    long = table.melt(id_vars="model", value_vars=["own classifier acc (%)", "teacher classifier acc (%)"],
                      var_name="read by", value_name="accuracy")
    long["read by"] = long["read by"].map({"own classifier acc (%)": "its own classifier",
                                           "teacher classifier acc (%)": "the teacher's classifier"})
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    sns.barplot(long, x="model", y="accuracy", hue="read by", ax=ax)
    if chance is not None:
        ax.axhline(chance, ls="--", color="gray", lw=1, label="chance")
    ax.set_ylim(0, 100)
    ax.set_xlabel(None)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(title="features read by", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plateau_curve(run: dict, fraction: float = 0.2):
    """A run's validation and test accuracy after each evaluated epoch, its learning-rate decays
    marked, and the last ``fraction`` of its epochs shaded: the stretch whose gain
    (:func:`kdsrc.results.plateau_gain`) says whether it reached its plateau."""
    rows = [{"epoch": h["epoch"], "split": split, "accuracy": h[key]} for h in run["history"]
            for key, split in (("val_acc", "validation"), ("test_acc", "test")) if h.get(key) is not None]
    epochs = len(run["history"])
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.axvspan(epochs * (1 - fraction), epochs, color="gray", alpha=0.15, label=f"last {fraction:.0%} of the epochs")
    for milestone in run["config"].get("milestones") or []:
        ax.axvline(milestone, color="gray", ls=":", lw=1)
    sns.lineplot(pd.DataFrame(rows), x="epoch", y="accuracy", hue="split", style="split", markers=True, dashes=False, ax=ax)
    ax.set_ylabel("accuracy (%)")
    ax.legend(title=None, fontsize=8, loc="lower right")
    mark_cut_axis(ax)
    fig.tight_layout()
    return fig


def relation_matrices(matrices: dict[str, torch.Tensor], labels: torch.Tensor, title: str, columns: int = 3):
    """Batch relation matrices (:func:`kdsrc.probes.relation_matrices`), one panel per model (at
    most ``columns`` a row), the images sorted by class so that blocks show which samples a
    network relates; one colour scale shared by the panels, with its colour bar labelled ``title``."""
    order = torch.argsort(labels, stable=True)
    shown = {name: m[order][:, order].numpy() for name, m in matrices.items()}
    low, high = min(m.min() for m in shown.values()), max(m.max() for m in shown.values())
    columns = min(columns, len(shown))
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns + 0.8, 3.2 * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    for ax, (name, matrix) in zip(axes.flat, shown.items()):
        ax.imshow(matrix, cmap="viridis", vmin=low, vmax=high)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"test image, sorted by class ({len(order)})", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    for row in axes:
        row[0].set_ylabel("test image, same order", fontsize=8)
    fig.colorbar(axes.flat[0].images[0], ax=axes, location="right", shrink=0.8, label=title)
    return fig


def vid_variances(variances: dict[str, torch.Tensor], initial: float):
    """VID's learned variance of each teacher channel (``softplus(log_scale) + eps``), one line per
    layer with the channels sorted from most to least certain, on a log scale; the dashed line is
    the value every variance started from. A small variance is a channel the student's features
    predict well, and so one whose transfer the loss weights most."""
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for name, values in variances.items():
        ordered = torch.sort(values.detach()).values.numpy()
        ax.plot(torch.linspace(0, 1, len(ordered)).numpy(), ordered, label=f"{name} ({len(ordered)} channels)")
    ax.axhline(initial, color="grey", linestyle="--", linewidth=1, label=f"initial variance ({initial:g})")
    ax.set_yscale("log")
    ax.set_xlabel("teacher channels, sorted (share of the layer)")
    ax.set_ylabel("learned variance σ²")
    ax.legend(fontsize=8)
    return fig


def factor_maps(factors: dict[str, torch.Tensor], image: torch.Tensor):
    """Factor transfer's compared maps (:func:`kdsrc.losses.ft_factor`, RepDistiller's form: the
    channel mean of the squared factor, normalised) for the first image of a batch, one panel per
    factor beside the image, on one shared colour scale with its colour bar."""
    shown = {name: ft_factor(factor)[0].view(factor.shape[-2:]).numpy() for name, factor in factors.items()}
    high = max(m.max() for m in shown.values())
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(2.6 * (len(shown) + 1) + 0.8, 2.8), layout="constrained")
    axes[0].imshow(image[0], cmap="gray_r")
    axes[0].set_title("image", fontsize=9)
    for ax, (name, matrix) in zip(axes[1:], shown.items()):
        ax.imshow(matrix, cmap="magma", vmin=0.0, vmax=high)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(axes[-1].images[0], ax=axes[1:], location="right", shrink=0.85, label="normalised factor map")
    return fig


def kernel_distributions(kernels: dict[str, torch.Tensor]):
    """The distribution of NST's kernel values between distinct channels
    (:func:`kdsrc.probes.channel_kernels`), one empirical cumulative distribution per model: what
    NST's MMD compares, whatever the order of the channels."""
    values = pd.concat([pd.DataFrame({"model": name, "kernel": k[~torch.eye(len(k), dtype=torch.bool)].numpy()})
                        for name, k in kernels.items()])
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    sns.ecdfplot(values, x="kernel", hue="model", ax=ax)
    ax.set_xlabel("mean (f_i · f_j)² between two distinct channels")
    ax.set_ylabel("share of channel pairs")
    ax.get_legend().set_title(None)
    return fig
