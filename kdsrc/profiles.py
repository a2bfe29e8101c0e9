"""The profiles as data: each a set of run-field defaults, and the recipe a profile's teachers
train with. A method's own per-profile values live in its file (``profile_defaults``)."""
from typing import Any

from . import retraining

PROFILES: dict[str, dict[str, Any]] = {
    # CI and nbval: seconds a run on 2 cores. One run per teacher, so no logit cache.
    "smoke": dict(dataset="fashion_mnist", train_subset=1000, test_subset=500, epochs=3, batch_size=64,
                  model="resnet8", teacher="resnet14", teacher_epochs=3, teacher_train_subset=2000,
                  teacher_cache=False),
    # The published book (book/reproduce.py says why): the teacher trained once on all 60k
    # Fashion-MNIST images, the student on a 5k class-balanced subset, the full 10k test set.
    "cpu": dict(dataset="fashion_mnist", train_subset=5000, epochs=10, model="resnet8",
                teacher="resnet14", teacher_epochs=3, teacher_train_subset=None),
    # RepDistiller's CIFAR-100 recipe (CRD paper, Tian et al. 2020): 240 epochs, batch 64,
    # lr 0.05 decayed x0.1 at 150/180/210, SGD momentum 0.9, weight decay 5e-4, crop pad 4 + flip,
    # in fp32 as RepDistiller trained (PyTorch's defaults: TF32 convolutions on Ampere and later;
    # bf16 autocast is an opt-in speed option, ``precision="bf16"``). No teacher-logit cache by
    # default: with pad 4 and flip an image has 162 views, 3.2 GB of float32 logits and 162 teacher
    # epochs to fill, worth it only when many runs share it; the reproduce plan turns it on for the
    # methods that read only the teacher's logits (kdsrc.reproduce.plan).
    "paper": dict(dataset="cifar100", epochs=240, batch_size=64, lr=0.05, schedule="step",
                  milestones=(150, 180, 210), lr_decay=0.1, crop_padding=4, flip=True, precision="fp32",
                  model="resnet20", teacher="resnet56", teacher_epochs=240, teacher_cache=False),
}

# What a teacher trains with: always its profile's values, never the student's overrides (the
# student's speed settings, such as reading the teacher's outputs from a cache, included).
TEACHER_RECIPE = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "milestones", "lr_decay",
                  "crop_padding", "flip", "mixing", "mixing_alpha", "channels_last", "precision", "compile",
                  "teacher_cache", "teacher_cache_dtype")

# A profile's teacher schedule where it is not its students': the schedule and milestones at the
# profile's ``teacher_epochs`` (scaled as ``RunConfig.teacher_config`` says when a run sets other
# ``teacher_epochs``). A step schedule whose last decay comes before the last fifth of training
# ends on a flat stretch, which is what "trained to its plateau" can be measured on.
TEACHER_SCHEDULES: dict[str, dict[str, Any]] = {}

if retraining.ACTIVE:  # the cpu profile of the next training revision, while it trains
    PROFILES["cpu"] = retraining.CPU_PROFILE
    TEACHER_SCHEDULES["cpu"] = retraining.CPU_TEACHER_SCHEDULE

# Base learning rates of the models RepDistiller trains at 0.01 instead of the profile's lr, as
# student (train_student.py) or teacher (train_teacher.py): MobileNetV2 and the ShuffleNets. An
# explicit ``lr`` override still wins for a student; a teacher always gets its model's lr.
MODEL_LR = {"MobileNetV2": 0.01, "ShuffleV1": 0.01, "ShuffleV2": 0.01}
