"""Which intermediate-layer methods pair a student with each teacher, and at what connector cost."""
import pytest

from kdsrc.compatibility import compatibility
from kdsrc.config import make_config
from kdsrc.data import dataset_for


@pytest.fixture(scope="module")
def smoke_data():
    return dataset_for(make_config("vanilla", "smoke"))


def test_compatibility_counts_connectors_and_names_refusals(smoke_data):
    table = compatibility("resnet8", ["resnet14", "wrn_16_2", "resnet8x4"], smoke_data).set_index("method")
    assert table.loc["AT (stages 1-3)"].tolist() == ["0", "0", "0"]  # attention maps need no connector
    assert table.loc["FSP (stage pairs)", "← resnet14"] == "0"
    assert table.loc["FSP (stage pairs)", "← wrn_16_2"].startswith("refuses: method: fsp needs equal channels")
    assert table.loc["AB (stages 1-3)", "← resnet14"] == "0"  # identity connectors for equal channels
    # AB on resnet8x4: stages 1-3 are 16->64, 32->128, 64->256 channels: a 1x1 conv without bias + BN each
    expected = sum(s * t + 2 * t for s, t in ((16, 64), (32, 128), (64, 256)))
    assert table.loc["AB (stages 1-3)", "← resnet8x4"] == f"{expected:,}"
    # FitNets regressor at stage 2 for equal shapes: 1x1 conv 32->32 with bias, BN
    assert table.loc["FitNets (stage 2 → 2)", "← resnet14"] == f"{32 * 32 + 32 + 2 * 32:,}"
    # stage 3 of the student (7x7) cannot be regressed onto stage 1 of the teacher (28x28)
    assert table.loc["FitNets (student 3 → teacher 1)", "← resnet14"].startswith("refuses: hint_layer:")
