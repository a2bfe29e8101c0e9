"""Part IV's methods (SP, CC, RKD, PKT, NST, VID, FT): what each taps, its trainable extras, FT's
paraphraser stage, and the limits they declare."""
import pytest
import torch
import torch.nn.functional as F

from kdsrc import experiment
from kdsrc.config import make_config
from kdsrc.distillers import METHODS, DataSummary
from kdsrc.distillers.ft import PARAPHRASER_LR
from kdsrc.distillers.rkd import MAX_BATCH
from kdsrc.engine import fit
from kdsrc.engine.fit import _stage_lr
from kdsrc.losses import cc_loss, ft_loss, nst_loss, pkt_loss, rkd_loss, sp_loss, vid_loss
from kdsrc.models import build_model
from kdsrc.validate import ConfigError

EXAMPLE = DataSummary(100, 10, torch.randn(2, 1, 28, 28))


def _build(method, student="resnet8", teacher="resnet14", **params):
    torch.manual_seed(0)
    s, t = build_model(student, 10, 1), build_model(teacher, 10, 1)
    return METHODS[method](s, t, METHODS[method].Config(**params), data=EXAMPLE)


def _terms(distiller, x, y):
    distiller.eval()
    return distiller.forward_train(x, y)[1]


@pytest.mark.parametrize("method, term, loss, tap", [
    ("sp", "sp", sp_loss, lambda f: f.stages[-1]), ("pkt", "pkt", pkt_loss, lambda f: f.pooled),
    ("rkd", "rkd", rkd_loss, lambda f: f.pooled)])
def test_each_relation_method_is_cross_entropy_plus_its_weighted_loss_on_its_tap(method, term, loss, tap):
    distiller = _build(method)
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    terms = _terms(distiller, x, y)
    s, t = distiller.student.forward_features(x), distiller.teacher.forward_features(x)
    weight = getattr(distiller.config, f"{term}_weight")
    torch.testing.assert_close(terms[term], weight * loss(tap(s), tap(t)))
    torch.testing.assert_close(terms["ce"], F.cross_entropy(s.logits, y))
    assert distiller.extra_parameter_count() == 0


def test_repdistillers_weights_are_the_defaults():
    weights = {m: getattr(METHODS[m].Config(), f"{m}_weight") for m in ("sp", "cc", "rkd", "pkt", "nst", "vid", "ft")}
    assert weights == {"sp": 3000.0, "cc": 0.02, "rkd": 1.0, "pkt": 30000.0, "nst": 50.0, "vid": 1.0, "ft": 200.0}
    assert (METHODS["rkd"].Config().w_dist, METHODS["rkd"].Config().w_angle) == (25.0, 50.0)


def test_cc_embeds_both_pooled_vectors_to_128_dimensions_and_trains_both_embeddings():
    distiller = _build("cc", teacher="resnet8x4")
    assert (distiller.embed_student.in_features, distiller.embed_teacher.in_features) == (64, 256)
    assert distiller.embed_student.out_features == distiller.embed_teacher.out_features == 128
    assert distiller.extra_parameter_count() == (64 + 1) * 128 + (256 + 1) * 128
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    terms = _terms(distiller, x, y)
    s, t = distiller.student.forward_features(x).pooled, distiller.teacher.forward_features(x).pooled
    torch.testing.assert_close(terms["cc"], 0.02 * cc_loss(distiller.embed_student(s), distiller.embed_teacher(t)))
    terms["cc"].backward()
    assert distiller.embed_teacher.weight.grad is not None and distiller.embed_student.weight.grad is not None


def test_nst_sums_its_loss_over_the_three_stage_outputs_and_refuses_a_stage_one_network_lacks():
    distiller = _build("nst").eval()
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    s, t = distiller.student.forward_features(x).stages, distiller.teacher.forward_features(x).stages
    expected = 50 * sum(nst_loss(s[i], t[i]) for i in (1, 2, 3))
    torch.testing.assert_close(_terms(distiller, x, y)["nst"], expected)
    with pytest.raises(ValueError, match="^layers:"):
        _build("nst", layers=(4,))


def test_vid_regressors_are_three_1x1_convolutions_as_wide_as_the_teacher_with_variance_starting_at_five():
    distiller = _build("vid", teacher="resnet8x4").eval()
    widths = [(r.mean[0].in_channels, r.mean[0].out_channels, r.mean[4].out_channels) for r in distiller.regressors]
    assert widths == [(16, 64, 64), (32, 128, 128), (64, 256, 256)]
    assert all(c.kernel_size == (1, 1) and c.bias is None for r in distiller.regressors for c in r.mean[::2])
    for r in distiller.regressors:
        torch.testing.assert_close(F.softplus(r.log_scale) + 1e-5, torch.full_like(r.log_scale, 5.0))
    expected_extra = sum(s * t + 2 * t * t + t for s, t in ((16, 64), (32, 128), (64, 256)))
    assert distiller.extra_parameter_count() == expected_extra
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    s, t = distiller.student.forward_features(x).stages, distiller.teacher.forward_features(x).stages
    expected = sum(vid_loss(r.mean(s[i]), t[i], r.log_scale) for i, r in zip((1, 2, 3), distiller.regressors))
    torch.testing.assert_close(_terms(distiller, x, y)["vid"], expected)
    with pytest.raises(ValueError, match="^init_variance:"):
        METHODS["vid"].Config(init_variance=0.0)


def test_ft_paraphraser_and_translator_shapes_follow_the_rate():
    distiller = _build("ft", teacher="resnet8x4")
    assert distiller.paraphraser.encoder[0].in_channels == 256 and distiller.paraphraser.encoder[-2].out_channels == 128
    assert distiller.translator[0].in_channels == 64 and distiller.translator[-3].out_channels == 128
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in distiller.paraphraser.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in distiller.translator.modules())
    x = torch.randn(2, 1, 28, 28)
    teacher_map = distiller.teacher.eval().forward_features(x).stages[-1]
    assert distiller.paraphraser(teacher_map).shape == teacher_map.shape
    with pytest.raises(ValueError, match="^rate:"):
        METHODS["ft"].Config(rate=1.5)


def test_ft_first_stage_trains_the_paraphraser_alone_at_repdistillers_rate(tiny_config):
    cfg = tiny_config("ft")
    distiller = _build("ft", init_epochs=1)
    stage = distiller.first_stage()
    assert stage.lr == PARAPHRASER_LR and _stage_lr(stage, cfg, 0, 0, 1) == PARAPHRASER_LR
    assert _build("ft", student="MobileNetV2").first_stage().lr is None  # the run's own rate
    before = {name: {k: v.clone() for k, v in m.state_dict().items()}
              for name, m in (("student", distiller.student), ("teacher", distiller.teacher),
                              ("translator", distiller.translator), ("paraphraser", distiller.paraphraser))}
    fit(distiller, experiment.dataset_for(cfg), cfg, stage=stage)
    for name, module in (("student", distiller.student), ("teacher", distiller.teacher), ("translator", distiller.translator)):
        assert all(torch.equal(before[name][k], v) for k, v in module.state_dict().items()), name
    assert not all(torch.equal(before["paraphraser"][k], v) for k, v in distiller.paraphraser.state_dict().items())


def test_ft_main_stage_never_moves_the_paraphraser_or_the_teacher(tiny_config):
    cfg = tiny_config("ft")
    distiller = _build("ft", init_epochs=1)
    paraphraser = {k: v.clone() for k, v in distiller.paraphraser.state_dict().items()}
    teacher = {k: v.clone() for k, v in distiller.teacher.state_dict().items()}
    translator = distiller.translator[0].weight.clone()
    history = fit(distiller, experiment.dataset_for(cfg), cfg)
    assert len(history) == cfg.epochs
    assert all(torch.equal(paraphraser[k], v) for k, v in distiller.paraphraser.state_dict().items())
    assert all(torch.equal(teacher[k], v) for k, v in distiller.teacher.state_dict().items())
    assert not torch.equal(translator, distiller.translator[0].weight)
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    distiller.eval()
    s_map = distiller.student.forward_features(x).stages[-1]
    t_factor = distiller.paraphraser.encoder(distiller.teacher.forward_features(x).stages[-1])
    torch.testing.assert_close(distiller.forward_train(x, y)[1]["ft"], 200 * ft_loss(distiller.translator(s_map), t_factor))


def test_rkd_refuses_a_batch_whose_angle_term_would_not_fit_naming_the_parameter():
    assert make_config("rkd", "smoke", batch_size=MAX_BATCH).batch_size == MAX_BATCH
    with pytest.raises(ConfigError, match=r"^batch_size: method 'rkd' allows at most 512 \(RKD's angle term"):
        make_config("rkd", "smoke", batch_size=MAX_BATCH + 1)
