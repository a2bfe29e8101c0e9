"""The ``cpu`` profile's retraining at the next training revision, while it is under way.

The book reads the ``cpu`` runs of training revision 1. Their successors (a teacher trained to its
plateau, students trained to convergence, tuned on a validation split) train at revision 2 with
the profile below. Every one of them depends on the new teacher, so the book cannot switch page
by page: until all are stored and the chapters are rewritten, they are kept in a results folder
of their own, ``results/retraining/``, committed as each run finishes, and the book keeps
reading revision 1.

``KDSRC_RETRAINING=1`` switches a process to the next revision: training revision
:data:`REVISION`, the ``cpu`` profile :data:`CPU_PROFILE` with its teacher schedule
:data:`CPU_TEACHER_SCHEDULE`, and :data:`RESULTS` as the default results folder. Unset (or
empty), nothing changes. The switch and this module go when the book switches over.
"""
import os
from pathlib import Path
from typing import Any

VARIABLE = "KDSRC_RETRAINING"
REVISION = 2
RESULTS = Path(__file__).resolve().parent.parent / "results" / "retraining"

# The teacher on all 55,000 training images (the other 5,000 are the validation split) for 30
# epochs, decayed x0.1 at 15 and 22, so its last fifth is a flat stretch its plateau is measured
# on; the students on a 5,000-image transfer set for 160 epochs (the length the convergence study
# supports, chapter 1), evaluated on validation and test 10 times.
CPU_PROFILE: dict[str, Any] = dict(dataset="fashion_mnist", train_subset=5000, val_size=5000, epochs=160,
                                   evaluations=10, model="resnet8", teacher="resnet14", teacher_epochs=30,
                                   teacher_train_subset=None)
CPU_TEACHER_SCHEDULE: dict[str, Any] = dict(schedule="step", milestones=(15, 22))


def active() -> bool:
    """Whether ``$KDSRC_RETRAINING`` switches this process to the next revision ("1"; unset or "" does not)."""
    value = os.environ.get(VARIABLE, "")
    if value not in ("", "1"):
        raise ValueError(f"{VARIABLE}: must be 1 (train and read the cpu profile's next revision) or unset, "
                         f"got {value!r}")
    return value == "1"


ACTIVE = active()
