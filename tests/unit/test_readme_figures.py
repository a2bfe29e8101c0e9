"""The speed figures the README quotes are the stored comparison's, not typed targets."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quotes_the_stored_ratios_of_our_loop_to_repdistillers_and_their_ranges():
    stored = json.loads((ROOT / "results" / "bench" / "paper" / "reference_loop.json").read_text())
    readme = " ".join((ROOT / "README.md").read_text().split())
    pair = stored["paper_pair"]
    for name in ("ratio", "ratio_cached"):
        spread = pair["ratio_spread"][name]
        assert f"{pair[name]:.2f}×" in readme
        assert f"{spread['min']:.2f} to {spread['max']:.2f}" in readme
    assert stored["finished_utc"][:10] in readme
    rates = pair["gflop_s"]
    assert f"about {round(sum(rates.values()) / len(rates), -1):.0f} GFLOP/s" in readme
