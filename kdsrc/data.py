"""Datasets as in-memory uint8 tensors, loaded through torchvision's dataset classes.

Fashion-MNIST is the embedded default. ``fashion_pairs`` is a 100-class task made of it: two
Fashion-MNIST items side by side (a 28 x 56 image), whose class is the pair (left item, right item). It is looked for, in order, in ``$KDSRC_DATA``, in the
files of Debian's ``dataset-fashion-mnist`` package, in a torchvision root, and finally through
torchvision's own download. CIFAR-10/100 load from a root the user names. Normalisation and
augmentation happen later, batched on the training device (:func:`to_model_input`).
"""
import functools
import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import datasets

from . import augment
from .validate import require_choice

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
STATS = {  # per-channel mean and std of the training set, in [0, 1] units
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "fashion_pairs": ((0.2860,), (0.3530,)),  # the same pixels, two at a time
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),  # RepDistiller's values
}
DATASETS = tuple(STATS)
# The datasets whose class a horizontal flip changes (a flipped pair is the other pair, mirrored).
NO_FLIP = ("fashion_pairs",)
PAIRING_SEED = 2411  # which right-hand item each image is paired with: fixed, part of the dataset


class DataNotFound(RuntimeError):
    """No usable copy of a dataset was found."""


def default_root() -> Path:
    """Where kdsrc keeps a torchvision root of its own (``$XDG_CACHE_HOME/kdsrc``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kdsrc"


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.images[index], self.labels[index])


@dataclass
class Dataset:
    name: str
    train: Split
    test: Split
    val: Split | None
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]


def _from_torchvision(ds) -> Split:
    images = torch.as_tensor(ds.data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return Split(images.contiguous(), torch.as_tensor(ds.targets, dtype=torch.int64))


def _stage_fashion_files(source: Path, root: Path) -> Path | None:
    """Make a torchvision root under ``root`` from a folder holding the four IDX files (.gz or not).

    Files are copied or decompressed to a temporary name of their own and renamed, so an
    interruption never leaves a truncated file behind and processes staging at once (workers of one
    study) never write into each other's file.
    """
    raw = root / "FashionMNIST" / "raw"
    for name in FASHION_FILES:
        if (raw / name).exists():
            continue
        found = source / name if (source / name).exists() else source / f"{name}.gz"
        if not found.exists():
            return None
        raw.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".partial")
        with (gzip.open(found) if found.suffix == ".gz" else open(found, "rb")) as packed, \
                os.fdopen(handle, "wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)
        os.replace(tmp, raw / name)
    return root


def _fashion_candidates(root: Path | None):
    """(description, callable returning a torchvision root or None) in the order of search."""
    env = os.environ.get("KDSRC_DATA")
    staging = default_root() / "staged"
    if env:
        yield f"$KDSRC_DATA={env} (a torchvision root)", lambda: Path(env)
        key = hashlib.sha256(str(Path(env).resolve()).encode()).hexdigest()[:12]
        yield f"$KDSRC_DATA={env} (a folder of IDX files)", lambda: _stage_fashion_files(Path(env), staging / f"env-{key}")
    yield f"Debian package dataset-fashion-mnist at {DEBIAN_FASHION_MNIST}", \
        lambda: _stage_fashion_files(DEBIAN_FASHION_MNIST, staging / "debian")
    tv_root = root or default_root()
    yield f"torchvision root {tv_root}", lambda: tv_root


def load_fashion_mnist(root: Path | None = None, download: bool = True) -> tuple[Split, Split]:
    """Fashion-MNIST train and test splits (Xiao et al. 2017), searched as the module docstring says."""
    tried = []
    for description, locate in _fashion_candidates(root):
        found = locate()
        if found is None or not Path(found).exists():
            tried.append(description)
            continue
        try:
            return (_from_torchvision(datasets.FashionMNIST(found, train=True)),
                    _from_torchvision(datasets.FashionMNIST(found, train=False)))
        except RuntimeError:
            tried.append(description)
    if download:
        target = root or default_root()
        try:
            return (_from_torchvision(datasets.FashionMNIST(target, train=True, download=True)),
                    _from_torchvision(datasets.FashionMNIST(target, train=False, download=True)))
        except Exception as exc:  # torchvision raises several kinds of network errors
            tried.append(f"torchvision download into {target} ({type(exc).__name__})")
    raise DataNotFound(
        "data: Fashion-MNIST not found; tried " + "; ".join(tried)
        + ". Fix: `apt-get install dataset-fashion-mnist`, or set KDSRC_DATA to a folder with the "
        "four IDX files (train-images-idx3-ubyte[.gz], ...)"
    )


def side_by_side(split: Split, num_items: int, seed: int = PAIRING_SEED) -> Split:
    """Each image of ``split`` beside another (image ``i`` with image ``perm[i]`` of a fixed random
    permutation), labelled ``num_items * left + right``: a task with ``num_items ** 2`` classes
    whose images are real items, loaded and augmented like any other dataset."""
    perm = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    images = torch.cat([split.images, split.images[perm]], dim=3).contiguous()
    return Split(images, split.labels * num_items + split.labels[perm])


def load_cifar(name: str, root: Path) -> tuple[Split, Split]:
    """CIFAR-10 or CIFAR-100 (Krizhevsky 2009) from a torchvision root holding the python archive."""
    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        return _from_torchvision(cls(root, train=True)), _from_torchvision(cls(root, train=False))
    except RuntimeError as exc:
        raise DataNotFound(
            f"data_root: no usable {name} archive under {root} ({exc}). Fix: point data_root at the "
            f"folder that holds {cls.base_folder}/ (torchvision's layout)"
        ) from None


def balanced_subset(labels: torch.Tensor, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of a class-balanced subset (size // num_classes per class), drawn with a fixed seed."""
    per_class = size // num_classes
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"train_subset: class {c} has {len(members)} images, {per_class} needed")
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.sort(torch.cat(picks)).values


def load_dataset(name: str, root: Path | None = None, train_subset: int | None = None,
                 val_size: int = 0, test_subset: int | None = None, subset_seed: int = 12345) -> Dataset:
    """Load a dataset into memory and carve out the validation split and training subset.

    The validation images are held out of the training set first (class-balanced), then the
    training subset is drawn from what is left; both depend on ``subset_seed`` only, so every run
    seed sees the same images.
    """
    if name == "fashion_mnist":
        train, test = load_fashion_mnist(root)
    elif name == "fashion_pairs":
        train, test = (side_by_side(split, 10) for split in load_fashion_mnist(root))
    elif name in ("cifar10", "cifar100"):
        if root is None:
            raise DataNotFound(f"data_root: {name} needs a data_root (a torchvision root); none given")
        train, test = load_cifar(name, Path(root))
    else:
        require_choice("dataset", name, DATASETS)
    num_classes = int(train.labels.max()) + 1
    val = None
    if val_size:
        held = balanced_subset(train.labels, val_size, num_classes, subset_seed + 1)
        keep = torch.ones(len(train), dtype=torch.bool)
        keep[held] = False
        val, train = train.subset(held), train.subset(torch.nonzero(keep).flatten())
    if train_subset:
        train = train.subset(balanced_subset(train.labels, train_subset, num_classes, subset_seed))
    if test_subset:
        test = test.subset(balanced_subset(test.labels, test_subset, num_classes, subset_seed + 2))
    mean, std = STATS[name]
    return Dataset(name, train, test, val, num_classes, mean, std)


def to_model_input(images: torch.Tensor, mean, std, view_ids: torch.Tensor | None = None,
                   padding: int = 0, flip: bool = False) -> torch.Tensor:
    """uint8 images (already on the device) to a normalised float batch, optionally augmented.

    Padding is zero in pixel space, as torchvision's RandomCrop pads before normalising.
    """
    x = images.float().div_(255)
    if view_ids is not None:
        x = augment.apply_views(x, view_ids, padding, flip)
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


@functools.lru_cache(maxsize=4)
def _cached(name, root, train_subset, val_size, test_subset, subset_seed) -> Dataset:
    return load_dataset(name, Path(root) if root else None, train_subset, val_size, test_subset, subset_seed)


def dataset_for(cfg) -> Dataset:
    """The in-memory dataset of a run configuration (loaded once per process)."""
    return _cached(cfg.dataset, cfg.data_root, cfg.train_subset, cfg.val_size, cfg.test_subset, cfg.subset_seed)
