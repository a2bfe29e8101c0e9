"""The model zoo: RepDistiller's parameter counts, both input sizes, and forward_features taps."""
import pytest
import torch
import torch.nn.functional as F

from kdsrc.models import MODELS, build_model, count_parameters

# RepDistiller's CIFAR-100 models (100 classes, 3 channels), parameters in millions.
REPDISTILLER_MILLIONS = {
    "resnet8": 0.08, "resnet14": 0.18, "resnet20": 0.28, "resnet32": 0.47, "resnet44": 0.67,
    "resnet56": 0.86, "resnet110": 1.74, "resnet8x4": 1.23, "resnet32x4": 7.43,
    "wrn_16_1": 0.18, "wrn_16_2": 0.70, "wrn_40_1": 0.57, "wrn_40_2": 2.26,
    "vgg8": 3.97, "vgg11": 9.28, "vgg13": 9.46, "vgg16": 14.77, "vgg19": 20.09,
    "MobileNetV2": 0.81, "ShuffleV1": 0.95, "ShuffleV2": 1.36, "ResNet50": 23.71,
}
# Exact counts of RepDistiller's own models/*.py (built and counted with a 100-class head).
EXACT = {"resnet8": 83892, "resnet20": 278324, "resnet32x4": 7433860, "wrn_40_2": 2255156,
         "vgg8": 3965028, "vgg13": 9462180, "MobileNetV2": 812836, "ShuffleV1": 949258, "ShuffleV2": 1355528,
         "ResNet50": 23705252}
# (stem, stage1, stage2, stage3) channels
CHANNELS = {"resnet8": (16, 16, 32, 64), "resnet8x4": (32, 64, 128, 256), "wrn_16_2": (16, 32, 64, 128),
            "wrn_40_1": (16, 16, 32, 64)}


def test_zoo_is_exactly_repdistillers_model_list():
    assert set(MODELS) == set(REPDISTILLER_MILLIONS)


@pytest.mark.parametrize("name", sorted(REPDISTILLER_MILLIONS))
def test_parameter_count_matches_repdistiller(name):
    count = count_parameters(build_model(name, num_classes=100, in_channels=3))
    assert round(count / 1e6, 2) == REPDISTILLER_MILLIONS[name]
    if name in EXACT:
        assert count == EXACT[name]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=["1x28x28", "3x32x32"])
def test_forward_gives_one_logit_row_per_image(name, shape):
    model = build_model(name, num_classes=10, in_channels=shape[0]).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_features_logits_equal_forward_in_eval_mode(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=10, in_channels=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = model.forward_features(x)
        torch.testing.assert_close(feats.logits, model(x), rtol=0, atol=1e-6)
    assert feats.pooled.shape == (2, model.fc.in_features)


@pytest.mark.parametrize("name", sorted(CHANNELS))
@pytest.mark.parametrize("size", [32, 28])
def test_forward_features_has_stem_and_three_stages_with_expected_shapes(name, size):
    model = build_model(name, num_classes=10, in_channels=3).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 3, size, size))
    half, quarter = (size + 1) // 2, (size + 3) // 4
    expected = [(2, c, s, s) for c, s in zip(CHANNELS[name], (size, size, half, quarter))]
    assert [tuple(t.shape) for t in feats.stages] == expected
    assert [tuple(t.shape) for t in feats.preacts] == expected


def test_resnet8x4_stage_shapes_on_cifar_input():
    with torch.no_grad():
        feats = build_model("resnet8x4", 100).eval().forward_features(torch.randn(1, 3, 32, 32))
    assert [tuple(t.shape[1:]) for t in feats.stages] == [(32, 32, 32), (64, 32, 32), (128, 16, 16), (256, 8, 8)]


@pytest.mark.parametrize("name", ["resnet8", "resnet20", "resnet8x4", "vgg8", "ShuffleV1", "ShuffleV2", "ResNet50"])
def test_stage_is_relu_of_its_preact(name):
    model = build_model(name, num_classes=10, in_channels=3).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 3, 32, 32))
    for stage, pre in zip(feats.stages, feats.preacts):
        torch.testing.assert_close(F.relu(pre), stage, rtol=0, atol=0)
    assert all((pre < 0).any() for pre in feats.preacts[1:])  # a real pre-activation, not the output again


def test_wrn_preact_is_the_next_bn_of_the_stage_output():
    model = build_model("wrn_16_1", num_classes=10, in_channels=3).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 3, 32, 32))
        torch.testing.assert_close(feats.preacts[-1], model.bn(feats.stages[-1]))
        torch.testing.assert_close(feats.preacts[1], model.stages[1][0].bn1(feats.stages[1]))


# RepDistiller's feats[:-1] on a 3x32x32 input: (channels, side) of the stem, then of each stage.
VGG_TAPS = [(64, 32), (128, 16), (256, 8), (512, 4), (512, 4)]
TAPS = {
    **{name: VGG_TAPS for name in ("vgg8", "vgg11", "vgg13", "vgg16", "vgg19")},
    "MobileNetV2": [(16, 16), (12, 16), (16, 8), (48, 4), (160, 2)],
    "ShuffleV1": [(24, 32), (240, 16), (480, 8), (960, 4)],
    "ShuffleV2": [(24, 32), (116, 16), (232, 8), (464, 4)],
    "ResNet50": [(64, 32), (256, 32), (512, 16), (1024, 8), (2048, 4)],
}
# The width of the pooled vector the classifier reads (RepDistiller's feats[-1]).
POOLED = {**{name: 512 for name in ("vgg8", "vgg11", "vgg13", "vgg16", "vgg19")},
          "MobileNetV2": 1280, "ShuffleV1": 960, "ShuffleV2": 1024, "ResNet50": 2048}


@pytest.mark.parametrize("name", sorted(TAPS))
def test_taps_are_repdistillers_on_cifar_input(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=100).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = model.forward_features(x)
        torch.testing.assert_close(feats.logits, model(x), rtol=0, atol=1e-6)
    assert [tuple(t.shape) for t in feats.stages] == [(2, c, s, s) for c, s in TAPS[name]]
    assert [t.shape for t in feats.preacts] == [t.shape for t in feats.stages]
    assert feats.pooled.shape == (2, model.fc.in_features) and model.fc.in_features == POOLED[name]
    assert feats.logits.shape == (2, 100)


@pytest.mark.parametrize("name", sorted(TAPS))
def test_taps_on_a_one_channel_28x28_input_keep_their_channels(name):
    model = build_model(name, num_classes=10, in_channels=1).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 1, 28, 28))
    assert [t.shape[1] for t in feats.stages] == [c for c, _ in TAPS[name]]
    assert feats.logits.shape == (2, 10)


def test_mobilenetv2_preacts_are_its_linear_stage_outputs_and_the_stem_before_relu():
    model = build_model("MobileNetV2", num_classes=10).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(F.relu(feats.preacts[0]), feats.stages[0], rtol=0, atol=0)
    assert all(pre is stage for pre, stage in zip(feats.preacts[1:], feats.stages[1:]))
    assert all((stage < 0).any() for stage in feats.stages[1:])  # linear bottlenecks: no ReLU after a stage


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", *sorted(TAPS)])
def test_stage_modules_hold_exactly_the_parameters_each_tap_depends_on(name):
    model = build_model(name, num_classes=10).eval()
    modules = model.stage_modules()
    feats = model.forward_features(torch.randn(2, 3, 32, 32))
    assert len(modules) == len(feats.stages)
    for k in (1, len(modules) - 1):
        model.zero_grad(set_to_none=True)
        feats.stages[k].sum().backward(retain_graph=True)
        used = {id(p) for p in model.parameters() if p.grad is not None}
        assert used == {id(p) for m in modules[:k + 1] for p in m.parameters()}


def test_unknown_model_name_raises_value_error_naming_model():
    with pytest.raises(ValueError, match="model"):
        build_model("resnet9000", num_classes=10)
