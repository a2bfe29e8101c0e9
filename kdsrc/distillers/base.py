"""The distiller base: a trainable student beside a frozen teacher (mdistiller's pattern)."""
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..engine.stage import Stage, Step
from ..models.features import Features
from ..validate import ConfigError


@dataclass(frozen=True)
class DataSummary:
    """What a distiller's constructor knows of the data: the number of training images (a memory
    bank's size), of classes, ``example``, two normalised training images for sizing connectors
    from the networks' feature shapes, and ``train_labels``, the training images' labels (whom a
    contrastive method may draw as negatives), when known."""

    train_images: int
    num_classes: int
    example: torch.Tensor
    train_labels: torch.Tensor | None = None


def _usable(value):
    """An ``inference_mode`` output as an ordinary tensor (or list of them) that a loss may save
    for its backward pass; inference tensors may not be saved."""
    if isinstance(value, list):
        return [_usable(v) for v in value]
    return value.clone()


def feature_modules(model: nn.Module) -> list[nn.Module]:
    """The modules a two-stage method's first stage trains: the stem and the stages, as
    RepDistiller's ``get_feat_modules`` lists them. Layers after the last stage (MobileNetV2's and
    ShuffleV2's 1x1 head, WRN's final BN) feed only the classifier and are left out, as there."""
    return list(model.stage_modules())


# The multiples of a method's official values its validation tuning tries (:mod:`kdsrc.studies`):
# every method gets the same grid, over its main loss weight(s) and its temperature where it has one.
WEIGHT_SCALES = (0.25, 1.0, 4.0)
TEMPERATURE_SCALES = (0.5, 1.0, 2.0)
LENGTH_SCALES = (0.5, 1.0, 2.0)  # a first stage's epochs, for a method whose first stage has no weight
# DKD's and ReviewKD's warm-up: their loss weight grows linearly over 20 of their 240 epochs.
WARMUP_SHARE = 20 / 240


def linear_warmup(step: Step | None, share: float, first_epoch: int) -> float:
    """The factor ``min(epoch / (share * epochs), 1)`` on a loss whose weight warms up over ``share``
    of the stage, epochs numbered from ``first_epoch`` (mdistiller counts from 1, so its first
    epoch already has 1/20; ReviewKD's own code from 0); 1 outside training (``step`` None) or
    when ``share`` is 0."""
    if step is None or share == 0:
        return 1.0
    return min((step.epoch + first_epoch) / (share * step.epochs), 1.0)


class Distiller(nn.Module):
    """Holds the student, an optional frozen teacher and any extra trainable modules.

    Subclasses take ``(student, teacher, config, data)``, where ``data`` is the
    :class:`DataSummary` (built by :func:`kdsrc.distillers.build`), and implement
    ``forward_train(x, y, step) -> (student_logits, {name: loss})``; the trainer sums the dict.
    ``step`` is the trainer's :class:`~kdsrc.engine.stage.Step` (epoch, progress, the batch's
    dataset indices and view-cache rows, the seeded generator); None outside training.

    What a method is, declared on its class and checked generically (:mod:`kdsrc.config`,
    :func:`kdsrc.distillers.build`):

    - ``Config``: its parameters (a frozen dataclass whose defaults are the paper recipe's);
      ``profile_defaults``: the values a profile sets apart from those, per profile;
      ``unhashed_defaults``: parameters added after runs were stored, hashed only when set to
      something else, so those runs keep their ids;
    - ``needs_teacher``; ``reads_only_teacher_logits`` (its losses see the teacher only through
      :meth:`teacher_logits`, so a view cache may serve them); ``needs_hard_labels`` (it refuses
      mixed, soft labels); :attr:`separate_backward` (a setting that makes it train in one
      process only);
    - :meth:`batch_limit`: the largest batch it allows with given parameters, and why (None: any);
    - ``pair_requirement``: what it needs of a teacher-student pair, in words, where it cannot
      pair every one (shown where a plan skips a pair);
    - ``tuning``: what validation tuning varies, as multiples of the profile's values: a parameter
      (or a tuple of parameters scaled together) to its scales; the grid is their product.
    """

    Config: ClassVar[type]
    profile_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    unhashed_defaults: ClassVar[dict[str, Any]] = {}
    needs_teacher: ClassVar[bool] = False
    reads_only_teacher_logits: ClassVar[bool] = False
    needs_hard_labels: ClassVar[bool] = False
    pair_requirement: ClassVar[str | None] = None
    tuning: ClassVar[dict[str | tuple[str, ...], tuple[float, ...]]] = {}

    @classmethod
    def batch_limit(cls, config) -> tuple[int, str] | None:
        """The largest batch the method allows with ``config`` (its ``Config``), and why; None
        when any batch is allowed."""
        return None

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None, config=None,
                 data: DataSummary | None = None):
        super().__init__()
        if self.needs_teacher and teacher is None:
            raise ConfigError(f"teacher: method {type(self).__name__} needs a teacher model")
        self.student = student
        self.teacher = teacher
        self.config = self.Config() if config is None else config
        self.data = data
        self.logit_cache: torch.Tensor | None = None  # (images * views) x classes
        if teacher is not None:
            teacher.requires_grad_(False)
            teacher.eval()

    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # BN statistics of the teacher never move
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.student(x)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """State of everything but the teacher: what a checkpoint must hold."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("teacher.")}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("teacher.")]
        if missing or unexpected:
            raise ValueError(f"checkpoint: does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for _, p in self.named_trainable_parameters()]

    def extra_parameter_count(self) -> int:
        """Trainable parameters beyond the student's own (connectors, regressors, heads)."""
        student = sum(p.numel() for p in self.student.parameters() if p.requires_grad)
        return sum(p.numel() for p in self.trainable_parameters()) - student

    def teacher_features(self, x: torch.Tensor):
        """The frozen teacher's :class:`kdsrc.models.Features` for batch ``x``, without gradients."""
        with torch.inference_mode():
            features = self.teacher.forward_features(x)
        return Features(*(_usable(getattr(features, f.name)) for f in dataclasses.fields(Features)))

    def teacher_logits(self, x: torch.Tensor, step: Step | None = None) -> torch.Tensor:
        """The frozen teacher's logits for batch ``x``, from the view cache when one is attached
        and the step's images are cached views."""
        if self.logit_cache is not None and step is not None and step.cache_rows is not None:
            return self.logit_cache[step.cache_rows].float()  # a float16 cache is read as float32
        with torch.inference_mode():
            logits = self.teacher(x)
        return _usable(logits)

    @property
    def separate_backward(self) -> str | None:
        """The config field that makes :meth:`backward` back-propagate each loss on its own
        (gradient measurements or alignment), or None when it is one backward pass of the sum."""
        return None

    def backward(self, losses: dict[str, torch.Tensor]) -> dict[str, float] | None:
        """Back-propagate one step's losses into the ``.grad`` of the trainable parameters; return
        measurements the trainer averages over the epoch (e.g. gradient cosines), or None.
        Default: one backward pass of their sum."""
        sum(losses.values()).backward()
        return None

    def named_trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if not n.startswith("teacher.") and p.requires_grad]

    def first_stage(self) -> Stage | None:
        """The method's first training stage, or None for single-stage methods."""
        return None

    def first_stage_probe(self, x: torch.Tensor) -> dict[str, float] | None:
        """What the first stage is meant to change, measured on the unaugmented batch ``x`` in eval
        mode (each value a mean over the batch's images), or None for a method with nothing to
        measure. :func:`kdsrc.experiment.run` records it on the test images before and after
        the first stage."""
        return None

    def main_stage(self, epochs: int) -> Stage:
        """The main training: every trainable parameter on :meth:`forward_train`, for ``epochs``
        epochs on the run's schedule, back-propagated by :meth:`backward`."""
        return Stage("main", epochs, [self], self.forward_train, scheduled=True, backward=self.backward)

    def forward_train(self, x: torch.Tensor, y: torch.Tensor, step: Step | None = None):
        raise NotImplementedError


@torch.no_grad()
def _example_features(model: nn.Module, example: torch.Tensor):
    """``model``'s features for an example batch in eval mode, its mode restored after (its BN
    statistics untouched)."""
    was_training = model.training
    model.eval()
    features = model.forward_features(example)
    model.train(was_training)
    return features


def feature_shapes(model: nn.Module, example: torch.Tensor):
    """Shapes of ``model``'s stage features for an example batch, without touching its BN statistics."""
    return [f.shape for f in _example_features(model, example).stages]


def pooled_width(model: nn.Module, example: torch.Tensor) -> int:
    """The length of ``model``'s pooled penultimate vector, without touching its BN statistics."""
    return _example_features(model, example).pooled.shape[1]
