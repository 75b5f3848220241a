"""The specialist of each data kind, fitted as a practitioner would, with its library's defaults.

These are the anchors the search is judged against (issue 21), not bound to T: each reports its
own fit-and-predict time. Sequences get aeon's MiniRocket (its ridge head, as shipped); tables
and images (flattened to pixels) get scikit-learn's HistGradientBoosting and a random forest.

    from benchmarks.specialists import SPECIALISTS, fit_score
    fit_score("hgb", "wine", seed=0)  # {"test_accuracy": ..., "fit_predict_s": ...}
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.suite import SUITE

# method -> the suite kinds it is the specialist of
SPECIALISTS: dict[str, tuple[str, ...]] = {
    "minirocket": ("sequence", "multichannel"),
    "hgb": ("tabular", "image"),
    "rf": ("tabular", "image"),
}


def applies(method: str, name: str) -> bool:
    """Whether ``method`` is a specialist that has something to say on set ``name``: false for
    a search method, and for a specialist of another kind of data."""
    return SUITE[name].kind in SPECIALISTS.get(method, (SUITE[name].kind,))


def _model(method: str, seed: int) -> Any:
    if method == "minirocket":
        from aeon.classification.convolution_based import MiniRocketClassifier

        return MiniRocketClassifier(random_state=seed, n_jobs=1)
    if method == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    if method == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, n_jobs=1)
    raise ValueError(f"unknown specialist {method!r}; choose from {', '.join(SPECIALISTS)}")


def fit_score(method: str, name: str, seed: int) -> dict[str, Any]:
    """Test accuracy of ``method`` fitted on set ``name``'s training split, and its fit and
    predict seconds. MiniRocket's first fit compiles numba kernels: it is timed apart
    (``first_fit_s``) from a second, warm fit whose model is the one scored."""
    x, y, x_test, y_test = SUITE[name].load()
    if SUITE[name].kind not in SPECIALISTS["minirocket"]:
        x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    extra: dict[str, Any] = {}
    if method == "minirocket":
        t = time.perf_counter()
        _model(method, seed).fit(x, y).predict(x_test[:2])
        extra["first_fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    clf = _model(method, seed).fit(x, y)
    acc = float((clf.predict(x_test) == y_test).mean())
    return {"test_accuracy": acc, "fit_predict_s": time.perf_counter() - t, **extra}
