"""Contrastive representation distillation (Tian, Krishnan & Isola, ICLR 2020).

Both networks' pooled penultimate vectors are embedded by a trainable linear map each (to 128
dimensions) and L2-normalised. A memory bank holds one embedding per training image for each
network: buffers, not parameters, initialised uniformly and updated with momentum as each image
passes (RepDistiller's ``ContrastMemory``). For every image, K negatives are drawn among the
training images of other classes, without replacement (RepDistiller's
``CIFAR100InstanceSample``, mode "exact"). The critic scores the student's embedding against
the teacher's bank rows of the image and of its negatives, and the teacher's embedding against
the student's bank (:func:`kdsrc.losses.crd_critic`); each side's NCE objective
(:func:`kdsrc.losses.crd_nce_loss`) is summed. Defaults are RepDistiller's (``--distill crd
-a 0 -b 0.8``, ``nce_k 16384``, ``nce_t 0.07``, ``nce_m 0.5``, cross-entropy weight 1); CRD+KD
is :mod:`.crd_kd`.

``form="official"`` (default): RepDistiller's critic, divided by a constant Z per side, set
once from the first batch (the mean score times the number of training images). ``"paper"``:
Eq. (19) as printed, with no such constant (Z = 1).

What this costs: the banks are 2 x (training images) x 128 floats (51.2 MB for CIFAR-100); each
step gathers (1 + K) bank rows per image for each side, 2 x 64 x 16385 x 128 x 4 B = 1.07 GB at
batch 64 and K = 16384, so the batch is capped where that gather would pass
:data:`GATHER_LIMIT`.

The negatives are drawn from the trainer's seeded generator (the step context), for the whole
global batch on every process, so a resumed run draws what an uninterrupted one does and every
process keeps the same generator state. Under several processes each updates its bank with
every process's rows (gathered), so the banks stay equal everywhere, as one process's would.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..engine import distributed
from ..losses import crd_critic, crd_nce_loss, kd_loss
from .base import WEIGHT_SCALES, Distiller, pooled_width
from ..validate import require_choice, require_int, require_non_negative, require_number, require_positive

GATHER_LIMIT = 8 * 2**30  # bytes of bank rows one step may gather (both sides)


@dataclass(frozen=True)
class CRDConfig:
    crd_weight: float = 0.8
    ce_weight: float = 1.0
    kd_weight: float = 0.0
    temperature: float = 4.0  # KD's, when kd_weight > 0
    embed_dim: int = 128
    negatives: int = 16384
    nce_temperature: float = 0.07
    momentum: float = 0.5
    form: str = "official"

    def __post_init__(self):
        for name in ("crd_weight", "ce_weight", "kd_weight"):
            require_non_negative(name, getattr(self, name))
        require_positive("temperature", self.temperature)
        require_int("embed_dim", self.embed_dim, minimum=1)
        require_int("negatives", self.negatives, minimum=1)
        require_positive("nce_temperature", self.nce_temperature)
        require_number("momentum", self.momentum, low=0, high=1)
        require_choice("form", self.form, ("official", "paper"))


def gathered_bytes(batch_size: int, negatives: int, embed_dim: int) -> int:
    """Bytes of bank rows a step gathers: (1 + K) rows of ``embed_dim`` floats per image, per side."""
    return 2 * batch_size * (negatives + 1) * embed_dim * 4


class CRD(Distiller):
    """Student and two embeddings trained on CE and the NCE objective against memory banks of
    both networks' embeddings."""

    Config = CRDConfig
    needs_teacher = True
    needs_hard_labels = True  # negatives are images of other classes, and each image has a bank row
    profile_defaults = {"smoke": {"negatives": 64}, "cpu": {"negatives": 1638}}
    tuning = {"crd_weight": WEIGHT_SCALES}

    @classmethod
    def batch_limit(cls, config):
        per_image = gathered_bytes(1, config.negatives, config.embed_dim)
        return GATHER_LIMIT // per_image, (f"each image gathers {per_image / 2**20:.1f} MB of bank rows at "
                                           f"negatives={config.negatives}; lower negatives or batch_size")

    def __init__(self, student, teacher, config: CRDConfig = CRDConfig(), data=None):
        super().__init__(student, teacher, config, data)
        if data.train_labels is None:
            raise ValueError("data: CRD draws its negatives from other classes, so it needs the training labels")
        largest_class = int(torch.bincount(data.train_labels).max())
        if config.negatives > data.train_images - largest_class:
            raise ValueError(f"negatives: must be at most {data.train_images - largest_class} (the training images "
                             f"outside the largest class), got {config.negatives}")
        self.embed_student = nn.Linear(pooled_width(student, data.example), config.embed_dim)
        self.embed_teacher = nn.Linear(pooled_width(teacher, data.example), config.embed_dim)
        bound = 1 / math.sqrt(config.embed_dim / 3)  # RepDistiller's initial bank rows
        self.register_buffer("bank_student", torch.rand(data.train_images, config.embed_dim) * 2 * bound - bound)
        self.register_buffer("bank_teacher", torch.rand(data.train_images, config.embed_dim) * 2 * bound - bound)
        self.register_buffer("normalizers", torch.full((2,), -1.0))  # Z of the student- and teacher-anchored critic
        self.register_buffer("labels", data.train_labels.clone(), persistent=False)
        self._critic = {}

    def draw_negatives(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """K dataset indices for each image of ``batch``, uniformly among the training images of other
        classes, without replacement: the K smallest of uniform keys, same-class images keyed out."""
        keys = torch.rand(len(batch), len(self.labels), generator=generator, device=generator.device)
        keys.masked_fill_(self.labels[batch].unsqueeze(1) == self.labels.unsqueeze(0), 2.0)
        return keys.topk(self.config.negatives, dim=1, largest=False, sorted=False).indices

    def embed(self, pooled_student: torch.Tensor, pooled_teacher: torch.Tensor):
        """Both networks' L2-normalised embeddings, in fp32."""
        return (F.normalize(self.embed_student(pooled_student).float(), dim=1),
                F.normalize(self.embed_teacher(pooled_teacher).float(), dim=1))

    def _normalised(self, student_anchor: torch.Tensor, teacher_anchor: torch.Tensor):
        """The critic divided by Z; Z set from the first batch's scores (over every process)."""
        if self.config.form == "paper":
            return student_anchor, teacher_anchor
        with torch.no_grad():
            sums = distributed.all_sum(torch.stack([student_anchor.sum(), teacher_anchor.sum(),
                                                    torch.tensor(float(student_anchor.numel()), device=student_anchor.device)]))
            first = sums[:2] / sums[2] * len(self.labels)
            self.normalizers.copy_(torch.where(self.normalizers < 0, first, self.normalizers))
        return student_anchor / self.normalizers[0], teacher_anchor / self.normalizers[1]

    @torch.no_grad()
    def _update_banks(self, indices, v_student, v_teacher):
        """Each image's bank rows moved towards its new embeddings by ``1 - momentum``, renormalised;
        every process's rows, so every process keeps the same banks."""
        indices = distributed.all_gather_rows(indices)
        for bank, v in ((self.bank_student, v_student), (self.bank_teacher, v_teacher)):
            rows = bank[indices] * self.config.momentum + distributed.all_gather_rows(v) * (1 - self.config.momentum)
            bank.index_copy_(0, indices, F.normalize(rows, dim=1))

    def forward_train(self, x, y, step=None):
        if step is None:
            raise ValueError("step: CRD trains only inside the trainer, which names each image's dataset index")
        features = self.student.forward_features(x)
        teacher = self.teacher_features(x)
        v_student, v_teacher = self.embed(features.pooled, teacher.pooled)
        negatives = distributed.shard(self.draw_negatives(step.batch_indices, step.generator))
        rows = torch.cat([step.indices.unsqueeze(1), negatives], dim=1)
        student_anchor, teacher_anchor = self._normalised(
            crd_critic(v_student, self.bank_teacher[rows], self.config.nce_temperature),
            crd_critic(v_teacher, self.bank_student[rows], self.config.nce_temperature))
        n_data = len(self.labels)
        contrast = crd_nce_loss(student_anchor, n_data) + crd_nce_loss(teacher_anchor, n_data)
        self._critic = self._critic_means(student_anchor.detach(), teacher_anchor.detach(), n_data)
        self._update_banks(step.indices, v_student.detach(), v_teacher.detach())
        losses = {"ce": self.config.ce_weight * F.cross_entropy(features.logits, y),
                  "crd": self.config.crd_weight * contrast}
        if self.config.kd_weight:
            losses["kd"] = self.config.kd_weight * kd_loss(features.logits, teacher.logits, self.config.temperature)
        return features.logits, losses

    @staticmethod
    def _critic_means(student_anchor, teacher_anchor, n_data):
        """The critic's probability that a pair is the positive, ``P / (P + K / n_data)``, averaged
        over both sides for the positive pairs and for the negatives."""
        scores = torch.cat([student_anchor, teacher_anchor])
        positive = scores / (scores + (scores.shape[1] - 1) / n_data)
        return {"critic_positive": positive[:, 0].mean(), "critic_negative": positive[:, 1:].mean()}

    def backward(self, losses):
        """One backward pass of the sum; measures the critic on the step's pairs (:meth:`_critic_means`)."""
        sum(losses.values()).backward()
        return self._critic
