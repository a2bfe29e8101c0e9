"""Part V's methods (CRD, CRD+KD, DKD, DIST, standardised KD, ReviewKD): what each computes, CRD's
negatives, memory bank, normaliser, exact resume and two-process bank, the warm-ups, and the
limits they declare."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from kdsrc.config import make_config
from kdsrc.data import dataset_for
from kdsrc.distillers import METHODS, DataSummary, build
from kdsrc.distillers.build import example_summary
from kdsrc.distillers.crd import CRD, GATHER_LIMIT, gathered_bytes
from kdsrc.engine import distributed, fit
from kdsrc.engine.stage import Step
from kdsrc.losses import dist_loss, dkd_loss, dkd_terms, hcl_loss, kd_loss, standardize_logits, standardized_kd_loss
from kdsrc.models import build_model
from kdsrc.validate import ConfigError

LABELS = torch.arange(100) % 10
EXAMPLE = DataSummary(100, 10, torch.randn(2, 1, 28, 28), LABELS)


def _build(method, student="resnet8", teacher="resnet14", data=EXAMPLE, **params):
    torch.manual_seed(0)
    s, t = build_model(student, data.num_classes, data.example.shape[1]), build_model(teacher, data.num_classes,
                                                                                      data.example.shape[1])
    return METHODS[method](s, t, METHODS[method].Config(**params), data=data)


def _step(indices, epoch=0, epochs=1, batch=None, seed=0):
    batch = indices if batch is None else batch
    return Step(epoch, epochs, 0, 1, indices, batch, None, torch.Generator().manual_seed(seed))


def _batch(n=8):
    indices = torch.arange(n) * 7 % 100
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(1)), LABELS[indices], indices


def test_the_official_recipes_are_the_defaults():
    assert (METHODS["crd"].Config().crd_weight, METHODS["crd"].Config().kd_weight) == (0.8, 0.0)
    crd = METHODS["crd_kd"].Config()
    assert (crd.crd_weight, crd.kd_weight, crd.temperature, crd.negatives, crd.nce_temperature, crd.momentum,
            crd.embed_dim) == (0.8, 1.0, 4.0, 16384, 0.07, 0.5, 128)
    dkd = METHODS["dkd"].Config()
    assert (dkd.ce_weight, dkd.alpha, dkd.beta, dkd.temperature, dkd.warmup) == (1.0, 1.0, 8.0, 4.0, 20 / 240)
    d = METHODS["dist"].Config()
    assert (d.dist_weight, d.ce_weight, d.beta, d.gamma, d.temperature) == (2.0, 1.0, 1.0, 1.0, 4.0)
    s = METHODS["standardized_kd"].Config()
    assert (s.temperature, s.ce_weight, s.kd_weight) == (2.0, 0.1, 9.0)
    r = METHODS["reviewkd"].Config()
    assert (r.review_weight, r.ce_weight, r.warmup, r.max_mid_channels) == (5.0, 1.0, 20 / 240, 512)


def test_crd_draws_k_distinct_negatives_of_other_classes_from_the_step_generator():
    crd = _build("crd", negatives=40)
    batch = torch.tensor([0, 11, 22, 33])
    negatives = crd.draw_negatives(batch, torch.Generator().manual_seed(3))
    assert negatives.shape == (4, 40)
    for anchor, row in zip(batch, negatives):
        assert len(set(row.tolist())) == 40 and (LABELS[row] != LABELS[anchor]).all()
    assert torch.equal(negatives, crd.draw_negatives(batch, torch.Generator().manual_seed(3)))
    assert not torch.equal(negatives, crd.draw_negatives(batch, torch.Generator().manual_seed(4)))


def test_crd_draws_every_other_class_image_about_equally_often():
    crd = _build("crd", negatives=45)
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(100)
    for _ in range(200):
        counts += torch.bincount(crd.draw_negatives(torch.tensor([0]), generator).flatten(), minlength=100)
    assert (counts[LABELS == 0] == 0).all()
    others = counts[LABELS != 0]  # each of 90 images drawn with probability 1/2 per step: 100 expected
    assert 60 < others.min() and others.max() < 140


def _repdistiller_crd(crd, v_s, v_t, rows, z_s, z_t):
    """RepDistiller's ContrastMemory + ContrastLoss on the same banks and indices, written out."""
    n, m = crd.bank_student.shape[0], rows.shape[1] - 1
    out_s = torch.exp(torch.bmm(crd.bank_teacher[rows], v_s.unsqueeze(2)).squeeze(2) / 0.07) / z_s
    out_t = torch.exp(torch.bmm(crd.bank_student[rows], v_t.unsqueeze(2)).squeeze(2) / 0.07) / z_t
    def contrast(x):
        return -(torch.log(x[:, 0] / (x[:, 0] + m / n + 1e-7)).sum()
                 + torch.log((m / n) / (x[:, 1:] + m / n + 1e-7)).sum()) / len(x)
    return contrast(out_s) + contrast(out_t)


def test_crd_is_ce_plus_repdistillers_contrastive_loss_with_z_from_the_first_batch():
    crd = _build("crd", negatives=30).eval()
    x, y, indices = _batch()
    banks = crd.bank_student.clone(), crd.bank_teacher.clone()
    s, t = crd.student.forward_features(x), crd.teacher.forward_features(x)
    v_s, v_t = crd.embed(s.pooled, t.pooled)
    rows = torch.cat([indices.unsqueeze(1), crd.draw_negatives(indices, torch.Generator().manual_seed(0))], 1)
    first_s = torch.exp(torch.bmm(banks[1][rows], v_s.unsqueeze(2)) / 0.07).mean() * 100
    first_t = torch.exp(torch.bmm(banks[0][rows], v_t.unsqueeze(2)) / 0.07).mean() * 100
    expected = 0.8 * _repdistiller_crd(crd, v_s, v_t, rows, first_s, first_t)
    _, terms = crd.forward_train(x, y, _step(indices))
    torch.testing.assert_close(terms["crd"], expected)
    torch.testing.assert_close(terms["ce"], F.cross_entropy(s.logits, y))
    torch.testing.assert_close(crd.normalizers, torch.stack([first_s, first_t]))
    crd.forward_train(x, y, _step(indices, seed=5))
    torch.testing.assert_close(crd.normalizers, torch.stack([first_s, first_t]))  # set once


def test_crd_paper_form_has_no_normalising_constant():
    crd = _build("crd", negatives=30, form="paper").eval()
    x, y, indices = _batch()
    s, t = crd.student.forward_features(x), crd.teacher.forward_features(x)
    v_s, v_t = crd.embed(s.pooled, t.pooled)
    rows = torch.cat([indices.unsqueeze(1), crd.draw_negatives(indices, torch.Generator().manual_seed(0))], 1)
    expected = 0.8 * _repdistiller_crd(crd, v_s, v_t, rows, 1.0, 1.0)
    torch.testing.assert_close(crd.forward_train(x, y, _step(indices))[1]["crd"], expected)


def test_crd_moves_each_seen_row_of_both_banks_towards_its_embedding_with_momentum_and_no_other():
    crd = _build("crd", negatives=30).eval()
    x, y, indices = _batch()
    before = crd.bank_student.clone(), crd.bank_teacher.clone()
    v_s, v_t = crd.embed(crd.student.forward_features(x).pooled, crd.teacher.forward_features(x).pooled)
    crd.forward_train(x, y, _step(indices))
    for bank, old, v in ((crd.bank_student, before[0], v_s), (crd.bank_teacher, before[1], v_t)):
        torch.testing.assert_close(bank[indices], F.normalize(0.5 * old[indices] + 0.5 * v.detach(), dim=1))
        unseen = torch.ones(100, dtype=torch.bool)
        unseen[indices] = False
        assert torch.equal(bank[unseen], old[unseen])
    assert not any(name.startswith("bank") for name, _ in crd.named_parameters())


def test_crd_trains_the_student_and_both_embeddings_and_never_the_teacher():
    crd = _build("crd", negatives=30).train()
    x, y, indices = _batch()
    terms = crd.forward_train(x, y, _step(indices))[1]
    measured = crd.backward(terms)
    assert crd.embed_student.weight.grad is not None and crd.embed_teacher.weight.grad is not None
    assert all(p.grad is None for p in crd.teacher.parameters())
    assert crd.extra_parameter_count() == (64 + 1) * 128 * 2
    assert 0 <= float(measured["critic_negative"]) <= 1 and 0 <= float(measured["critic_positive"]) <= 1


def test_crd_kd_adds_kds_term_at_weight_one():
    crd = _build("crd_kd", negatives=30).eval()
    x, y, indices = _batch()
    terms = crd.forward_train(x, y, _step(indices))[1]
    expected = kd_loss(crd.student(x), crd.teacher(x), 4.0)
    torch.testing.assert_close(terms["kd"], expected)
    assert set(terms) == {"ce", "crd", "kd"}


def test_crd_refuses_too_many_negatives_no_labels_mixing_and_a_gather_over_the_limit():
    with pytest.raises(ValueError, match=r"^negatives: must be at most 90 "):
        _build("crd", negatives=91)
    with pytest.raises(ValueError, match="^data: CRD"):
        _build("crd", data=DataSummary(100, 10, EXAMPLE.example), negatives=10)
    with pytest.raises(ConfigError, match="^mixing:"):
        make_config("crd", "smoke", mixing="mixup")
    per_image = gathered_bytes(1, 16384, 128)
    assert gathered_bytes(64, 16384, 128) == 2 * 64 * 16385 * 128 * 4  # about 1.07 GB, RepDistiller's step
    largest = GATHER_LIMIT // per_image
    assert make_config("crd", "paper", batch_size=largest).batch_size == largest
    with pytest.raises(ConfigError, match=rf"^batch_size: method 'crd' allows at most {largest} .*negatives=16384"):
        make_config("crd", "paper", batch_size=largest + 1)
    assert make_config("crd", "paper", batch_size=largest + 1, negatives=4096).batch_size == largest + 1  # fewer negatives


def test_crd_banks_are_as_large_as_the_training_set_51_mb_for_cifar_100():
    crd = _build("crd", student="resnet8x4", teacher="resnet32x4", data=example_summary())
    assert crd.bank_student.shape == crd.bank_teacher.shape == (50_000, 128)
    assert 2 * crd.bank_student.numel() * 4 == 51_200_000
    assert crd.extra_parameter_count() == 65_792


class _Interrupted(CRD):
    """CRD that stops training at one step, as a kill would."""

    at = (1, 1)

    def forward_train(self, x, y, step=None):
        if (step.epoch, step.index) == self.at:
            raise KeyboardInterrupt
        return super().forward_train(x, y, step)


def _crd_for(cfg, data, cls=CRD):
    torch.manual_seed(0)
    student = build_model(cfg.model, data.num_classes, data.in_channels)
    teacher = build_model(cfg.teacher, data.num_classes, data.in_channels)
    distiller = build("crd", cfg.method_params, student, teacher, data)
    distiller.__class__ = cls
    return distiller


def test_crd_resumed_after_an_interruption_ends_exactly_as_uninterrupted_banks_and_negatives_included(
        tiny_config, tmp_path):
    cfg = tiny_config("crd", epochs=3, negatives=32)
    data = dataset_for(cfg)
    whole = _crd_for(cfg, data)
    uninterrupted = fit(whole, data, cfg)
    checkpoint = tmp_path / "crd.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(_crd_for(cfg, data, _Interrupted), data, cfg, checkpoint=checkpoint)
    resumed_crd = _crd_for(cfg, data)
    resumed = fit(resumed_crd, data, cfg, checkpoint=checkpoint)
    strip = lambda h: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in h]  # noqa: E731
    assert strip(resumed) == strip(uninterrupted)
    assert torch.equal(resumed_crd.bank_student, whole.bank_student)
    assert torch.equal(resumed_crd.bank_teacher, whole.bank_teacher)
    assert torch.equal(resumed_crd.normalizers, whole.normalizers)
    assert {"critic_positive", "critic_negative"} <= set(uninterrupted[-1]["measurements"])


def _crd_step_in(rank: int, world: int, folder) -> None:
    """One CRD step on a fixed batch of 8 images, in one process or as process ``rank`` of
    ``world`` on its shard; saves the banks, normaliser and negatives it ends with."""
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{folder / 'rendezvous'}", rank=rank, world_size=world)
    crd = _build("crd", negatives=30).eval()  # eval: each image's embedding does not depend on its shard
    x, y, batch = _batch()
    step = _step(distributed.shard(batch), batch=batch)
    crd.forward_train(distributed.shard(x), distributed.shard(y), step)
    torch.save({"banks": (crd.bank_student, crd.bank_teacher), "normalizers": crd.normalizers,
                "generator": step.generator.get_state()}, folder / f"world{world}_rank{rank}.pt")
    distributed.teardown()


def test_two_gloo_processes_keep_the_banks_and_generator_one_process_keeps(tmp_path):
    _crd_step_in(0, 1, tmp_path)
    mp.spawn(_crd_step_in, args=(2, tmp_path), nprocs=2)
    one = torch.load(tmp_path / "world1_rank0.pt", weights_only=True)
    for rank in range(2):
        two = torch.load(tmp_path / f"world2_rank{rank}.pt", weights_only=True)
        for a, b in zip(two["banks"], one["banks"]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(two["normalizers"], one["normalizers"], rtol=1e-5, atol=0)
        assert torch.equal(two["generator"], one["generator"])


@pytest.mark.parametrize("epochs, epoch, dkd, review", [(240, 0, 1 / 20, 0.0), (240, 9, 10 / 20, 9 / 20),
                                                        (240, 19, 1.0, 19 / 20), (240, 100, 1.0, 1.0),
                                                        (24, 0, 1 / 2, 0.0), (24, 1, 1.0, 1 / 2)])
def test_dkd_and_reviewkd_warm_up_over_a_twelfth_of_the_run_counting_epochs_as_their_codes_do(
        epochs, epoch, dkd, review):
    x, y, indices = _batch(4)
    step = _step(indices, epoch=epoch, epochs=epochs)
    d = _build("dkd").eval()
    terms = d.forward_train(x, y, step)[1]
    torch.testing.assert_close(terms["tckd"] + terms["nckd"], dkd * dkd_loss(d.student(x), d.teacher(x), y, 1.0, 8.0, 4.0))
    tckd, nckd = dkd_terms(d.student(x), d.teacher(x), y, 4.0)
    torch.testing.assert_close(terms["tckd"], dkd * tckd)
    torch.testing.assert_close(terms["nckd"], dkd * 8.0 * nckd)
    r = _build("reviewkd").eval()
    full = r.forward_train(x, y, None)[1]["review"]
    torch.testing.assert_close(r.forward_train(x, y, step)[1]["review"], review * full)


def test_dkd_standardize_applies_dkd_to_z_scored_logits_and_refuses_mixing():
    d = _build("dkd", standardize=True).eval()
    x, y, _ = _batch(4)
    expected = dkd_loss(standardize_logits(d.student(x)), standardize_logits(d.teacher(x)), y, 1.0, 8.0, 4.0)
    terms = d.forward_train(x, y)[1]
    torch.testing.assert_close(terms["tckd"] + terms["nckd"], expected)
    with pytest.raises(ConfigError, match="^mixing:"):
        make_config("dkd", "smoke", mixing="cutmix")


@pytest.mark.parametrize("method, term, loss", [
    ("dist", "dist", lambda s, t: 2.0 * dist_loss(s, t, 1.0, 1.0, 4.0)),
    ("standardized_kd", "kd", lambda s, t: 9.0 * standardized_kd_loss(s, t, 2.0))])
def test_logit_methods_are_ce_plus_their_weighted_loss_and_read_only_the_teachers_logits(method, term, loss):
    d = _build(method).eval()
    x, y, _ = _batch(6)
    terms = d.forward_train(x, y)[1]
    torch.testing.assert_close(terms[term], loss(d.student(x), d.teacher(x)))
    ce_weight = d.config.ce_weight
    torch.testing.assert_close(terms["ce"], ce_weight * F.cross_entropy(d.student(x), y))
    assert METHODS[method].reads_only_teacher_logits and d.extra_parameter_count() == 0


def test_reviewkd_fuses_deep_to_shallow_onto_the_teachers_preactivation_levels():
    r = _build("reviewkd", teacher="resnet8x4").eval()
    x, y, _ = _batch(4)
    s, t = r.student.forward_features(x), r.teacher.forward_features(x)
    targets = [*t.preacts[1:], t.pooled[:, :, None, None]]
    outputs = r.reviewed(s, [target.shape[-2:] for target in targets])
    assert [o.shape for o in outputs] == [target.shape for target in targets]
    assert [f.attention is None for f in r.fusions] == [True, False, False, False]  # the deepest has nothing to fuse
    torch.testing.assert_close(r.forward_train(x, y)[1]["review"], 5.0 * hcl_loss(outputs, targets))


def test_reviewkd_has_1_8_million_extra_parameters_on_resnet32x4_to_resnet8x4_and_refuses_unequal_depths():
    r = _build("reviewkd", student="resnet8x4", teacher="resnet32x4", data=example_summary())
    assert r.extra_parameter_count() == 1_808_774 > sum(p.numel() for p in r.student.parameters())
    with pytest.raises(ValueError, match="^teacher: ReviewKD fuses the two networks level by level"):
        _build("reviewkd", student="vgg8", teacher="resnet32x4", data=example_summary())
