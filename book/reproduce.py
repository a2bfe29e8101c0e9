# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduce at each scale
#
# Every experiment in this book is one configuration of the same code, at one of three scales
# (*profiles*). A profile is only a set of defaults: any field can be changed by a papermill
# parameter or by `--set name=value` on the command line. This page is itself a notebook: the
# table of the profiles below is read from `kdsrc.config`, and every time and accuracy it quotes
# is computed, when it runs, from the stored runs under `results/runs/` and the stored
# benchmarks under `results/bench/`.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"  # the profile whose stored runs and benchmarks this page reports (the book's: cpu)
stored_only = False  # True: fail instead of measuring a missing benchmark (regression tests)

# %% tags=["hide-input"]
import pandas as pd

from kdsrc import bench, config, experiment, prose, results
from kdsrc.config import make_config
from kdsrc.models import build_model, count_parameters

root = experiment.use(stored_only=stored_only)

# Facts about the datasets (not settings): name, training and test images, classes, channels.
DATASETS = {"fashion_mnist": ("Fashion-MNIST", 60_000, 10_000, 10, 1), "cifar100": ("CIFAR-100", 50_000, 10_000, 100, 3)}


def images(subset, full):
    return f"{subset:,}" if subset else f"all {full:,}"


def parameters(model, dataset):
    _, _, _, classes, channels = DATASETS[dataset]
    return f"{model} ({count_parameters(build_model(model, classes, channels)) / 1e6:.2f} M)"


def views(cfg):
    """Augmented views of an image: crop positions after zero padding, times two with a flip."""
    return (2 * cfg.crop_padding + 1) ** 2 * (2 if cfg.flip else 1)


def learning_rate(cfg):
    if cfg.schedule == "cosine":
        return f"{cfg.lr:g}, cosine decay to 0 over every step"
    return f"{cfg.lr:g}, × {cfg.lr_decay:g} at epochs {', '.join(map(str, cfg.milestones))}"


def first_stage(name):
    epochs = {method: make_config(method, name).method_params["init_epochs"] for method in ("fsp", "ab")}
    return epochs["fsp"] if len(set(epochs.values())) == 1 else ", ".join(f"{m}: {e}" for m, e in epochs.items())


def profile_column(name):
    cfg = make_config("kd", name)
    teacher = cfg.teacher_config()
    data, train, test, _, _ = DATASETS[cfg.dataset]
    return {
        "data": data,
        "student training images": images(cfg.train_subset, train),
        "teacher training images": images(teacher.train_subset, train),
        "test images": images(cfg.test_subset, test),
        "teacher → student (parameters)": f"{parameters(cfg.teacher, cfg.dataset)} → {parameters(cfg.model, cfg.dataset)}",
        "student epochs": cfg.epochs,
        "first-stage epochs of FSP and AB": first_stage(name),
        "teacher epochs": teacher.epochs,
        "batch": cfg.batch_size,
        "learning rate": learning_rate(cfg),
        "SGD": f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}",
        "augmentation": f"crop after {cfg.crop_padding}-pixel zero padding{', flip' if cfg.flip else ''}: "
                        f"{views(cfg)} views an image",
        "teacher's outputs": "cached once for every view" if cfg.teacher_cache else "computed on every batch",
    }


# %% tags=["nbval-check-output"]
pd.DataFrame({f"{name}": profile_column(name) for name in config.PROFILES})

# %% tags=["remove-cell"]
# (hidden in the book) the settings the text below names, read from the profiles
cpu, paper = make_config("kd", "cpu"), make_config("kd", "paper")
model_lr = {}
for model, lr in config.MODEL_LR.items():
    model_lr.setdefault(lr, []).append(model)
prose.glue(model_lr="; ".join(f"{lr:g} for {', '.join(models)}" for lr, models in model_lr.items()),
           paper_init=make_config("fsp", "paper").method_params["init_epochs"], paper_epochs=paper.epochs,
           paper_batch=paper.batch_size, paper_pad=paper.crop_padding, paper_views=views(paper),
           cpu_init=make_config("fsp", "cpu").method_params["init_epochs"], cpu_epochs=cpu.epochs,
           cpu_subset=cpu.train_subset, cpu_per_class=cpu.train_subset // DATASETS[cpu.dataset][3],
           cpu_teacher=cpu.teacher, cpu_student=cpu.model, cpu_teacher_epochs=cpu.teacher_config().epochs,
           cpu_pad=cpu.crop_padding, cpu_views=views(cpu),
           cpu_share=make_config("fsp", "cpu").method_params["init_epochs"] / cpu.epochs,
           paper_share=make_config("fsp", "paper").method_params["init_epochs"] / paper.epochs)

# %% [markdown]
# What each profile is for:
#
# * `smoke`: continuous integration and the regression tests, seconds a run;
# * `cpu` (the default): the numbers of this book, three seeds a configuration, on a 2-core CPU;
# * `paper`: the papers' CIFAR-100 tables on a GPU, from a torchvision root you provide, with
#   RepDistiller's recipe. Its resnet56 → resnet20 is only the default pair: any RepDistiller
#   pair is one `--set` away, and chapter 13 plans the thirteen of the CRD tables. MobileNetV2
#   and the ShuffleNets train at their own learning rate, as in RepDistiller
#   ({glue:text}`model_lr`), as student or as teacher.
#
# ## Why the `cpu` profile looks the way it does

# %% tags=["remove-cell"]
# (hidden in the book) the stored runs of this profile and what their training took
stored = [results.read_run(path) for path in sorted((root / "runs" / profile).glob("*/*.json"))]
times = results.training_times(stored).merge(results.to_frame(stored)[["run_id", "last_acc"]], on="run_id")
own = make_config("kd", profile)
book_teacher_id = own.teacher_config().run_id()
full_train = DATASETS[own.dataset][1]
times["train_images"] = times.train_subset.fillna(full_train)
times["img_s"] = times.train_images / times.sec_per_epoch
alone = times[(times.role == "student") & (times.method == "vanilla")]
book_teacher = times[times.run_id == book_teacher_id].iloc[0]
resnet20 = times[(times.role == "teacher") & (times.model == "resnet20")]
machine = times.machine.mode().iloc[0]

pairs = results.stored_bench("paper", "pairs", root)
students = {}
for pair in pairs["pairs"] if pairs else ():
    students.setdefault(pair["student"], pair["ours"]["student_img_s"])

prose.glue(profile=profile, machine=machine, cores=int(times.cores.mode().iloc[0]),
           alone_epoch_lo=alone.sec_per_epoch.min(), alone_epoch_hi=alone.sec_per_epoch.max(),
           alone_img_lo=alone.img_s.min(), alone_img_hi=alone.img_s.max(),
           alone_images=int(alone.train_images.iloc[0]), eval_s=alone.other_sec_per_epoch.mean(),
           test_images=DATASETS[own.dataset][2] if own.test_subset is None else own.test_subset,
           teacher_model=book_teacher.model, teacher_images=int(book_teacher.train_images),
           teacher_fastest=book_teacher.fastest_epoch_s, teacher_mean=book_teacher.sec_per_epoch,
           teacher_img_s=book_teacher.train_images / book_teacher.fastest_epoch_s,
           r20_ratio=(resnet20.fastest_epoch_s.min() / book_teacher.fastest_epoch_s) if len(resnet20) else float("nan"),
           r8x4_ratio=students.get("resnet20", float("nan")) / students.get("resnet8x4", float("nan")),
           teacher_acc=book_teacher.last_acc, alone_acc=alone.last_acc.mean(), alone_std=alone.last_acc.std(),
           gap=book_teacher.last_acc - alone.last_acc.mean(),
           pilot_factor=10_000 * 20 / (cpu.train_subset * cpu.epochs), pilot_teacher_factor=12 / cpu.teacher_config().epochs)

# %% [markdown]
# The book must rebuild on a laptop-class machine: we budgeted the whole book at two hours of
# training on a 2-core CPU, and the two chapters of Part I at about twenty minutes. The stored
# runs of the {glue:text}`profile` profile record the machine they trained on:
# {glue:text}`machine`, {glue:text}`cores` cores. What they measured there:
#
# * the smallest RepDistiller ResNet, **{glue:text}`cpu_student`**, trains alone at
#   {glue:text}`alone_img_lo:.0f` to {glue:text}`alone_img_hi:.0f` images per second (a
#   {glue:text}`alone_images:,`-image epoch in {glue:text}`alone_epoch_lo:.1f` to
#   {glue:text}`alone_epoch_hi:.1f` s, the mean of each run), and evaluating it on the
#   {glue:text}`test_images:,` test images after every epoch adds {glue:text}`eval_s:.1f` s an
#   epoch;
# * the teacher, **{glue:text}`teacher_model`**, took {glue:text}`teacher_fastest:.0f` s for its
#   fastest epoch of all {glue:text}`teacher_images:,` images ({glue:text}`teacher_img_s:.0f`
#   images per second) and {glue:text}`teacher_mean:.0f` s an epoch on average; the fastest
#   epoch of the resnet20 teacher of chapter 11 took {glue:text}`r20_ratio:.2f` times as long as
#   that; and on CIFAR-size images the pairs benchmark of chapter 13 trains resnet8x4 (the
#   student of the CRD benchmark's resnet32x4 pair) {glue:text}`r8x4_ratio:.1f` times slower
#   than resnet20.
#
# So the student is {glue:text}`cpu_student` and the teacher {glue:text}`cpu_teacher`, trained
# **once** for {glue:text}`cpu_teacher_epochs` epochs on every training image (it reaches
# {glue:text}`teacher_acc:.2f` % test accuracy) and shared by every student. The student learns
# from a **{glue:text}`cpu_subset:,`-image class-balanced subset** ({glue:text}`cpu_per_class`
# per class, the same images for every seed) for {glue:text}`cpu_epochs` epochs: with so little
# data and time the student alone stays {glue:text}`gap:.2f` points below the teacher (it
# reaches {glue:text}`alone_acc:.2f` %, with a sample standard deviation of
# {glue:text}`alone_std:.2f` points over seeds), which leaves distillation room to show an
# effect well beyond the spread between seeds.
#
# A larger setting was considered first: a 10 000-image subset, 20 student epochs and a
# resnet20 teacher trained for 12 epochs. That is {glue:text}`pilot_factor:.0f` times the image-epochs
# of every student run and {glue:text}`pilot_teacher_factor:.0f` times the teacher's epochs, of a
# slower network: several times the budget on our machine. So we halved the subset and the
# epochs and used a smaller teacher trained for fewer epochs. The price: the students are
# under-trained rather than over-fitted, so part of what KD buys here is a better training
# signal within a fixed, short budget; longer schedules would probably shrink the gain. The
# `paper` profile is where the papers' own setting is reproduced.
#
# Augmentation is a random crop after {glue:text}`cpu_pad`-pixel zero padding and a horizontal
# flip, applied batched on tensors. Each image therefore has {glue:text}`cpu_views` possible
# views; the frozen teacher's logits for all of them are computed once (`kdsrc.teachers.logit_cache`)
# and looked up during distillation. The `paper` profile pads by {glue:text}`paper_pad` pixels,
# which makes {glue:text}`paper_views` views an image: too many to cache, so there the teacher
# runs on every batch.
#
# ## What the book's training costs
#
# Every stored run records the wall time of the session that trained it (training and the
# evaluation after every epoch) and its seconds per training epoch. Summed per part of the book,
# with the teachers apart from the students (a teacher is a run that another run distils from,
# alone or as a member of an ensemble):

# %% tags=["hide-input", "nbval-check-output"]
PARTS = {"vanilla": "Part I (chapters 1-2)", "kd": "Part I (chapters 1-2)",
         **dict.fromkeys(("fitnets", "at", "fsp", "ab"), "Part II (chapters 3-7)"),
         **dict.fromkeys(("srrl", "dhkd", "ce_binary_kl"), "Part III (chapters 8-9)")}
CLOSING = "Closing (chapter 11)"
ORDER = [*dict.fromkeys(PARTS.values()), CLOSING, "other"]


def part(run):
    """The part of the book that trains a run: the book's teacher belongs to Part I, every other
    teacher to chapter 11, as does KD from another teacher, from an ensemble or on mixed images."""
    if run.role == "teacher":
        return PARTS["vanilla"] if run.run_id == book_teacher_id else CLOSING
    if run.method == "kd" and (run.teacher != own.teacher or run.teacher_ensemble > 1 or run.mixing != "none"):
        return CLOSING
    return PARTS.get(run.method, "other")


def label(run):
    if run.role == "teacher":
        return f"teacher {run.model}"
    return "student alone" if run.method == "vanilla" else run.method


times["part"] = times.apply(part, axis=1)
times["runs of"] = times.apply(label, axis=1)
rank = {name: k for k, name in enumerate([*ORDER, "teacher", "student", *PARTS])}
times = times.sort_values(["part", "role", "method", "model"], kind="stable",
                          key=lambda column: column.map(lambda v: (rank.get(v, len(rank)), v)))
by_part = results.training_time_table(times, ["part", "role"])
per_part = by_part.pivot_table(index="part", columns="role", values=["runs", "minutes in all"], sort=False, fill_value=0)
per_part.columns = [f"{role} {what}" for what, role in per_part.columns]
per_part = per_part[["teacher runs", "teacher minutes in all", "student runs", "student minutes in all"]]
per_part["minutes in all"] = per_part.filter(like="minutes").sum(axis=1)
per_part.loc["the whole book"] = per_part.sum()
per_part.astype({"teacher runs": int, "student runs": int}).round(1)

# %% tags=["remove-cell"]
# (hidden in the book) the totals the text names
teacher_cache = bench.teacher_cache_cost(profile)
minutes = per_part["minutes in all"]
prose.glue(total_hours=minutes["the whole book"] / 60, part1_minutes=minutes[PARTS["vanilla"]],
           part2_minutes=minutes[PARTS["fitnets"]], part3_minutes=minutes[PARTS["srrl"]],
           closing_minutes=minutes[CLOSING], teacher_minutes=book_teacher.wall_s / 60,
           cache_seconds=teacher_cache["cache_build_seconds"])

# %% [markdown]
# In all, the stored runs trained for {glue:text}`total_hours:.2f` hours, against the two we
# budgeted; Part I for {glue:text}`part1_minutes:.0f` minutes, of which the teacher took
# {glue:text}`teacher_minutes:.1f` minutes. Starting a process, loading the data and building the
# teachers' logit caches come on top (the teacher-cache benchmark of chapter 12 built the book
# teacher's cache in {glue:text}`cache_seconds:.0f` s), as do the benchmarks of chapters 7 and 12
# (`python -m kdsrc bench costs` and `bench teacher-cache`), whose results are stored under
# `results/bench/` and read, not measured, when the book builds. Per method, the mean wall time
# of a run and the spread of its runs' seconds per training epoch:

# %% tags=["hide-input", "nbval-check-output"]
results.show(results.training_time_table(times, ["part", "runs of"]))

# %% [markdown]
# What sets those costs:
#
# * **Part I** ({glue:text}`part1_minutes:.0f` minutes) trains the teacher once and, from it,
#   the student alone and KD with its temperature and weight sweeps. KD reads the teacher's
#   cached logits, so a KD epoch costs about as much as an epoch of the student alone.
# * **Part II** ({glue:text}`part2_minutes:.0f` minutes) adds the feature-based methods, which
#   cannot use the logit cache: the teacher runs on every batch to give its hidden features, as
#   the FitNets and attention-transfer rows show. FSP and activation boundaries (AB) first train
#   the student's feature layers for **{glue:text}`cpu_init` epochs** on their own loss, with the
#   teacher on every batch (the first-stage column). RepDistiller uses
#   {glue:text}`paper_init` such epochs before its {glue:text}`paper_epochs` main ones; we keep a
#   similar share of the main training ({glue:text}`cpu_share:.0%` against
#   {glue:text}`paper_share:.1%`). Their main stage is then as cheap as the student alone: FSP's is
#   cross-entropy, AB's reads the logit cache or, in RepDistiller's form, needs no teacher. The
#   runs include the layer-selection ablation of chapter 7 (FitNets at stages 1 and 3, attention
#   transfer on the last stage only) and the AB chapter's RepDistiller variant.
# * **Part III** ({glue:text}`part3_minutes:.0f` minutes) trains SRRL and its two one-loss
#   variants (the teacher runs on every batch for its last feature map); DHKD with its linear
#   head, its nonlinear head, and the nonlinear head with gradient alignment (DHKD reads the logit
#   cache; gradient alignment adds a second backward pass); the single-head CE + BinaryKL, whose
#   runs measure the two losses' gradients separately (a second backward pass too); and five
#   one-seed probes of what could make the single head collapse (a larger loss weight with one
#   head and with two, a lower learning rate, a higher temperature, 15 epochs instead of 10). The
#   budget is why only the loss-weight probe has a two-head control and why each probe has one
#   seed.
# * **Chapter 11** ({glue:text}`closing_minutes:.0f` minutes, against the half hour we set for
#   it: the chapter says which configurations a reader short of time can leave out) trains its
#   teachers with the book's teacher recipe (four resnet8 networks with seeds 0 to 3, the
#   members of the ensembles, and a resnet20 for the capacity gap) and its students: KD from one
#   resnet8 and from ensembles of two and four, their logits or their probabilities averaged (an
#   ensemble reads its members' cached logits); KD from the book's teacher with mixup and with
#   CutMix (the teacher runs on every mixed batch); and KD from the resnet20 teacher on every
#   batch (for three runs we did not build its cache). Chapters 10 and 12 train nothing.
#
# Outside chapter 11 the teacher is the same for every run: a run that changes the student's learning
# rate, schedule, batch or epochs still distils from the profile's teacher (a teacher always
# trains with its profile's recipe).
#
# ## Commands
#
# Build the book from the stored runs (and train whatever is missing):
#
# ```bash
# make book                 # default profile: cpu
# make book PROFILE=smoke   # the whole book at the smoke scale
# ```
#
# Execute one chapter with papermill at any scale:
#
# ```bash
# .venv/bin/papermill notebooks/02_vanilla_kd.ipynb out.ipynb -p profile smoke -p seeds 1
# .venv/bin/papermill notebooks/02_vanilla_kd.ipynb out.ipynb -p profile cpu -p seeds 5
# .venv/bin/papermill notebooks/02_vanilla_kd.ipynb out.ipynb -p fresh_results True   # retrain in a scratch folder
# ```
#
# Train single runs from the command line (a stored run with the same configuration is returned
# immediately; an interrupted run resumes from its last checkpoint):
#
# ```bash
# .venv/bin/python -m kdsrc train --method kd --profile cpu --seed 3
# .venv/bin/python -m kdsrc train --method kd --profile paper --set data_root=/data/cifar --device cuda
# ```
#
# For the `paper` profile, `data_root` is a torchvision root that holds `cifar-100-python/` (the
# archive torchvision downloads; our machines have no internet, so the book does not fetch it).
#
# Instead of training the teacher for the full schedule, a run can distil from a teacher that
# RepDistiller or mdistiller trained: point `teacher_checkpoint` at the file and name its
# architecture as `teacher` (the zoo uses RepDistiller's model names):
#
# ```bash
# .venv/bin/python -m kdsrc train --method kd --profile paper --set data_root=/data/cifar --device cuda \
#     --set teacher=resnet32x4 --set model=resnet8x4 \
#     --set teacher_checkpoint=save/models/resnet32x4_vanilla/ckpt_epoch_240.pth
# ```

# %% tags=["remove-cell"]
# (hidden in the book) a teacher accuracy that RepDistiller reports, cited data
crd = results.crd_reference()
cited_teacher = crd[(crd.method == "teacher") & (crd.teacher == "resnet32x4")].value.iloc[0]
prose.glue(cited_teacher=cited_teacher)

# %% [markdown]
# Such a file is RepDistiller's `save/models/<teacher>_vanilla/ckpt_epoch_240.pth` (mdistiller's
# `cifar_teachers.tar` holds the same files), a `{'model': state_dict, ...}` dictionary read with
# `weights_only=True`; RepDistiller's `<teacher>_last.pth` also pickles its command-line options
# and is refused. Our models have the same tensors in the same order as RepDistiller's under other
# names, so `kdsrc.checkpoints.import_checkpoint` pairs them in order once their kinds and shapes agree
# one by one; a file of another architecture, or of another number of classes, stops the run with
# an error that says what differs and which model of the zoo the file fits. We measure the
# teacher's test accuracy once, before the student trains (to compare with what RepDistiller reports
# for its teachers, {glue:text}`cited_teacher:.2f` % for resnet32x4 for example, as cited in
# `results/reference/kd.csv`), and the run is identified by the file's sha256, not by its path:
# the same file elsewhere is the same run, a changed file a new one.
#
# Every teacher a run uses, trained or imported, is recorded in
# `results/teachers/<profile>/manifest.json`: its model, its source (`run:<run id>` or the
# checkpoint's path), the sha256 of its weights file, its last and best test accuracy, its epochs
# and seed when we trained it, the code version and the date. `kdsrc.teachers.manifest(profile)`
# reads it as a table.
#
# ## Reproducing the CRD tables
#
# The thirteen teacher-student pairs of the CRD paper's CIFAR-100 Tables 1 and 2, every method of
# the book and the student alone, three seeds, every teacher trained first: chapter 13 plans these
# runs, and executing it with training switched on trains whatever is not stored yet (a GPU is
# expected; every run is cached and resumes after an interruption):
#
# ```bash
# make reproduce DATA_ROOT=/data/cifar                                  # everything
# make reproduce DATA_ROOT=/data/cifar PAIRS=table1 METHODS=vanilla,kd SEEDS=3
# .venv/bin/papermill notebooks/13_reproducing_the_tables.ipynb out.ipynb \
#     -p train True -p data_root /data/cifar -p pairs table2 -p seeds 3    # what make reproduce runs
# .venv/bin/python -m kdsrc reproduce --data-root /data/cifar --dry-run    # the plan and what is stored
# .venv/bin/python -m kdsrc reproduce --data-root /data/cifar --pairs resnet32x4:resnet8x4 --methods vanilla,kd
# ```
#
# `PAIRS` (and `--pairs`) takes `table1`, `table2`, `all` or `teacher:student` items,
# comma-separated; `METHODS` takes `all` or method names (`vanilla` is the student alone). The
# chapter lists the combinations it leaves out and why, the measured epoch times and the projected
# hours per table (from a stored benchmark, `results/bench/paper/pairs.json`), and a table of the
# stored runs beside the CRD paper's numbers, with last- and best-epoch accuracy. `make book`
# renders the chapter from the stored runs and never trains them.
#
# ## How a training step computes
#
# Every profile trains through the same loop, built for speed on a GPU and used as it helps on a
# CPU. The training images stay on the device as uint8 and are cropped, flipped and normalised
# there a whole batch at a time; model and batches are channels-last (`channels_last`); the frozen
# teacher runs under `inference_mode`; losses and accuracy are summed on the device and read once
# an epoch, so no step waits for the host. Two fields choose the arithmetic:
#
# * `precision`: `fp32`, `bf16` or `auto`. The `paper` profile trains in fp32, as RepDistiller
#   did, with PyTorch's defaults (which let cuDNN run convolutions in TF32 on Ampere and later
#   GPUs): a reproduction of the fp32 tables never runs in bfloat16 unless asked to
#   (`--set precision=bf16`, a speed option). The `smoke` and `cpu` profiles use `auto`: bfloat16
#   autocast on a CUDA GPU that supports it, fp32 elsewhere. Under autocast the convolutions and
#   linear layers run in bf16 while every loss of `kdsrc.losses` computes in fp32 and the weights,
#   gradients and optimizer state stay fp32. On the AVX2 CPU of our runs, bf16 autocast made a
#   training step much *slower* than fp32 for resnet8 and resnet8x4 (a quick timing of single
#   steps, not a stored benchmark), so `auto` never picks it on a CPU; a CPU with AVX-512 BF16 or
#   AMX may gain from `--set precision=bf16`.
# * `compile`: `True` compiles the step's forward pass with `torch.compile` (off by default: the
#   first epoch pays the compilation).
#
# The tests train the same seed on the plain path (fp32, NCHW, eager) and on each variant
# (channels-last alone, compilation alone, bf16 autocast) and require the training loss and the
# test accuracy to agree; the tolerances, and the measurements they were chosen from, are in
# `tests/unit/test_fast_path.py`. Stored runs record the precision, memory format and compilation
# they trained with (`numerics`); the run id changes only when `precision` or `compile` is set to
# something other than its default.

# %% tags=["remove-cell"]
# (hidden in the book) our loop against RepDistiller's, from the stored benchmark
comparison = results.stored_bench("paper", "reference_loop", root)
paper_pair, cpu_pair = comparison["paper_pair"], comparison["cpu_pair"]
prose.glue(loop_machine=results.measured_on(comparison), loop_device=comparison["device"],
           loop_threads=comparison["hardware"]["torch_threads"],
           loop_paper_pair=f"{paper_pair['teacher']} → {paper_pair['student']}",
           loop_cpu_pair=f"{cpu_pair['teacher']} → {cpu_pair['student']}",
           loop_paper=paper_pair["ratio"], loop_cpu=cpu_pair["ratio"], loop_cached=cpu_pair["ratio_cached"])

# %% [markdown]
# `python -m kdsrc bench` times this loop against one built the way RepDistiller's is (each image
# decoded to a PIL image and augmented in DataLoader worker processes, fp32, the teacher on every
# batch, the loss and accuracy read back after every step), on the same networks and images, and
# stores the result in `results/bench/paper/reference_loop.json`; chapter 13 shows it. The stored
# comparison ran on {glue:text}`loop_machine` ({glue:text}`loop_device`,
# {glue:text}`loop_threads` threads): there our loop trained {glue:text}`loop_paper:.2f` times as
# many images a second as RepDistiller's for {glue:text}`loop_paper_pair` on CIFAR-size images,
# and {glue:text}`loop_cpu:.2f` times as many for the book's {glue:text}`loop_cpu_pair` pair
# ({glue:text}`loop_cached:.2f` times with the teacher's cached logits). On a few CPU cores the
# step's arithmetic, not the input pipeline, takes most of the time; on a GPU the input pipeline
# and host synchronisation matter far more, and `.ci/gpu-check` runs there the tests that need a
# GPU and both benchmarks.
#
# ## Across machines
#
# A run is bit-identical when it is trained again on the same machine with the same settings (a
# test checks it), but only close on another: a different vector unit (AVX2, AVX-512, ARM's NEON)
# or another number of threads sums in another order, and training turns those last bits into a
# different trajectory. `python -m kdsrc retrain --method M --seed S --label NAME` trains a stored
# run again under the current machine's settings (its teacher's stored weights are reused) and
# stores the result beside it under `results/machines/`. Each stored retraining, against its
# stored run and the spread of the stored seeds of the same configuration:

# %% tags=["remove-cell"]
# (hidden in the book) the stored retrainings, what the stored runs record of their numerics, and
# how far the smoke runs moved between kernel settings (tests/notebooks/smoke_spread.json)
import json

from kdsrc import machines, store

moved = machines.spread(profile, root)
stored_runs = [results.read_run(p) for p in sorted((root / "runs" / profile).glob("*/*.json"))]
largest = moved.loc[moved["last acc difference"].abs().idxmax()]
smoke = json.loads((store.REPO_RESULTS.parent / "tests" / "notebooks" / "smoke_spread.json").read_text())["largest"]
prose.glue(retrainings=len(moved), identical_retrainings=int(moved["identical history"].sum()),
           identical_settings=", ".join(moved[moved["identical history"]]["setting"]),
           move_vs_spread="less" if abs(largest["last acc difference"]) < largest["seed std of last acc"] else "more",
           largest_move=abs(largest["last acc difference"]), largest_move_setting=largest["setting"],
           largest_move_run=f"{largest['method']} seed {largest['seed']}",
           largest_move_seed_std=largest["seed std of last acc"],
           largest_move_in_stds=abs(largest["last acc difference"]) / largest["seed std of last acc"],
           stored_total=len(stored_runs), stored_with_numerics=sum("numerics" in run for run in stored_runs),
           stored_with_kernels=sum("cpu_capability" in run["hardware"] for run in stored_runs),
           smoke_run_move=smoke["accuracy"]["value"], smoke_chapter_move=smoke["chapter_accuracy"]["value"],
           smoke_kd_move=smoke["first_epoch_loss:kd:kd"]["value"])

# %% tags=["nbval-check-output"]
moved[["method", "seed", "setting", "stored on", "retrained on", "stored last acc", "retrained last acc",
       "last acc difference", "seed std of last acc", "seeds", "identical history"]].round(2)

# %% [markdown]
# {glue:text}`identical_retrainings` of the {glue:text}`retrainings` retrainings reproduce their
# stored run exactly, epoch by epoch ({glue:text}`identical_settings`): the kernels and threads of the
# machine the stored runs trained on, whose record names only the CPU. The largest move,
# {glue:text}`largest_move:.2f` points of last-epoch accuracy ({glue:text}`largest_move_run`,
# setting {glue:text}`largest_move_setting`), is {glue:text}`largest_move_in_stds:.1f` times the
# standard deviation over the stored seeds ({glue:text}`largest_move_seed_std:.2f`): in these
# retrainings, other kernels moved a run by {glue:text}`move_vs_spread` than a change of seed
# does. A result of this book is worth reading only where it is larger than the seed spread, and
# then it holds on other machines too; a difference within the spread may reverse on yours.
#
# The test suite follows from this. What no machine changes is compared exactly: the chapters
# rebuilt from the stored runs, their loss cells (each chapter evaluates its loss on fixed inputs,
# `kdsrc.examples`), plans and cited tables. What comes from training (every chapter retrained at
# the `smoke` profile, the fast-path equivalence) is compared with stored references within bands
# chosen from the largest differences measured between CPU kernels and thread counts, written in
# `tests/test_smoke_chapters.py` and `tests/unit/test_fast_path.py` beside the measurements. The
# smoke runs, a few dozen SGD steps each, are far more chaotic than the book's: between two kernel
# settings one of them moved by {glue:text}`smoke_run_move:.1f` points of test accuracy and a
# chapter's mean by {glue:text}`smoke_chapter_move:.1f`, so those bands only catch a broken run;
# the first epoch's losses moved least (KD's distillation term by
# {glue:text}`smoke_kd_move:.1%`), and their bands are what catches a changed loss there.
# Continuous integration runs the whole suite, then the training-dependent part again with one
# thread, ATen's plain kernels and oneDNN capped at SSE4.1 (`.ci/run`).
#
# What the stored runs record of this: {glue:text}`stored_with_numerics` of the
# {glue:text}`stored_total` runs stored for this profile record their `numerics` (precision,
# memory format, compilation) and {glue:text}`stored_with_kernels` the CPU kernels they ran on
# (`hardware.cpu_capability` and the settings that cap it); the runs stored before those fields
# existed trained in fp32, eagerly, with the memory format their configuration names
# (`channels_last`), on the CPU their `hardware` names, with ATen's default choice of kernels for
# it.
#
# ## Several GPUs
#
# On a machine with several GPUs, `torchrun` starts one process per GPU and `train` and
# `reproduce` train each run on all of them with PyTorch's DistributedDataParallel:
#
# ```bash
# .venv/bin/torchrun --standalone --nproc_per_node 4 -m kdsrc train --method kd --profile paper \
#     --set data_root=/data/cifar
# .venv/bin/torchrun --standalone --nproc_per_node 4 -m kdsrc reproduce --data-root /data/cifar --pairs table1
# ```
#
# Process `k` trains on `cuda:k` and the processes exchange gradients over NCCL; on CPUs
# (`--device cpu`) they use gloo. The recipe does not change with the number of GPUs: every
# process draws the same global batch of `batch_size` augmented images ({glue:text}`paper_batch`
# at the `paper` profile), trains on its contiguous share of it and the gradients are averaged, so
# an update is the one-process mean over the global batch (shares of unequal size, as in a last
# batch, are weighted by their size). Learning rate, schedule, epochs, run id and stored result are
# those of a one-process run, and an interrupted run resumes with any number of processes. What
# differs is BatchNorm: each process normalises by the statistics of its own share (there is no
# SyncBatchNorm) and the running statistics kept are process 0's, so results match a one-process
# run within seed-to-seed noise, not exactly: `tests/unit/test_distributed.py` states the
# differences it measured at the smoke scale on two CPU processes and the tolerances it checks.
# Without BatchNorm the two agree to rounding. Test accuracy is counted by all processes on shares
# of the test set and summed, so every process keeps the same history.
#
# Process 0 alone prints and writes the results, weights, checkpoints, logit caches and the
# teacher manifest; the others wait for it where they read what it wrote (a teacher trained first,
# a logit cache). Methods whose backward pass back-propagates each loss on its own
# (`measure_gradients`, DHKD's `grad_align`) are refused under `torchrun`; `bench` measures one
# process and is refused too. A run trained on several processes records
# `"distributed": {"world_size": N, "backend": "nccl"}`.
#
# ## What a stored run holds
#
# One JSON file per run under `results/runs/<profile>/<method>/`: the full configuration and its
# hash, the seed, the git commit of the code and whether `kdsrc` had uncommitted changes, the
# library versions, the hardware (CPU model, cores, threads, GPU), the per-epoch learning rate,
# training losses, training and test accuracy and training seconds, the last and best test
# accuracy and the best epoch, the mean training seconds per epoch, the wall time of the session
# that trained it, the trainable parameters beyond the student's own (connectors, regressors), a
# two-stage method's first stage with its own history, and the peak memory (the peak allocated
# memory on a GPU; on a CPU the process's peak resident memory during training, beside the memory
# it held when training started. Runs stored before chapter 5 record the process's peak since it
# started instead, which includes the data and any teacher trained in the same process; compare
# memory across methods with the benchmark of chapter 7). Vanilla runs keep their final weights
# beside the JSON (`.pt`, loaded with `weights_only=True`) so that any of them can serve as a
# teacher.
