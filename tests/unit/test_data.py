"""Datasets (through torchvision's own loaders) and the view-indexed augmentation."""
import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from torchvision import datasets

from kdsrc import augment, data
from kdsrc.data import DataNotFound, balanced_subset, load_dataset, load_fashion_mnist, to_model_input

# ---------------------------------------------------------------- CIFAR-100, on the fabricated archive of conftest.py


def _ids(split):
    return (split.images[:, 0, 0, 0].long() * 256 + split.images[:, 0, 0, 1].long()).tolist()


def test_fabricated_archive_is_in_cifar_pickle_format(cifar_root):
    with open(cifar_root / "cifar-100-python" / "train", "rb") as f:
        entry = pickle.load(f, encoding="bytes")
    assert {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"} <= set(entry)
    assert entry[b"data"].shape == (200, 3072) and entry[b"data"].dtype == np.uint8


def test_cifar100_loads_as_nchw_uint8_with_fine_labels(cifar_root):
    ds = load_dataset("cifar100", root=cifar_root)
    assert ds.train.images.shape == (200, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert ds.test.images.shape == (100, 3, 32, 32)
    assert ds.train.labels.dtype == torch.int64
    assert ds.train.labels.tolist() == [i % 100 for i in range(200)]
    assert ds.num_classes == 100 and ds.in_channels == 3
    assert (ds.mean, ds.std) == data.STATS["cifar100"]


def test_cifar100_pixels_keep_channel_and_position_order(cifar_root):
    ds = load_dataset("cifar100", root=cifar_root)
    red = ds.train.images[0]
    assert (red[0] == 255).all() and (red[1:] == 0).all()
    assert _ids(ds.train)[1:] == list(range(2, 201))  # pixel (0,0) and (0,1) of the R plane


def test_cifar100_validation_split_is_held_out_of_training(cifar_root):
    ds = load_dataset("cifar100", root=cifar_root, val_size=100)
    val, train = set(_ids(ds.val)), set(_ids(ds.train))
    assert len(ds.val) == 100 and len(ds.train) == 100
    assert not val & train
    assert sorted(ds.val.labels.tolist()) == list(range(100))  # one per class


def test_missing_cifar_archive_raises_data_not_found_naming_data_root(tmp_path):
    with pytest.raises(DataNotFound, match="^data_root:"):
        load_dataset("cifar100", root=tmp_path)
    with pytest.raises(DataNotFound, match="^data_root:"):
        load_dataset("cifar100", root=None)


# ---------------------------------------------------------------- Fashion-MNIST


@pytest.fixture(scope="module")
def fashion():
    return load_fashion_mnist()


def test_fashion_mnist_has_60000_train_and_10000_test_single_channel_images(fashion):
    train, test = fashion
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert sorted(train.labels.unique().tolist()) == list(range(10))


def test_balanced_subset_has_the_same_count_per_class(fashion):
    labels = fashion[0].labels
    index = balanced_subset(labels, 500, 10, seed=3)
    assert len(index) == 500 and len(index.unique()) == 500
    assert torch.bincount(labels[index], minlength=10).tolist() == [50] * 10


def test_balanced_subset_depends_only_on_its_seed(fashion):
    labels = fashion[0].labels
    assert torch.equal(balanced_subset(labels, 500, 10, 3), balanced_subset(labels, 500, 10, 3))
    assert not torch.equal(balanced_subset(labels, 500, 10, 3), balanced_subset(labels, 500, 10, 4))


def test_balanced_subset_too_large_for_a_class_names_train_subset():
    with pytest.raises(ValueError, match="^train_subset:"):
        balanced_subset(torch.tensor([0, 0, 1]), 4, 2, seed=0)


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_kdsrc_data_folder_of_gzipped_idx_files_is_staged_and_loaded(tmp_path, monkeypatch):
    source = tmp_path / "idx"
    source.mkdir()
    images = np.arange(6 * 28 * 28).reshape(6, 28, 28) % 251
    for prefix, n in (("train", 4), ("t10k", 2)):
        _write_idx(source / f"{prefix}-images-idx3-ubyte.gz", images[:n])
        _write_idx(source / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n))
    monkeypatch.setenv("KDSRC_DATA", str(source))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    train, test = load_fashion_mnist(download=False)
    assert train.images.shape == (4, 1, 28, 28) and test.labels.tolist() == [0, 1]
    assert torch.equal(train.images[:, 0], torch.as_tensor(images[:4], dtype=torch.uint8))



def test_processes_staging_the_same_folder_at_once_all_succeed_with_whole_files(tmp_path):
    """Workers of one study stage Fashion-MNIST into one folder at once: none may fail or leave
    another a file it is still writing (each writes a temporary file of its own)."""
    import multiprocessing
    source, root = tmp_path / "idx", tmp_path / "staged"
    source.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10000, 28, 28))  # 8 MB of noise, so that the writes overlap
    for prefix in ("train", "t10k"):
        _write_idx(source / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(source / f"{prefix}-labels-idx1-ubyte.gz", np.arange(10000) % 10)
    workers = [multiprocessing.get_context("fork").Process(target=data._stage_fashion_files, args=(source, root)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    raw = root / "FashionMNIST" / "raw"
    for name in data.FASHION_FILES:
        assert (raw / name).read_bytes() == gzip.open(source / f"{name}.gz").read()
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.FASHION_FILES)

@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No Fashion-MNIST anywhere: an empty $KDSRC_DATA, no Debian package, an empty cache."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("KDSRC_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    return tmp_path


def test_fashion_mnist_nowhere_raises_data_not_found_listing_what_was_tried(nowhere):
    with pytest.raises(DataNotFound) as info:
        load_fashion_mnist(download=False)
    message = str(info.value)
    assert str(nowhere / "empty") in message and "KDSRC_DATA" in message
    assert str(nowhere / "no-debian") in message
    assert str(nowhere / "cache" / "kdsrc") in message


def test_fashion_mnist_failed_download_is_listed_in_data_not_found(nowhere, monkeypatch):
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataNotFound, match="torchvision download into"):
        load_dataset("fashion_mnist")


# ---------------------------------------------------------------- augmentation


def _view(dy, dx, flipped, p, flip=True):
    offset = dy * (2 * p + 1) + dx
    return offset * 2 + int(flipped) if flip else offset


@pytest.fixture
def batch():
    return torch.rand(3, 2, 6, 5, generator=torch.Generator().manual_seed(0)) + 0.5  # no zeros


def test_num_views_counts_offsets_and_flips():
    assert augment.num_views(2, True) == 50
    assert augment.num_views(4, True) == 162
    assert augment.num_views(2, False) == 25


@pytest.mark.parametrize("flip", [True, False])
def test_centered_unflipped_view_is_identity(batch, flip):
    ids = torch.full((3,), _view(2, 2, False, 2, flip))
    assert torch.equal(augment.apply_views(batch, ids, 2, flip), batch)


def test_flipped_centered_view_is_horizontal_mirror(batch):
    ids = torch.full((3,), _view(2, 2, True, 2))
    assert torch.equal(augment.apply_views(batch, ids, 2, True), batch.flip(-1))


@pytest.mark.parametrize("dy,dx", [(0, 0), (0, 4), (4, 1), (1, 3)])
def test_shifted_view_moves_content_with_zero_padding(batch, dy, dx):
    p = 2
    out = augment.apply_views(batch, torch.full((3,), _view(dy, dx, False, p)), p, True)
    expected = torch.zeros_like(batch)
    sy, sx = p - dy, p - dx  # content moves down by sy, right by sx
    h, w = batch.shape[-2:]
    expected[..., max(sy, 0):h + min(sy, 0), max(sx, 0):w + min(sx, 0)] = \
        batch[..., max(-sy, 0):h - max(sy, 0), max(-sx, 0):w - max(sx, 0)]
    assert torch.equal(out, expected)


def test_each_image_gets_its_own_view(batch):
    ids = torch.tensor([_view(2, 2, False, 2), _view(2, 2, True, 2), _view(0, 0, False, 2)])
    out = augment.apply_views(batch, ids, 2, True)
    assert torch.equal(out[0], batch[0]) and torch.equal(out[1], batch[1].flip(-1))
    assert (out[2, :, :2] == 0).all() and torch.equal(out[2, :, 2:, 2:], batch[2, :, :-2, :-2])


def test_random_views_are_determined_by_the_generator_seed():
    draw = lambda seed: augment.random_views(1000, 2, True, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
    assert draw(7).min() >= 0 and draw(7).max() == 49


def test_to_model_input_normalises_after_zero_padding():
    images = torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    x = to_model_input(images, (0.5,), (0.25,), torch.tensor([_view(0, 0, False, 1)]), padding=1, flip=True)
    assert x[0, 0, 0, 0].item() == pytest.approx((0 - 0.5) / 0.25)  # padded pixel: 0 before normalising
    assert x[0, 0, 1, 1].item() == pytest.approx((1 - 0.5) / 0.25)


# ---------------------------------------------------------------- Fashion-MNIST pairs, the 100-class task


def test_a_pair_image_is_two_real_items_side_by_side_labelled_by_both(fashion):
    train, _ = fashion
    pairs = data.side_by_side(train, 10)
    assert pairs.images.shape == (60000, 1, 28, 56) and pairs.images.dtype == torch.uint8
    left = torch.arange(len(train))
    right = torch.tensor([int(torch.nonzero((train.images == pairs.images[i, :, :, 28:]).flatten(1).all(1))[0])
                          for i in range(3)])
    assert torch.equal(pairs.images[:3, :, :, :28], train.images[:3])
    assert torch.equal(pairs.labels[:3], train.labels[left[:3]] * 10 + train.labels[right])
    assert sorted(pairs.labels.unique().tolist()) == list(range(100))
    assert torch.equal(data.side_by_side(train, 10).labels, pairs.labels)  # the pairing is part of the dataset


def test_the_pair_dataset_has_100_classes_with_balanced_held_out_splits():
    pairs = load_dataset("fashion_pairs", train_subset=5000, val_size=5000)
    assert pairs.num_classes == 100 and pairs.test.images.shape == (10000, 1, 28, 56)
    assert torch.bincount(pairs.train.labels, minlength=100).tolist() == [50] * 100
    assert torch.bincount(pairs.val.labels, minlength=100).tolist() == [50] * 100


def test_a_flip_is_refused_on_pairs_because_it_changes_the_class():
    from kdsrc.config import ConfigError, make_config
    with pytest.raises(ConfigError, match="^flip: a flip changes the class of a fashion_pairs image"):
        make_config("vanilla", "cpu", dataset="fashion_pairs")
    assert make_config("vanilla", "cpu", dataset="fashion_pairs", flip=False).flip is False
