"""Mixing augmentations of the transfer set: what each does to a batch, seeding, the config, and
that cached teacher outputs are never used for a mixed batch."""
import pytest
import torch

from kdsrc import experiment
from kdsrc.config import ConfigError, make_config
from kdsrc.distillers import METHODS
from kdsrc.mixing import mix


def _batch(n=6):
    torch.manual_seed(0)
    return torch.randn(n, 1, 8, 8), torch.arange(n) % 3


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["mixup", "cutmix", "cutout"])
def test_mixing_is_seeded_by_the_generator_and_leaves_the_global_rng_alone(kind):
    x, y = _batch()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, second, other = (mix(x, y, kind, 1.0, 3, _generator(s)) for s in (0, 0, 1))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_mixup_blends_each_image_and_its_label_with_the_previous_one_by_the_same_weight():
    x, y = _batch()
    mixed, soft = mix(x, y, "mixup", 1.0, 3, _generator())
    lam = soft[0, y[0]].item() if y[0] != y[-1] else None
    assert soft.shape == (6, 3) and torch.allclose(soft.sum(1), torch.ones(6))
    assert lam is not None and torch.allclose(mixed, lam * x + (1 - lam) * x.roll(1, 0), atol=1e-6)


def test_cutmix_mixes_labels_by_the_area_pasted_from_the_previous_image():
    x, y = _batch()
    mixed, soft = mix(x, y, "cutmix", 1.0, 3, _generator(3))
    pasted = (mixed != x).all(1).float().mean().item()  # share of pixels taken from the neighbour
    assert torch.allclose(soft.sum(1), torch.ones(6))
    assert soft[0, y[-1]].item() == pytest.approx(pasted, abs=1e-6)
    assert torch.equal(mixed[(mixed != x)], x.roll(1, 0)[(mixed != x)])


def test_cutout_zeroes_one_square_of_half_the_side_per_image_and_keeps_the_labels():
    x = torch.ones(64, 1, 8, 8)
    y = torch.zeros(64, dtype=torch.long)
    out, labels = mix(x, y, "cutout", 1.0, 3, _generator())
    holes = (out == 0).squeeze(1)
    assert torch.equal(labels, y)
    assert holes.sum((1, 2)).max().item() == 16  # a 4 x 4 square, clipped where it leaves the image
    assert holes.sum((1, 2)).min().item() >= 4
    assert len({tuple(h.nonzero()[0].tolist()) for h in holes}) > 1  # the squares move


def test_mixing_bad_kind_and_config_values_are_named():
    x, y = _batch()
    with pytest.raises(ValueError, match="^mixing:"):
        mix(x, y, "mosaic", 1.0, 3, _generator())
    with pytest.raises(ConfigError, match="^mixing:"):
        make_config("kd", "smoke", mixing="mosaic")
    with pytest.raises(ConfigError, match="^mixing_alpha:"):
        make_config("kd", "smoke", mixing="mixup", mixing_alpha=0)


def test_mixing_enters_the_run_id_only_when_set_and_never_reaches_the_teacher():
    base = make_config("kd", "cpu")
    assert make_config("kd", "cpu", mixing="none", mixing_alpha=1.0).run_id() == base.run_id()
    mixed = make_config("kd", "cpu", mixing="mixup")
    assert mixed.run_id() != base.run_id() and mixed.teacher_config() == base.teacher_config()


@pytest.mark.parametrize("mixing", ["none", "mixup", "cutout"])
def test_a_mixed_batch_never_reads_the_cached_teacher_logits(tiny_config, tmp_path, monkeypatch, mixing):
    """The cache holds the teacher's outputs on crop/flip views; a mixed batch is none of them."""
    seen = []
    original = METHODS["kd"].teacher_logits

    def spy(self, x, step=None):
        seen.append((step.cache_rows is not None, self.logit_cache is not None))
        return original(self, x, step)

    monkeypatch.setattr(METHODS["kd"], "teacher_logits", spy)
    run = experiment.run(tiny_config("kd", teacher_cache=True, mixing=mixing), tmp_path)
    uses_cache = {keys and cache for keys, cache in seen}
    assert uses_cache == ({True} if mixing == "none" else {False})
    assert list((tmp_path / "cache").glob("*.pt")) if mixing == "none" else not (tmp_path / "cache").exists()
    assert run["config"]["mixing"] == mixing
