"""A KD training loop built the way RepDistiller's is, kept only to measure ours against it.

RepDistiller (Tian et al. 2020, github.com/HobbitLong/RepDistiller: ``dataset/cifar100.py``,
``train_student.py``, ``helper/loops.py::train_distill``) feeds the GPU from a ``DataLoader``
whose worker processes turn every image into a PIL image and run ``RandomCrop(padding)``,
``RandomHorizontalFlip``, ``ToTensor`` and ``Normalize`` on it, one image at a time; the step
runs in fp32 and NCHW, the frozen teacher runs on every batch under ``no_grad``, and the loss and
top-1 accuracy are read back to the host (``.item()``) after every step for the running meters.
:func:`kd_images_per_second` times exactly that, with RepDistiller's KD loss weights
(0.1 CE + 0.9 KL at T = 4). Nothing here trains a stored run.
"""
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

from ..data import Split
from ..losses import kd_loss
from ..validate import ConfigError


class PilImages(torch.utils.data.Dataset):
    """A split served as RepDistiller's CIFAR datasets serve it: a PIL image through ``transform``,
    its label and its index."""

    def __init__(self, split: Split, transform):
        images = split.images.permute(0, 2, 3, 1).numpy()  # N x H x W x C, as CIFAR's .data
        self.images = images[..., 0] if images.shape[-1] == 1 else images
        self.labels = split.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(np.ascontiguousarray(self.images[index]))), self.labels[index], index


def train_transform(size: int, padding: int, mean, std) -> transforms.Compose:
    """RepDistiller's training transform for ``size`` x ``size`` images."""
    return transforms.Compose([transforms.RandomCrop(size, padding=padding), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor(), transforms.Normalize(mean, std)])


def default_workers() -> int:
    """RepDistiller's 8 loader workers, or as many as this machine has cores if fewer."""
    return min(8, os.cpu_count() or 1)


def _synchronise(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def kd_images_per_second(student: torch.nn.Module, teacher: torch.nn.Module, split: Split, mean, std,
                         padding: int, batch_size: int, steps: int, warmup: int = 2, device="cpu",
                         workers: int | None = None) -> float:
    """Training images/second of KD steps in RepDistiller's style, timed over ``steps`` steps after
    ``warmup`` (which also start the loader's workers); ``split`` must hold enough images."""
    if len(split) < (steps + warmup) * batch_size:
        raise ConfigError(f"steps: {steps + warmup} batches of {batch_size} need {(steps + warmup) * batch_size} "
                         f"images, the split has {len(split)}")
    cuda = torch.device(device).type == "cuda"
    loader = DataLoader(PilImages(split, train_transform(split.images.shape[-1], padding, mean, std)),
                        batch_size=batch_size, shuffle=True, num_workers=default_workers() if workers is None else workers,
                        pin_memory=cuda)
    student.to(device).train()
    teacher.to(device).eval()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    meters = {"loss": 0.0, "top1": 0.0}
    batches = iter(loader)
    for step in range(warmup + steps):
        if step == warmup:
            _synchronise(device)
            start = time.perf_counter()
        images, labels, _ = next(batches)
        images, labels = images.float().to(device), labels.to(device)
        student_out = student.forward_features(images)
        with torch.no_grad():
            teacher_out = teacher.forward_features(images)
        loss = 0.1 * F.cross_entropy(student_out.logits, labels) + 0.9 * kd_loss(student_out.logits,
                                                                                  teacher_out.logits, 4.0)
        meters["loss"] += loss.item()
        meters["top1"] += (student_out.logits.argmax(1) == labels).float().mean().item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _synchronise(device)
    return steps * batch_size / (time.perf_counter() - start)
