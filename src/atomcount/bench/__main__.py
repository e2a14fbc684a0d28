"""Run benchmarks by name: ``python -m atomcount.bench NAME [NAME …]`` or ``all``.

Each benchmark runs in its own interpreter (some fix their thread counts before NumPy or
torch is imported) with the default arguments of its module; run a module directly
(``python -m atomcount.bench.hrtem_accuracy --help``) for its options.
"""
from __future__ import annotations

import subprocess
import sys

BENCHMARKS: dict[str, str] = {
    "hrtem-sim": "atomcount.bench.hrtem_sim",
    "hrtem-accuracy": "atomcount.bench.hrtem_accuracy",
    "hrtem-wholeframe": "atomcount.bench.hrtem_wholeframe",
    "hrtem-precision": "atomcount.bench.hrtem_precision",
    "hrtem-train-precision": "atomcount.bench.hrtem_train_precision",
    "hrtem-threshold": "atomcount.bench.hrtem_threshold",
    "hrtem-fit-gap": "atomcount.bench.hrtem_fit_gap",
    "hrtem-focus-check": "atomcount.bench.hrtem_focus_check",
    "model3d": "atomcount.bench.model3d",
    "ppiscs-library": "atomcount.bench.ppiscs_library",
    "ppiscs-surrogate": "atomcount.bench.ppiscs_surrogate",
    "ppiscs-capacity": "atomcount.bench.ppiscs_capacity",
    "ppiscs-columns": "atomcount.bench.ppiscs_columns",
    "stem-accuracy": "atomcount.bench.stem_accuracy",
    "movie": "atomcount.bench.movie",
    "real-stem": "atomcount.bench.real_stem",
    "stem-speed": "atomcount.bench.stem_speed",
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks in order; return the first non-zero exit status, else 0."""
    names = list(BENCHMARKS) if argv in ([], ["all"]) else argv
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; choose from all, {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name} ==", flush=True)
        rc = subprocess.call([sys.executable, "-m", BENCHMARKS[name]])
        if rc:
            print(f"error: benchmark {name} failed with exit status {rc}", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
