"""The book's constants: the settings and labels its pages share (so method names live here, in
the method files and in the reproduce plan, and nowhere else)."""

# The compatibility table (:func:`kdsrc.compatibility.compatibility`): each method's defaults, and
# FitNets across stages of different resolution.
COMPATIBILITY_SETTINGS = {
    "FitNets (stage 2 → 2)": ("fitnets", {}),
    "AT (stages 1-3)": ("at", {}),
    "FSP (stage pairs)": ("fsp", {}),
    "AB (stages 1-3)": ("ab", {}),
    "FitNets (student 1 → teacher 2)": ("fitnets", {"guided_layer": 1, "hint_layer": 2}),
    "FitNets (student 2 → teacher 1)": ("fitnets", {"guided_layer": 2, "hint_layer": 1}),
    "FitNets (student 3 → teacher 1)": ("fitnets", {"guided_layer": 3, "hint_layer": 1}),
}

# The book's methods as its summary tables label them (chapters 10 and 12), the student alone first.
METHOD_LABELS = {"student alone": "vanilla", "KD": "kd", "FitNets": "fitnets", "AT": "at", "FSP": "fsp",
                 "AB": "ab", "SRRL": "srrl", "DHKD": "dhkd", "CE + BinaryKL, one head": "ce_binary_kl"}


def method_names() -> dict[str, str]:
    """The label of each method id of :data:`METHOD_LABELS` (its inverse), for tables indexed by id."""
    return {method: name for name, method in METHOD_LABELS.items()}

# The run options beyond a method's defaults with which chapter 10 stored a method's runs, so
# that chapter 12 reads the same runs: the single-head CE + BinaryKL runs also measured their
# two losses' gradients (chapter 9; instrumentation, not part of the method, but in the run id).
MEASURED_RUNS = {"ce_binary_kl": {"measure_gradients": True}}
