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
