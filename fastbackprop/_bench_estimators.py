"""The bench's scikit-learn section: the swapped import against scikit-learn's
own ``MLPClassifier``, side by side in one run.

Both classifiers get scikit-learn's defaults (100 hidden units, and
``random_state=0``) on the 8x8 digits, standardised, with the default
solver (Adam) and with lbfgs; the fits take turns, best of N. With an int
``random_state`` both start from the same weights, so they run about the
same number of epochs and reach about the same accuracy: the table shows
both.
"""

from __future__ import annotations

import time
import warnings

SOLVERS = ("adam", "lbfgs")
#: a pause between turns: NumPy's OpenBLAS workers spin for about 0.1 s
#: after a call and would slow the next engine (docs/decisions.md)
PAUSE_S = 0.3


def compare(repeats: int) -> list | None:
    """One row per solver: each library's best fit time (ms), epochs or
    iterations and training accuracy, and the speed ratio; None without
    scikit-learn."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier as Reference
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    from .estimators import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rows = []
    for solver in SOLVERS:
        engines = {"scikit-learn": Reference, "fastbackprop": MLPClassifier}
        best = {name: float("inf") for name in engines}
        fitted = {}
        for _ in range(repeats):
            for name, estimator in engines.items():
                model = estimator(solver=solver, random_state=0)
                time.sleep(PAUSE_S)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    model.fit(X, y)
                    best[name] = min(best[name], time.perf_counter() - start)
                fitted[name] = model
        rows.append(
            {
                "solver": solver,
                **{f"{name} ms": best[name] * 1e3 for name in engines},
                **{f"{name} n_iter": fitted[name].n_iter_ for name in engines},
                **{f"{name} accuracy": fitted[name].score(X, y) for name in engines},
                "speed-up": best["scikit-learn"] / best["fastbackprop"],
            }
        )
    return rows


def format_rows(rows: list) -> str:
    """The section as a Markdown table."""
    lines = [
        "scikit-learn's MLPClassifier against fastbackprop.estimators.MLPClassifier "
        "(defaults, random_state=0, 8x8 digits standardised, best fit of the turns):",
        "",
        "| solver | scikit-learn ms | fastbackprop ms | speed-up | n_iter (sk / fb) "
        "| training accuracy (sk / fb) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['solver']} | {row['scikit-learn ms']:.1f} | {row['fastbackprop ms']:.1f} "
            f"| {row['speed-up']:.2f}x | {row['scikit-learn n_iter']} / "
            f"{row['fastbackprop n_iter']} | {row['scikit-learn accuracy']:.4f} / "
            f"{row['fastbackprop accuracy']:.4f} |"
        )
    return "\n".join(lines)
